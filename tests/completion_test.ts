/**
 * `backy2 completion bash|zsh|fish`, used as a shell uses it: bash through its completion function with
 * COMP_WORDS set as bash sets them, zsh by pressing TAB in an interactive zsh on a pseudo-terminal
 * (tests/completion/zsh_tab.zsh), fish through `complete -C`. Commands, flags, choices and, from a sandbox
 * catalog given with `-c`, version uids and names complete; an unknown shell is a usage error.
 */
import { BACKY2_SPEC } from "../src/cli/spec.ts";
import { assertEquals, BACKY2, expectRun, ROOT, runBacky, Sandbox } from "./helpers.ts";
import { ensureCommands } from "./debian.ts";

const decoder = new TextDecoder();

/** The script `backy2 completion SHELL` prints, saved in `dir`. */
async function script(shell: string, dir: string): Promise<string> {
  const result = await runBacky(["completion", shell]);
  expectRun(result, { code: 0, stderr: "" });
  const path = `${dir}/backy2.${shell}`;
  await Deno.writeTextFile(path, result.stdout);
  return path;
}

async function output(program: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const done = await new Deno.Command(program, { args, cwd: ROOT, stdout: "piped", stderr: "piped" }).output();
  return { code: done.code, stdout: decoder.decode(done.stdout), stderr: decoder.decode(done.stderr) };
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

/** A sandbox with two versions: "vm1" and "web server" (a name that needs quoting). */
async function sandboxWithVersions(): Promise<{ sb: Sandbox; uids: string[] }> {
  const sb = await Sandbox.create();
  await Deno.writeFile(sb.path("disk.img"), crypto.getRandomValues(new Uint8Array(10000)));
  const uids = [await sb.backup([sb.url("disk.img"), "vm1"]), await sb.backup([sb.url("disk.img"), "web server"])];
  return { sb, uids: uids.sort() };
}

const spec = (name: string) => BACKY2_SPEC.commands.find((c) => c.name === name)!;
const optionStrings = (
  options: { short?: string; long: string }[],
) => ["-h", "--help", ...options.flatMap((o) => o.short ? [o.short, o.long] : [o.long])];

Deno.test("completion: an unknown shell is a usage error (exit 2); no config is read", async () => {
  const wrong = await runBacky(["completion", "tcsh"]);
  expectRun(wrong, {
    code: 2,
    stdout: "",
    stderr: "usage: backy2 completion [-h] {bash,zsh,fish}\n" +
      "backy2 completion: error: argument shell: invalid choice: 'tcsh' (choose from 'bash', 'zsh', 'fish')\n",
  });
  const noConfig = await runBacky(["-c", "/nonexistent/backy.cfg", "completion", "bash"]);
  expectRun(noConfig, { code: 0, stderr: "" });
  const help = await runBacky(["--help"]);
  expectRun(help, { code: 0, stdout: /\n {4}completion {10}Print a shell completion script/ });
});

Deno.test("completion bash: commands, flags, choices, version uids and names", async () => {
  const { sb, uids } = await sandboxWithVersions();
  try {
    const path = await script("bash", sb.dir);
    // Sets COMP_WORDS/COMP_CWORD as bash does for the words given (the last one is being completed).
    const driver = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); ' +
      '_backy2; printf "%s\\n" "${COMPREPLY[@]}"';
    const complete = async (...words: string[]) => {
      const result = await output("bash", ["-c", driver, "bash", path, ...words]);
      assertEquals(result.stderr, "", words.join(" "));
      return lines(result.stdout);
    };
    assertEquals(await complete("backy2", "res"), ["restore"]);
    assertEquals(await complete("backy2", ""), BACKY2_SPEC.commands.map((c) => c.name));
    assertEquals(await complete("backy2", "-"), optionStrings(BACKY2_SPEC.globals));
    assertEquals(await complete("backy2", "restore", "-"), optionStrings(spec("restore").options));
    assertEquals(await complete("backy2", "-ms", "backup", "--f"), ["--from-version"]);
    assertEquals(await complete("backy2", "completion", ""), ["bash", "zsh", "fish"]);
    assertEquals(await complete(BACKY2, "-c", sb.config, "restore", "-s", ""), uids);
    assertEquals(await complete(BACKY2, "-c", sb.config, "restore", uids[1].slice(0, 6)), [uids[1]]);
    assertEquals(await complete(BACKY2, "-c", sb.config, "diff-meta", uids[0], ""), uids);
    assertEquals(await complete(BACKY2, "-mc", sb.config, "backup", "-f", ""), uids);
    assertEquals(await complete(BACKY2, `--configfile=${sb.config}`, "ls", ""), ["vm1", "web\\ server"]);
    assertEquals(await complete(BACKY2, "-c", sb.config, "backup", "-s", "snap", "file:///x", "w"), ["web\\ server"]);
    assertEquals(await complete(BACKY2, "-c", sb.config, "restore", uids[0], ""), []);
    assertEquals(await complete(BACKY2, "-c", sb.config, "enforce", "latest3", "vm1", ""), ["vm1", "web\\ server"]);
    assertEquals(await complete(BACKY2, "-c", sb.config, "add-tag", uids[0], ""), []);
    assertEquals(await complete("backy2", "-c", `${sb.dir}/backy.c`), [sb.config]);
  } finally {
    await sb.remove();
  }
});

Deno.test("completion zsh: the script parses, and TAB in an interactive zsh completes", async () => {
  await ensureCommands({ zsh: "zsh" });
  const { sb, uids } = await sandboxWithVersions();
  try {
    const path = await script("zsh", sb.dir);
    const parsed = await output("zsh", ["-n", path]);
    assertEquals([parsed.code, parsed.stderr], [0, ""]);
    const tab = async (line: string) => {
      const result = await output("timeout", ["30", "zsh", "-f", `${ROOT}/tests/completion/zsh_tab.zsh`, path, line]);
      assertEquals(result.code, 0, `zsh TAB after ${line}: ${result.stderr}`);
      return result.stdout.trimEnd();
    };
    assertEquals(await tab("backy2 res"), "backy2 restore");
    assertEquals(await tab("backy2 restore --sp"), "backy2 restore --sparse");
    assertEquals(await tab("backy2 completion f"), "backy2 completion fish");
    assertEquals(await tab("backy2 cleanup --dang"), "backy2 cleanup --dangerous-force");
    assertEquals(
      await tab(`${BACKY2} -c ${sb.config} restore ${uids[0].slice(0, 6)}`),
      `${BACKY2} -c ${sb.config} restore ${uids[0]}`,
    );
    assertEquals(await tab(`${BACKY2} -mc ${sb.config} ls we`), `${BACKY2} -mc ${sb.config} ls web server`);
    assertEquals(
      await tab(`${BACKY2} -c ${sb.config} enforce latest3 vm1 we`),
      `${BACKY2} -c ${sb.config} enforce latest3 vm1 web server`,
    );
  } finally {
    await sb.remove();
  }
});

Deno.test("completion fish: the script parses, and complete -C completes", async () => {
  await ensureCommands({ fish: "fish" });
  const { sb, uids } = await sandboxWithVersions();
  try {
    const path = await script("fish", sb.dir);
    const parsed = await output("fish", ["-n", path]);
    assertEquals([parsed.code, parsed.stderr], [0, ""]);
    const complete = async (line: string) => {
      const result = await output("fish", ["-c", `source ${path}; complete -C ${JSON.stringify(line)}`]);
      assertEquals(result.stderr, "", line);
      // fish orders candidates its own way (natural sort).
      return lines(result.stdout).map((entry) => entry.split("\t")[0]).sort();
    };
    assertEquals(await complete("backy2 res"), ["restore"]);
    assertEquals(await complete("backy2 restore -"), optionStrings(spec("restore").options).sort());
    assertEquals(await complete("backy2 completion "), ["bash", "fish", "zsh"]);
    assertEquals(await complete(`${BACKY2} -c ${sb.config} restore `), uids);
    assertEquals(await complete(`${BACKY2} -c ${sb.config} ls `), ["vm1", "web server"]);
    assertEquals(await complete(`${BACKY2} -c ${sb.config} backup -f `), uids);
    assertEquals(await complete(`${BACKY2} -c ${sb.config} enforce latest3 vm1 `), ["vm1", "web server"]);
    assertEquals(await complete(`${BACKY2} -c ${sb.config} enforce `), []);
  } finally {
    await sb.remove();
  }
});
