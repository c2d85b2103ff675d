# Presses TAB once in an interactive zsh: prints what the command line reads afterwards.
# Usage: zsh -f zsh_tab.zsh COMPLETION_SCRIPT 'LINE TO COMPLETE'
# The line runs in a pseudo-terminal (zsh/zpty) with compinit and the script loaded; after the TAB, the keys
# Ctrl-A and Ctrl-E wrap the edited line in `print -r -- "<<<" LINE ">>>"`, and Enter runs it.
zmodload zsh/zpty || exit 3
zpty shell 'zsh -f -i' || exit 3
# bindkey -e: zsh picks vi keys when EDITOR names vi (npm sets EDITOR=vi), and Ctrl-A/Ctrl-E below are emacs keys.
zpty -w shell "PS1='> '; bindkey -e; autoload -U compinit; compinit -u -D; source ${(q)1}"
# Waits until the setup has run (the echoed input says `${(U):-ready}`, only the output says READY): a TAB
# typed while compinit still loads on a busy machine would be lost.
zpty -w shell 'print -r -- ${(U):-ready}'
zpty -r shell ready '*READY*' || exit 5
zpty -w -n shell "$2"$'\t'
sleep 2
zpty -w -n shell $'\x01print -r -- "<<<" \x05 ">>>"\n'
zpty -r shell output '*<<< *>>>*' || exit 4
zpty -d shell
output=${output##*<<< }
print -r -- "${output%%>>>*}"
