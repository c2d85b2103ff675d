/**
 * A small declarative work-alike of Python 3.11's argparse, as backy2 uses it.
 *
 * backy2 users' scripts depend on argparse's exact behaviour: global options only before the
 * subcommand, clustered short flags (`-ms`), `-xVALUE` / `--long=VALUE`, unambiguous long-option
 * prefixes (`--conf`), `--` ending options, and argparse's usage, help and error texts with exit
 * code 2. This module reproduces argparse's parsing algorithm step by step (classify every argument
 * as option `O`, argument `A` or `--` marker `-`, then consume options and regex-matched runs of
 * positionals) so that its corner cases come out the same, including the odd ones: the top-level
 * parser classifies the whole command line, so an ambiguous prefix after the subcommand is reported
 * by the top-level parser, and unrecognized arguments are reported by the top-level parser too.
 */

/** An option. `short` (`"-s"`) and `long` (`"--snapshot-name"`) include their dashes. */
export interface OptionSpec {
  short?: string;
  long: string;
  dest: string;
  kind: "flag" | "value";
  /** Defaults to the long name without dashes, `-` → `_`, upper-cased (argparse's dest-based metavar). */
  metavar?: string;
  help: string;
  default?: string | boolean;
  /** When given, the program may run without a subcommand (command `""`), like backy2's `-V`. */
  standalone?: boolean;
}

/**
 * A positional argument; `optional` is argparse's `nargs='?'`, `many` its `nargs='*'` (a list, maybe empty),
 * `choices` argparse's `choices=`.
 */
export interface PositionalSpec {
  name: string;
  help: string;
  optional?: boolean;
  many?: boolean;
  choices?: string[];
}

export interface CommandSpec {
  name: string;
  help: string;
  options: OptionSpec[];
  positionals: PositionalSpec[];
}

export interface ProgramSpec {
  prog: string;
  description: string;
  /** Text after the option and command lists of `-h` (argparse's `epilog`). */
  epilog?: string;
  globals: OptionSpec[];
  commands: CommandSpec[];
}

export type Values = Record<string, string | string[] | boolean | undefined>;

/**
 * `run`: parsed values by dest (flags boolean, value options string or their default, positionals by
 * name). `exit`: what argparse would print and the exit code — help (0), no subcommand (usage on
 * stdout, 1), parse errors (usage and `prog: error: message` on stderr, 2).
 */
export type ParseResult =
  | { kind: "run"; globals: Values; command: string; args: Values }
  | { kind: "exit"; code: number; stdout: string; stderr: string };

// ---------------------------------------------------------------------------------------------
// Parser model

interface Optional {
  strings: string[];
  dest: string;
  kind: "flag" | "value" | "help";
  metavar: string;
  help: string;
  default: string | boolean | undefined;
  standalone: boolean;
}

interface Positional {
  /** `commands` is the subparsers action: argparse nargs `PARSER`, shown as `{a,b,...} ...`. */
  kind: "positional" | "commands";
  name: string;
  help: string;
  optional: boolean;
  many: boolean;
  choices?: string[];
}

interface Parser {
  prog: string;
  description: string;
  epilog?: string;
  optionals: Optional[];
  positionals: Positional[];
  byString: Map<string, Optional>;
  commands: Map<string, Parser>;
  commandHelp: Map<string, string>;
}

const HELP_OPTION: Optional = {
  strings: ["-h", "--help"],
  dest: "help",
  kind: "help",
  metavar: "",
  help: "show this help message and exit",
  default: undefined,
  standalone: false,
};

function toOptional(spec: OptionSpec): Optional {
  const metavar = spec.metavar ?? spec.long.replace(/^-+/, "").replaceAll("-", "_").toUpperCase();
  const fallback = spec.kind === "flag" ? false : undefined;
  return {
    strings: spec.short === undefined ? [spec.long] : [spec.short, spec.long],
    dest: spec.dest,
    kind: spec.kind,
    metavar,
    help: spec.help,
    default: spec.default ?? fallback,
    standalone: spec.standalone ?? false,
  };
}

function makeParser(prog: string, description: string, options: OptionSpec[], positionals: Positional[]): Parser {
  const optionals = [HELP_OPTION, ...options.map(toOptional)];
  const byString = new Map<string, Optional>();
  for (const option of optionals) for (const s of option.strings) byString.set(s, option);
  return { prog, description, optionals, positionals, byString, commands: new Map(), commandHelp: new Map() };
}

function buildParser(spec: ProgramSpec): Parser {
  const choices = `{${spec.commands.map((c) => c.name).join(",")}}`;
  const commandsAction: Positional = { kind: "commands", name: choices, help: "", optional: true, many: false };
  const top = makeParser(spec.prog, spec.description, spec.globals, [commandsAction]);
  top.epilog = spec.epilog;
  for (const command of spec.commands) {
    const positionals = command.positionals.map((p): Positional => ({
      kind: "positional",
      name: p.name,
      help: p.help,
      optional: (p.optional ?? false) || (p.many ?? false),
      many: p.many ?? false,
      choices: p.choices,
    }));
    top.commands.set(command.name, makeParser(`${spec.prog} ${command.name}`, "", command.options, positionals));
    top.commandHelp.set(command.name, command.help);
  }
  return top;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** A parse error, reported by `parser` (its usage and prog prefix the message). */
class ArgError extends Error {
  constructor(readonly parser: Parser, message: string) {
    super(message);
  }
}

class HelpRequested extends Error {
  constructor(readonly parser: Parser) {
    super("help");
  }
}

/** How one command line word was classified; `option` undefined = looks like an unknown option. */
interface OptionMatch {
  option: Optional | undefined;
  string: string;
  explicit: string | undefined;
}

interface Parsed {
  values: Values;
  extras: string[];
  command?: { name: string; values: Values };
}

/** Python `repr()` of a str, as argparse puts it in messages. */
export function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || (code >= 0x7f && code <= 0xa0)) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += ch;
  }
  return quote + out + quote;
}

function optionName(option: Optional): string {
  return option.strings.join("/");
}

/** Candidates for a word that is not exactly an option string (argparse `_get_option_tuples`). */
function optionTuples(parser: Parser, arg: string): OptionMatch[] {
  const out: OptionMatch[] = [];
  if (arg.startsWith("--")) {
    const eq = arg.indexOf("=");
    const prefix = eq >= 0 ? arg.slice(0, eq) : arg;
    const explicit = eq >= 0 ? arg.slice(eq + 1) : undefined;
    for (const [s, option] of parser.byString) {
      if (s.startsWith(prefix)) out.push({ option, string: s, explicit });
    }
    return out;
  }
  const short = arg.slice(0, 2);
  for (const [s, option] of parser.byString) {
    if (s === short) out.push({ option, string: s, explicit: arg.slice(2) });
    else if (s.startsWith(arg)) out.push({ option, string: s, explicit: undefined });
  }
  return out;
}

/** argparse `_parse_optional`: undefined means the word is a positional argument. */
function classify(parser: Parser, arg: string): OptionMatch | undefined {
  if (arg === "" || arg[0] !== "-") return undefined;
  const exact = parser.byString.get(arg);
  if (exact) return { option: exact, string: arg, explicit: undefined };
  if (arg.length === 1) return undefined;
  const eq = arg.indexOf("=");
  const head = eq >= 0 ? parser.byString.get(arg.slice(0, eq)) : undefined;
  if (head) return { option: head, string: arg.slice(0, eq), explicit: arg.slice(eq + 1) };
  const tuples = optionTuples(parser, arg);
  if (tuples.length > 1) {
    const matches = tuples.map((t) => t.string).join(", ");
    throw new ArgError(parser, `ambiguous option: ${arg} could match ${matches}`);
  }
  if (tuples.length === 1) return tuples[0];
  // Python's `$` also matches before a final newline.
  if (/^-\d+\n?$|^-\d*\.\d+\n?$/.test(arg)) return undefined;
  if (arg.includes(" ")) return undefined;
  return { option: undefined, string: arg, explicit: undefined };
}

/** The regex argparse matches a positional's share of the `OA-` pattern string with. */
function nargsPattern(positional: Positional): string {
  if (positional.kind === "commands") return "(-*A[-AO]*)";
  if (positional.many) return "(-*[A-]*)";
  return positional.optional ? "(-*A?-*)" : "(-*A-*)";
}

/** argparse `_match_arguments_partial`: how many words each of the leading positionals takes. */
function matchPartial(positionals: Positional[], pattern: string): number[] {
  for (let i = positionals.length; i > 0; i--) {
    const regex = new RegExp("^" + positionals.slice(0, i).map(nargsPattern).join(""));
    const match = regex.exec(pattern);
    if (match) return match.slice(1).map((group) => group.length);
  }
  return [];
}

/** One run of argparse `_parse_known_args` over the words given to one parser. */
class ParseRun {
  private readonly pattern: string;
  private readonly matches = new Map<number, OptionMatch>();
  private readonly values: Values = {};
  private readonly extras: string[] = [];
  private readonly subExtras: string[] = [];
  private readonly seen = new Set<Positional>();
  private pending: Positional[];
  private command?: { name: string; values: Values };

  constructor(private readonly parser: Parser, private readonly args: string[]) {
    this.pending = [...parser.positionals];
    for (const option of parser.optionals) if (option.kind !== "help") this.values[option.dest] = option.default;
    for (const positional of parser.positionals) {
      if (positional.kind === "positional") this.values[positional.name] = undefined;
    }
    this.pattern = this.classifyAll();
  }

  private classifyAll(): string {
    let pattern = "";
    for (let i = 0; i < this.args.length; i++) {
      if (this.args[i] === "--") return pattern + "-" + "A".repeat(this.args.length - i - 1);
      const match = classify(this.parser, this.args[i]);
      if (match) this.matches.set(i, match);
      pattern += match ? "O" : "A";
    }
    return pattern;
  }

  run(): Parsed {
    const indices = [...this.matches.keys()];
    const lastOption = indices.length > 0 ? Math.max(...indices) : -1;
    let start = 0;
    while (start <= lastOption) {
      const next = Math.min(...indices.filter((i) => i >= start));
      if (start !== next) {
        const end = this.consumePositionals(start);
        const progressed = end > start;
        start = end;
        if (progressed) continue;
      }
      if (!this.matches.has(start)) {
        this.extras.push(...this.args.slice(start, next));
        start = next;
      }
      start = this.consumeOptional(start);
    }
    this.extras.push(...this.args.slice(this.consumePositionals(start)));
    this.checkRequired();
    return { values: this.values, extras: [...this.extras, ...this.subExtras], command: this.command };
  }

  private error(option: Optional, message: string): ArgError {
    return new ArgError(this.parser, `argument ${optionName(option)}: ${message}`);
  }

  /** Consumes the option at `start` (a short-flag cluster may hold several) and its argument. */
  private consumeOptional(start: number): number {
    let { option, string, explicit } = this.matches.get(start)!;
    const taken: [Optional, string[]][] = [];
    for (;;) {
      if (option === undefined) {
        this.extras.push(this.args[start]);
        return start + 1;
      }
      if (explicit === undefined) {
        const count = this.argumentCount(option, this.pattern.slice(start + 1));
        taken.push([option, this.args.slice(start + 1, start + 1 + count)]);
        this.takeAll(taken);
        return start + 1 + count;
      }
      if (option.kind === "value") {
        taken.push([option, [explicit]]);
        this.takeAll(taken);
        return start + 1;
      }
      if (string[1] === "-" || explicit === "") {
        throw this.error(option, `ignored explicit argument ${pyRepr(explicit)}`);
      }
      // A flag in a cluster such as `-ms`: the rest of the word names further short options.
      taken.push([option, []]);
      const nextString = "-" + explicit[0];
      const nextOption = this.parser.byString.get(nextString);
      if (!nextOption) throw this.error(option, `ignored explicit argument ${pyRepr(explicit)}`);
      [option, string, explicit] = [nextOption, nextString, explicit.slice(1) || undefined];
    }
  }

  private argumentCount(option: Optional, following: string): number {
    if (option.kind !== "value") return 0;
    if (following[0] !== "A") throw this.error(option, "expected one argument");
    return 1;
  }

  private takeAll(taken: [Optional, string[]][]): void {
    for (const [option, words] of taken) {
      if (option.kind === "help") throw new HelpRequested(this.parser);
      this.values[option.dest] = option.kind === "flag" ? true : words[0];
    }
  }

  private consumePositionals(start: number): number {
    const counts = matchPartial(this.pending, this.pattern.slice(start));
    counts.forEach((count, i) => {
      this.takePositional(this.pending[i], this.args.slice(start, start + count));
      start += count;
    });
    this.pending = this.pending.slice(counts.length);
    return start;
  }

  private takePositional(positional: Positional, words: string[]): void {
    this.seen.add(positional);
    if (positional.kind === "commands") return this.takeCommand(positional, words);
    const dashes = words.indexOf("--");
    if (dashes >= 0) words.splice(dashes, 1);
    const choices = positional.choices;
    if (choices && words[0] !== undefined && !choices.includes(words[0])) {
      const message = `invalid choice: ${pyRepr(words[0])} (choose from ${choices.map(pyRepr).join(", ")})`;
      throw new ArgError(this.parser, `argument ${positional.name}: ${message}`);
    }
    this.values[positional.name] = positional.many ? words : words[0];
  }

  private takeCommand(positional: Positional, words: string[]): void {
    const sub = this.parser.commands.get(words[0]);
    if (!sub) {
      const choices = [...this.parser.commands.keys()].map(pyRepr).join(", ");
      const message = `invalid choice: ${pyRepr(words[0])} (choose from ${choices})`;
      throw new ArgError(this.parser, `argument ${positional.name}: ${message}`);
    }
    const parsed = new ParseRun(sub, words.slice(1)).run();
    this.command = { name: words[0], values: parsed.values };
    this.subExtras.push(...parsed.extras);
  }

  private checkRequired(): void {
    const missing = this.parser.positionals.filter((p) => !p.optional && !this.seen.has(p)).map((p) => p.name);
    if (missing.length > 0) {
      throw new ArgError(this.parser, `the following arguments are required: ${missing.join(", ")}`);
    }
  }
}

/**
 * Parses `argv` (without the program name) like backy2's argparse parser would. `columns` is the
 * terminal width for wrapping texts; by default it is found like Python's `shutil.get_terminal_size`.
 */
export function parseArgs(spec: ProgramSpec, argv: string[], columns?: number): ParseResult {
  const top = buildParser(spec);
  try {
    const parsed = new ParseRun(top, argv).run();
    if (parsed.extras.length > 0) throw new ArgError(top, `unrecognized arguments: ${parsed.extras.join(" ")}`);
    if (parsed.command) {
      return { kind: "run", globals: parsed.values, command: parsed.command.name, args: parsed.command.values };
    }
    const standalone = top.optionals.some((o) => o.standalone && parsed.values[o.dest] === true);
    if (standalone) return { kind: "run", globals: parsed.values, command: "", args: {} };
    return { kind: "exit", code: 1, stdout: usageText(top, textWidth(columns)), stderr: "" };
  } catch (e) {
    if (e instanceof HelpRequested) {
      return { kind: "exit", code: 0, stdout: helpText(e.parser, textWidth(columns)), stderr: "" };
    }
    if (e instanceof ArgError) {
      const stderr = usageText(e.parser, textWidth(columns)) + `${e.parser.prog}: error: ${e.message}\n`;
      return { kind: "exit", code: 2, stdout: "", stderr };
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Usage and help texts

/** argparse's text width: terminal columns (COLUMNS, else stdout's terminal, else 80) minus 2. */
function textWidth(columns?: number): number {
  return (columns ?? terminalColumns()) - 2;
}

function terminalColumns(): number {
  try {
    const fromEnv = Number.parseInt(Deno.env.get("COLUMNS")?.trim() ?? "", 10);
    if (fromEnv > 0) return fromEnv;
  } catch {
    // No env permission: behave as if COLUMNS were unset.
  }
  try {
    if (Deno.stdout.isTerminal()) return Deno.consoleSize().columns || 80;
  } catch {
    // Not a console after all.
  }
  return 80;
}

function selectParser(spec: ProgramSpec, command?: string): Parser {
  const top = buildParser(spec);
  if (command === undefined) return top;
  const sub = top.commands.get(command);
  if (!sub) throw new Error(`unknown command: ${command}`);
  return sub;
}

/** The `usage: ...` line(s), newline-terminated, for the program or one of its commands. */
export function formatUsage(spec: ProgramSpec, command?: string, columns?: number): string {
  return usageText(selectParser(spec, command), textWidth(columns));
}

/** The `-h` text for the program or one of its commands. */
export function formatHelp(spec: ProgramSpec, command?: string, columns?: number): string {
  return helpText(selectParser(spec, command), textWidth(columns));
}

function optionUsage(option: Optional): string {
  return option.kind === "value" ? `[${option.strings[0]} ${option.metavar}]` : `[${option.strings[0]}]`;
}

/** How usage and help show a positional: its name, or its choices as `{a,b,c}`. */
function metavar(positional: Positional): string {
  return positional.choices ? `{${positional.choices.join(",")}}` : positional.name;
}

function positionalUsage(positional: Positional): string {
  if (positional.kind === "commands") return `${positional.name} ...`;
  if (positional.many) return `[${positional.name} ...]`;
  return positional.optional ? `[${metavar(positional)}]` : metavar(positional);
}

/** Splits a usage string into the pieces argparse wraps as units. */
function usageParts(text: string): string[] {
  return text.match(/\(.*?\)+(?=\s|$)|\[.*?\]+(?=\s|$)|\S+/g) ?? [];
}

/** Greedy line filling of usage parts (argparse `get_lines`). */
function usageLines(parts: string[], width: number, indent: string, firstLineStart?: number): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  let length = (firstLineStart ?? indent.length) - 1;
  for (const part of parts) {
    if (length + 1 + part.length > width && line.length > 0) {
      lines.push(indent + line.join(" "));
      line = [];
      length = indent.length - 1;
    }
    line.push(part);
    length += part.length + 1;
  }
  if (line.length > 0) lines.push(indent + line.join(" "));
  if (firstLineStart !== undefined && lines.length > 0) lines[0] = lines[0].slice(indent.length);
  return lines;
}

function usageText(parser: Parser, width: number): string {
  const prefix = "usage: ";
  const prog = parser.prog;
  const optUsage = parser.optionals.map(optionUsage).join(" ");
  const posUsage = parser.positionals.map(positionalUsage).join(" ");
  const oneLine = [prog, [optUsage, posUsage].filter((s) => s).join(" ")].filter((s) => s).join(" ");
  if (prefix.length + oneLine.length <= width) return `${prefix}${oneLine}\n`;
  return `${prefix}${wrappedUsage(prog, usageParts(optUsage), usageParts(posUsage), width).join("\n")}\n`;
}

function wrappedUsage(prog: string, optParts: string[], posParts: string[], width: number): string[] {
  const prefixLength = "usage: ".length;
  if (prefixLength + prog.length <= 0.75 * width) {
    const indent = " ".repeat(prefixLength + prog.length + 1);
    if (optParts.length > 0) {
      return [...usageLines([prog, ...optParts], width, indent, prefixLength), ...usageLines(posParts, width, indent)];
    }
    return posParts.length > 0 ? usageLines([prog, ...posParts], width, indent, prefixLength) : [prog];
  }
  // A long prog gets a line of its own.
  const indent = " ".repeat(prefixLength);
  let lines = usageLines([...optParts, ...posParts], width, indent);
  if (lines.length > 1) lines = [...usageLines(optParts, width, indent), ...usageLines(posParts, width, indent)];
  return [prog, ...lines];
}

interface HelpItem {
  invocation: string;
  help: string;
  children: HelpItem[];
}

function pyStr(value: string | string[] | boolean | undefined): string {
  if (value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  return Array.isArray(value) ? `[${value.map(pyRepr).join(", ")}]` : value;
}

function optionItem(option: Optional): HelpItem {
  const invocation = option.kind === "value"
    ? option.strings.map((s) => `${s} ${option.metavar}`).join(", ")
    : option.strings.join(", ");
  const help = option.kind === "help" ? option.help : `${option.help} (default: ${pyStr(option.default)})`;
  return { invocation, help: option.help ? help : "", children: [] };
}

function positionalItem(parser: Parser, positional: Positional): HelpItem {
  if (positional.kind === "commands") {
    const children = [...parser.commandHelp].map(([name, help]) => ({ invocation: name, help, children: [] }));
    return { invocation: positional.name, help: "", children };
  }
  const help = positional.optional && positional.help ? `${positional.help} (default: None)` : positional.help;
  return { invocation: metavar(positional), help, children: [] };
}

function helpSections(parser: Parser): [string, HelpItem[]][] {
  const plain = parser.positionals.filter((p) => p.kind === "positional");
  const commands = parser.positionals.filter((p) => p.kind === "commands");
  const sections: [string, HelpItem[]][] = [
    ["positional arguments", plain.map((p) => positionalItem(parser, p))],
    ["options", parser.optionals.map(optionItem)],
    ["commands", commands.map((p) => positionalItem(parser, p))],
  ];
  return sections.filter(([, items]) => items.length > 0);
}

/** Normalizes whitespace like argparse before wrapping. */
function squash(text: string): string {
  return text.replace(/[ \t\n\r\f\v]+/g, " ").trim();
}

function helpText(parser: Parser, width: number): string {
  const sections = helpSections(parser);
  const lengths = sections.flatMap(([, items]) =>
    items.map((item) => Math.max(...[item, ...item.children].map((i) => i.invocation.length)) + 2)
  );
  const helpPosition = Math.min(Math.max(0, ...lengths) + 2, Math.min(24, Math.max(width - 20, 4)));
  const layout = { helpPosition, helpWidth: Math.max(width - helpPosition, 11) };
  let text = usageText(parser, width) + "\n";
  if (parser.description) text += wrapText(squash(parser.description), Math.max(width, 11)).join("\n") + "\n\n";
  for (const [title, items] of sections) {
    text += `\n${title}:\n` + items.map((item) => formatItem(item, 2, layout)).join("") + "\n";
  }
  if (parser.epilog) text += "\n" + wrapText(squash(parser.epilog), Math.max(width, 11)).join("\n") + "\n";
  return text.replace(/\n\n\n+/g, "\n\n").replace(/^\n+|\n+$/g, "") + "\n";
}

/** One entry of a help section (argparse `_format_action`). */
function formatItem(item: HelpItem, indent: number, layout: { helpPosition: number; helpWidth: number }): string {
  const { helpPosition, helpWidth } = layout;
  const actionWidth = helpPosition - indent - 2;
  const pad = " ".repeat(indent);
  let text: string;
  let firstIndent = 0;
  if (!item.help) text = `${pad}${item.invocation}\n`;
  else if (item.invocation.length <= actionWidth) text = `${pad}${item.invocation.padEnd(actionWidth)}  `;
  else {
    text = `${pad}${item.invocation}\n`;
    firstIndent = helpPosition;
  }
  if (item.help.trim()) {
    const lines = wrapText(squash(item.help), helpWidth);
    text += " ".repeat(firstIndent) + lines[0] + "\n";
    for (const line of lines.slice(1)) text += " ".repeat(helpPosition) + line + "\n";
  } else if (!text.endsWith("\n")) text += "\n";
  return text + item.children.map((child) => formatItem(child, indent + 2, layout)).join("");
}

// Python textwrap's word splitting: whitespace, em-dashes, and words split after hyphens.
const WORD_SEPARATOR = new RegExp(
  "([\\t\\n\\v\\f\\r ]+|(?<=[\\w!\"'&.,?])-{2,}(?=\\w)|[^\\t\\n\\v\\f\\r ]+?(?:-(?:(?<=[^\\d\\W]{2}-)|" +
    "(?<=[^\\d\\W]-[^\\d\\W]-))(?=[^\\d\\W]-?[^\\d\\W])|(?=[\\t\\n\\v\\f\\r ]|$)|(?<=[\\w!\"'&.,?])(?=-{2,}\\w)))",
);

/** Python `textwrap.wrap(text, width)` for single-spaced text. */
export function wrapText(text: string, width: number): string[] {
  const chunks = text.split(WORD_SEPARATOR).filter((c) => c).reverse();
  const lines: string[] = [];
  while (chunks.length > 0) {
    if (lines.length > 0 && chunks[chunks.length - 1].trim() === "") chunks.pop();
    const line: string[] = [];
    let length = 0;
    while (chunks.length > 0 && length + chunks[chunks.length - 1].length <= width) {
      length += chunks[chunks.length - 1].length;
      line.push(chunks.pop()!);
    }
    if (chunks.length > 0 && chunks[chunks.length - 1].length > width) breakLongWord(chunks, line, width, length);
    if (line.length > 0 && line[line.length - 1].trim() === "") line.pop();
    if (line.length > 0) lines.push(line.join(""));
  }
  return lines;
}

/** Puts as much of an over-long word on the line as fits, preferably up to a hyphen (textwrap). */
function breakLongWord(chunks: string[], line: string[], width: number, used: number): void {
  const room = width < 1 ? 1 : width - used;
  const chunk = chunks[chunks.length - 1];
  let end = room;
  const hyphen = room > 0 ? chunk.lastIndexOf("-", room - 1) : -1;
  if (chunk.length > room && hyphen > 0 && /[^-]/.test(chunk.slice(0, hyphen))) end = hyphen + 1;
  line.push(chunk.slice(0, end));
  chunks[chunks.length - 1] = chunk.slice(end);
}
