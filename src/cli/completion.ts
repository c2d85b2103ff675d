/**
 * `backy2 completion bash|zsh|fish`: shell completion scripts generated from the same {@link ProgramSpec} that
 * `--help` shows, so a new command or flag completes without touching the scripts.
 *
 * This module turns the spec into a {@link CompletionModel}: every option and positional with the kind of
 * value it takes. Version uids and names are looked up when the user presses TAB, by running the program
 * itself (`backy2 [-c CONFIG] -ms ls -f uid|name`) with the config given on the command line being completed.
 * The renderers for each shell live in completion_bash.ts and completion_zsh_fish.ts.
 */
import type { CommandSpec, OptionSpec, PositionalSpec, ProgramSpec } from "./args.ts";
import { bashScript } from "./completion_bash.ts";
import { fishScript, zshScript } from "./completion_zsh_fish.ts";

/**
 * What a value completes to: version uids or names from the catalog, file names, a config file (a file
 * name that later lookups also use), one of fixed choices, or nothing.
 */
export type ValueKind = "uid" | "name" | "file" | "config" | "none" | { choices: string[] };

export interface CompletedOption {
  /** `["-s", "--snapshot-name"]`, short first. */
  strings: string[];
  help: string;
  /** Undefined for flags. */
  value?: { metavar: string; kind: ValueKind };
}

export interface CompletedPositional {
  name: string;
  help: string;
  optional: boolean;
  /** Takes any number of words (argparse `nargs='*'`); only the last positional does. */
  many: boolean;
  kind: ValueKind;
}

export interface CompletedCommand {
  name: string;
  help: string;
  options: CompletedOption[];
  positionals: CompletedPositional[];
}

export interface CompletionModel {
  prog: string;
  globals: CompletedOption[];
  commands: CompletedCommand[];
}

const HELP: CompletedOption = { strings: ["-h", "--help"], help: "show this help message and exit" };

/** Option values by dest: the rest complete to nothing. */
const OPTION_VALUES: Record<string, ValueKind> = {
  configfile: "config",
  fromVersion: "uid",
  continueVersion: "uid",
  rbd: "file",
  socket: "file",
  tlsCert: "file",
  tlsKey: "file",
};

/** Commands whose `name` (or `names`) positional is a version name (elsewhere `name` is a tag). */
const VERSION_NAME_COMMANDS = new Set(["backup", "ls", "due", "sla", "enforce"]);
const FILE_POSITIONALS = new Set(["filename", "mount"]);

function option(spec: OptionSpec): CompletedOption {
  const strings = spec.short === undefined ? [spec.long] : [spec.short, spec.long];
  if (spec.kind === "flag") return { strings, help: spec.help };
  const metavar = spec.metavar ?? spec.long.replace(/^-+/, "").replaceAll("-", "_").toUpperCase();
  return { strings, help: spec.help, value: { metavar, kind: OPTION_VALUES[spec.dest] ?? "none" } };
}

function positionalKind(command: string, spec: PositionalSpec): ValueKind {
  if (spec.choices) return { choices: spec.choices };
  if (spec.name.startsWith("version_uid")) return "uid";
  if ((spec.name === "name" || spec.name === "names") && VERSION_NAME_COMMANDS.has(command)) return "name";
  return FILE_POSITIONALS.has(spec.name) ? "file" : "none";
}

function command(spec: CommandSpec): CompletedCommand {
  return {
    name: spec.name,
    help: spec.help,
    options: [HELP, ...spec.options.map(option)],
    positionals: spec.positionals.map((p) => ({
      name: p.name,
      help: p.help,
      optional: p.optional ?? false,
      many: p.many ?? false,
      kind: positionalKind(spec.name, p),
    })),
  };
}

/** Every command, option and positional of `spec` with what its values complete to. */
export function completionModel(spec: ProgramSpec): CompletionModel {
  return { prog: spec.prog, globals: [HELP, ...spec.globals.map(option)], commands: spec.commands.map(command) };
}

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = typeof SHELLS[number];

/** The completion script for `shell`. */
export function completionScript(shell: Shell, spec: ProgramSpec): string {
  const model = completionModel(spec);
  if (shell === "bash") return bashScript(model);
  return shell === "zsh" ? zshScript(model) : fishScript(model);
}
