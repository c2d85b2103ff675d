/**
 * Tests of the argparse work-alike against texts and results Python 3.11's argparse produces for
 * backy2's parser (expected strings were taken from running argparse with the same definitions).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { formatHelp, formatUsage, parseArgs, type ParseResult, type ProgramSpec, pyRepr, wrapText } from "./args.ts";
import { BACKY2_SPEC } from "./spec.ts";

// Not backy2's usage: `--json`, `nbd`, `enforce`, `rebuild-catalog`, ... are this tool's additions (backy2's help never had them).
const TOP_USAGE = "usage: backy2 [-h] [-v] [-d] [-m] [-s] [-r] [--json] [-V] [-c CONFIGFILE]\n" +
  "              {initdb,backup,restore,protect,unprotect,rm,scrub,export,import,cleanup,ls,stats,diff-meta,du," +
  "fuse,rekey,migrate-encryption,add-tag,remove-tag,expire,due,sla,migrate-catalog,nbd,enforce,completion," +
  "migrate-compression,locks,rebuild-catalog,check-store}\n" +
  "              ...\n";

const BACKUP_USAGE = "usage: backy2 backup [-h] [-s SNAPSHOT_NAME] [-r RBD] [-f FROM_VERSION]\n" +
  "                     [-c CONTINUE_VERSION] [-t TAG] [-e EXPIRE]\n" +
  "                     source name\n";

function parse(...argv: string[]): ParseResult {
  return parseArgs(BACKY2_SPEC, argv, 80);
}

type Run = Extract<ParseResult, { kind: "run" }>;
type Exit = Extract<ParseResult, { kind: "exit" }>;

function run(...argv: string[]): Run {
  const result = parse(...argv);
  if (result.kind !== "run") throw new Error(`expected a run for ${argv.join(" ")}, got: ${result.stderr}`);
  return result;
}

function exit(...argv: string[]): Exit {
  const result = parse(...argv);
  if (result.kind !== "exit") throw new Error(`expected an exit for ${argv.join(" ")}`);
  return result;
}

/** The `prog: error: ...` line of a parse error, checking the rest of the exit result on the way. */
function errorLine(...argv: string[]): string {
  const result = exit(...argv);
  assertEquals(result.code, 2);
  assertEquals(result.stdout, "");
  const lines = result.stderr.split("\n");
  assertEquals(lines.pop(), "");
  assert(result.stderr.startsWith("usage: backy2"));
  return lines[lines.length - 1];
}

Deno.test("combined short global flags before ls with a name", () => {
  const result = run("-ms", "ls", "NAME");
  assertEquals(result.command, "ls");
  assertEquals(result.globals.machineOutput, true);
  assertEquals(result.globals.skipHeader, true);
  assertEquals(result.globals.verbose, false);
  assertEquals(result.globals.configfile, undefined);
  assertEquals(result.args, {
    snapshotName: undefined,
    tag: undefined,
    expired: false,
    fields: "date,name,snapshot_name,size,size_bytes,uid,valid,protected,tags,expire",
    name: "NAME",
  });
});

Deno.test("global -s and ls -s are different options", () => {
  const both = run("-ms", "ls", "-s", "SNAP");
  assertEquals(both.globals.skipHeader, true);
  assertEquals(both.args.snapshotName, "SNAP");
  assertEquals(both.args.name, undefined);
  const onlyLs = run("ls", "-s", "SNAP", "vm");
  assertEquals(onlyLs.globals.skipHeader, false);
  assertEquals([onlyLs.args.snapshotName, onlyLs.args.name], ["SNAP", "vm"]);
});

Deno.test("three clustered flags", () => {
  const result = run("-msr", "du");
  assertEquals([result.globals.machineOutput, result.globals.skipHeader, result.globals.humanReadable], [
    true,
    true,
    true,
  ]);
});

Deno.test("long option prefixes and value spellings", () => {
  assertEquals(run("--conf", "x", "ls").globals.configfile, "x");
  assertEquals(run("--conf=x", "ls").globals.configfile, "x");
  assertEquals(run("--configfile", "/etc/b.cfg", "ls").globals.configfile, "/etc/b.cfg");
  assertEquals(run("-cx", "ls").globals.configfile, "x");
  assertEquals(run("-c=x", "ls").globals.configfile, "x");
  assertEquals(run("--configfile=", "ls").globals.configfile, "");
  assertEquals(run("--mach", "ls").globals.machineOutput, true);
  assertEquals(run("cleanup", "--dang").args.dangerousForce, true);
  assertEquals(run("ls", "--snap", "s", "--fi=a,b").args, {
    snapshotName: "s",
    tag: undefined,
    expired: false,
    fields: "a,b",
    name: undefined,
  });
});

Deno.test("a value option may end a cluster, with its value attached or following", () => {
  const attached = run("-mcFILE", "ls");
  assertEquals([attached.globals.machineOutput, attached.globals.configfile], [true, "FILE"]);
  const following = run("-mc", "FILE", "ls");
  assertEquals([following.globals.machineOutput, following.globals.configfile], [true, "FILE"]);
  const restore = run("restore", "-sfc", "5", "uid", "file:///t");
  assertEquals(restore.args, {
    sparse: true,
    force: true,
    continueFrom: "5",
    fromStore: false,
    version_uid: "uid",
    target: "file:///t",
  });
});

Deno.test("backup accepts an empty --expire value and options after the positionals", () => {
  const result = run("backup", "-e", "", "file://x", "vm");
  assertEquals(result.args, {
    snapshotName: "",
    rbd: undefined,
    fromVersion: undefined,
    continueVersion: undefined,
    tag: undefined,
    expire: "",
    source: "file://x",
    name: "vm",
  });
  const after = run("backup", "file://x", "-s", "snap", "vm", "-t", "a,b", "--expire=2030-01-01");
  assertEquals([after.args.source, after.args.name], ["file://x", "vm"]);
  assertEquals([after.args.snapshotName, after.args.tag, after.args.expire], ["snap", "a,b", "2030-01-01"]);
});

Deno.test("defaults of the subcommand options", () => {
  assertEquals(run("restore", "u", "t").args.continueFrom, "0");
  assertEquals(run("scrub", "u").args, { source: undefined, percentile: "100", fromStore: false, version_uid: "u" });
  assertEquals(run("scrub", "--from-store").args, {
    source: undefined,
    percentile: "100",
    fromStore: true,
    version_uid: undefined,
  });
  assertEquals(run("due").args, {
    schedulers: "daily,weekly,monthly",
    fields: "name,schedulers,expire_date,due_since",
    name: undefined,
  });
  assertEquals(run("sla", "vm").args, { schedulers: "daily,weekly,monthly", fields: "name,breach", name: "vm" });
  assertEquals(
    run("du").args.fields,
    "Real,Null,Dedup Own,Dedup Others,Individual,Est. Space,Est. Space freed",
  );
  assertEquals(
    run("stats").args.fields,
    "date,uid,name,size bytes,size blocks,bytes read,blocks read,bytes written,blocks written,bytes dedup," +
      "blocks dedup,bytes sparse,blocks sparse,duration (s)",
  );
  assertEquals(run("cleanup").args, { full: false, prefix: undefined, dangerousForce: false });
  assertEquals(run("migrate-catalog", "sqlite:///old.sqlite").args, { engine: "sqlite:///old.sqlite" });
});

Deno.test("negative numbers and lone dashes are values, other dash words are not", () => {
  assertEquals(run("stats", "-l", "-5").args.limit, "-5");
  assertEquals(run("ls", "-f", "-.5").args.fields, "-.5");
  assertEquals(run("export", "uid", "-").args.filename, "-");
  assertEquals(run("ls", "-f", "-a b").args.fields, "-a b");
  assertEquals(errorLine("ls", "-f", "-x"), "backy2 ls: error: argument -f/--fields: expected one argument");
  assertEquals(errorLine("-c", "-m", "ls"), "backy2: error: argument -c/--configfile: expected one argument");
  assertEquals(errorLine("-c"), "backy2: error: argument -c/--configfile: expected one argument");
});

Deno.test("-- ends the options", () => {
  assertEquals(run("ls", "--", "-x").args.name, "-x");
  const backup = run("backup", "--", "-a", "-b");
  assertEquals([backup.args.source, backup.args.name], ["-a", "-b"]);
  assertEquals(run("ls", "--").args.name, undefined);
});

Deno.test("missing positionals", () => {
  const result = exit("backup");
  assertEquals(result, {
    kind: "exit",
    code: 2,
    stdout: "",
    stderr: BACKUP_USAGE + "backy2 backup: error: the following arguments are required: source, name\n",
  });
  assertEquals(errorLine("backup", "x"), "backy2 backup: error: the following arguments are required: name");
  assertEquals(
    errorLine("diff-meta"),
    "backy2 diff-meta: error: the following arguments are required: version_uid1, version_uid2",
  );
  assertEquals(errorLine("rm", "-f"), "backy2 rm: error: the following arguments are required: version_uid");
});

Deno.test("unknown subcommand", () => {
  const result = exit("foo");
  assertEquals(result.code, 2);
  assert(result.stderr.startsWith(TOP_USAGE));
  const choices = BACKY2_SPEC.commands.map((c) => c.name);
  assertEquals(
    errorLine("foo"),
    `backy2: error: argument {${choices.join(",")}}: invalid choice: 'foo' ` +
      `(choose from ${choices.map((c) => `'${c}'`).join(", ")})`,
  );
});

Deno.test("unrecognized arguments are reported by the top-level parser", () => {
  const result = exit("ls", "--bogus");
  assertEquals(result.stderr, TOP_USAGE + "backy2: error: unrecognized arguments: --bogus\n");
  assertEquals(errorLine("--bogus", "ls", "x", "y"), "backy2: error: unrecognized arguments: --bogus y");
  assertEquals(errorLine("initdb", "x"), "backy2: error: unrecognized arguments: x");
  assertEquals(errorLine("ls", "-v"), "backy2: error: unrecognized arguments: -v");
});

Deno.test("ambiguous long option prefixes", () => {
  assertEquals(errorLine("--v", "ls"), "backy2: error: ambiguous option: --v could match --verbose, --version");
  // argparse classifies the whole command line with the top-level parser first.
  assertEquals(errorLine("ls", "--h"), "backy2: error: ambiguous option: --h could match --help, --human-readable");
  // A prefix unique in both parsers is fine: the top level sees --debug, cleanup --dangerous-force.
  assertEquals(run("cleanup", "--d").args.dangerousForce, true);
});

Deno.test("explicit arguments given to flags", () => {
  assertEquals(errorLine("-m=x", "ls"), "backy2: error: argument -m/--machine-output: ignored explicit argument 'x'");
  assertEquals(errorLine("--verbose=1", "ls"), "backy2: error: argument -v/--verbose: ignored explicit argument '1'");
  assertEquals(errorLine("-mx", "ls"), "backy2: error: argument -m/--machine-output: ignored explicit argument 'x'");
});

Deno.test("no subcommand prints the usage to stdout and exits 1", () => {
  assertEquals(parse(), { kind: "exit", code: 1, stdout: TOP_USAGE, stderr: "" });
  assertEquals(parse("-m", "-s"), { kind: "exit", code: 1, stdout: TOP_USAGE, stderr: "" });
});

Deno.test("-V is returned to the caller, with or without a subcommand", () => {
  const alone = run("-V");
  assertEquals([alone.command, alone.globals.version, alone.args], ["", true, {}]);
  const withCommand = run("-V", "ls");
  assertEquals([withCommand.command, withCommand.globals.version], ["ls", true]);
  assertEquals(run("ls").globals.version, false);
});

Deno.test("-h prints the program help and exits 0", () => {
  const result = exit("-h");
  assertEquals([result.code, result.stderr], [0, ""]);
  assert(result.stdout.startsWith(TOP_USAGE + "\nBackup and restore for block devices.\n\noptions:\n"));
  assert(result.stdout.includes("  -h, --help            show this help message and exit\n"));
  assert(result.stdout.includes("  -v, --verbose         verbose output (default: False)\n"));
  assert(result.stdout.includes("  -c CONFIGFILE, --configfile CONFIGFILE\n                        "));
  assert(result.stdout.includes("\ncommands:\n  {initdb,backup,"));
  assert(result.stdout.includes("\n    backup              Perform a backup.\n"));
  assert(result.stdout.includes("backup versions as NBD exports.\n"));
  assert(result.stdout.includes("\n    migrate-catalog     Import a backy2 2.13.8 catalog into this catalog.\n"));
  assert(result.stdout.includes(
    "\n    completion          Print a shell completion script for backy2 (commands,\n" +
      "                        flags, version uids and names).\n",
  ));
  assert(result.stdout.includes("\n  --json                print listings and command results as JSON on stdout\n"));
  assert(
    result.stdout.includes(
      "\n    migrate-compression\n                        Create a new version with unencrypted blocks stored in\n",
    ),
  );
  // The epilog (not in backy2) names the metrics setting, which has no flag.
  assert(result.stdout.endsWith(
    "\n\nPrometheus metrics: set metrics_dir in [DEFAULTS] of backy.cfg to the\n" +
      "node_exporter textfile collector directory, and every command updates\n" +
      "backy2.prom there. The README documents the --json schema, the retention rules\n" +
      "of enforce and the metrics.\n",
  ));
  assertEquals(exit("--help", "--bogus").code, 0);
  assertEquals(exit("-mh").code, 0);
});

Deno.test("backup -h lists its positionals and options with defaults", () => {
  const result = exit("backup", "-h");
  assertEquals(result.code, 0);
  assertEquals(result.stdout, formatHelp(BACKY2_SPEC, "backup", 80));
  assert(result.stdout.startsWith(BACKUP_USAGE + "\npositional arguments:\n  source                Source"));
  assert(result.stdout.includes("\n  name                  Backup name (e.g. the hostname)\n"));
  assert(result.stdout.includes("\n  -s SNAPSHOT_NAME, --snapshot-name SNAPSHOT_NAME\n"));
  assert(result.stdout.includes("\n  -r RBD, --rbd RBD     Hints file"));
  assert(result.stdout.includes("(default: None)"));
  assertEquals(exit("ls", "-h", "--bogus").code, 0);
});

Deno.test("optional positional shows its default in help", () => {
  const help = formatHelp(BACKY2_SPEC, "stats", 80);
  assert(help.startsWith("usage: backy2 stats [-h] [-f FIELDS] [-l LIMIT] [version_uid]\n\npositional arguments:\n"));
  assert(help.includes("  version_uid           Show statistics of this uid (default: None)\n"));
});

Deno.test("usage wraps to the terminal width like argparse", () => {
  assertEquals(formatUsage(BACKY2_SPEC, "backup", 80), BACKUP_USAGE);
  assertEquals(
    formatUsage(BACKY2_SPEC, "backup", 200),
    "usage: backy2 backup [-h] [-s SNAPSHOT_NAME] [-r RBD] [-f FROM_VERSION] [-c CONTINUE_VERSION] [-t TAG] " +
      "[-e EXPIRE] source name\n",
  );
  assertEquals(
    formatUsage(BACKY2_SPEC, "ls", 80),
    "usage: backy2 ls [-h] [-s SNAPSHOT_NAME] [-t TAG] [-e] [-f FIELDS] [name]\n",
  );
  assertEquals(formatUsage(BACKY2_SPEC, "rekey", 30), "usage: backy2 rekey [-h]\n                    oldkey\n");
  assertEquals(formatUsage(BACKY2_SPEC, "initdb", 30), "usage: backy2 initdb [-h]\n");
  assertEquals(formatUsage(BACKY2_SPEC, undefined, 80), TOP_USAGE);
});

Deno.test("a long prog goes on a line of its own in narrow terminals", () => {
  assertEquals(
    formatUsage(BACKY2_SPEC, "migrate-encryption", 30),
    "usage: backy2 migrate-encryption\n       [-h] version_uid\n",
  );
});

Deno.test("COLUMNS sets the width when none is given", () => {
  const previous = Deno.env.get("COLUMNS");
  try {
    Deno.env.set("COLUMNS", "200");
    assertEquals(formatUsage(BACKY2_SPEC, "backup"), formatUsage(BACKY2_SPEC, "backup", 200));
    Deno.env.set("COLUMNS", "80");
    assertEquals(formatUsage(BACKY2_SPEC, "backup"), BACKUP_USAGE);
  } finally {
    if (previous === undefined) Deno.env.delete("COLUMNS");
    else Deno.env.set("COLUMNS", previous);
  }
});

Deno.test("textwrap-compatible wrapping breaks after hyphens", () => {
  assertEquals(wrapText("Tag (or comma-separated tags) for the new version", 12), [
    "Tag (or",
    "comma-",
    "separated",
    "tags) for",
    "the new",
    "version",
  ]);
  assertEquals(wrapText("a verylongword-with-hyphens end", 10), ["a verylong", "word-with-", "hyphens", "end"]);
  assertEquals(wrapText("one -- two", 5), ["one", "--", "two"]);
});

Deno.test("Python repr of strings in messages", () => {
  assertEquals(pyRepr("foo"), "'foo'");
  assertEquals(pyRepr("it's"), `"it's"`);
  assertEquals(pyRepr(`a"b'`), `'a"b\\''`);
  assertEquals(pyRepr("a\nb\\"), "'a\\nb\\\\'");
  assert(errorLine("it's").includes(`: invalid choice: "it's" (choose from 'initdb', 'backup', `));
});

Deno.test("the spec lists the reference subcommands in order, then ours: migrate-catalog, nbd, enforce, ...", () => {
  assertEquals(BACKY2_SPEC.commands.map((c) => c.name), [
    "initdb",
    "backup",
    "restore",
    "protect",
    "unprotect",
    "rm",
    "scrub",
    "export",
    "import",
    "cleanup",
    "ls",
    "stats",
    "diff-meta",
    "du",
    "fuse",
    "rekey",
    "migrate-encryption",
    "add-tag",
    "remove-tag",
    "expire",
    "due",
    "sla",
    "migrate-catalog",
    "nbd",
    "enforce",
    "completion",
    "migrate-compression",
    "locks",
    "rebuild-catalog",
    "check-store",
  ]);
  assertEquals(BACKY2_SPEC.globals.map((o) => `${o.short}/${o.long}`), [
    "-v/--verbose",
    "-d/--debug",
    "-m/--machine-output",
    "-s/--skip-header",
    "-r/--human-readable",
    "undefined/--json",
    "-V/--version",
    "-c/--configfile",
  ]);
  for (const command of BACKY2_SPEC.commands) {
    assert(command.help.length > 0, command.name);
    for (const option of command.options) assert(option.help.length > 0, `${command.name} ${option.long}`);
  }
});

Deno.test("a positional of any number of words (nargs='*', enforce's names)", () => {
  assertEquals(run("enforce", "latest3").args.names, []);
  assertEquals(run("enforce", "latest3", "vm1", "vm2").args, { force: false, rules: "latest3", names: ["vm1", "vm2"] });
  assertEquals(run("enforce", "-f", "latest3", "--", "-odd").args.names, ["-odd"]);
  assertEquals(errorLine("enforce"), "backy2 enforce: error: the following arguments are required: rules");
  // As in Python 3.11's argparse, an option between the positionals ends the list before it started.
  assertEquals(errorLine("enforce", "latest3", "-f", "vm1"), "backy2: error: unrecognized arguments: vm1");
  const help = formatHelp(BACKY2_SPEC, "enforce", 80);
  assert(help.startsWith("usage: backy2 enforce [-h] [-f] rules [names ...]\n"));
  assert(help.includes("(all names when none is given)\n               (default: None)\n"));
});

Deno.test("--json is a global flag without a short form", () => {
  assertEquals(run("--json", "ls").globals.json, true);
  assertEquals(run("ls").globals.json, false);
  assertEquals(errorLine("ls", "--json"), "backy2: error: unrecognized arguments: --json");
});

/** A program with one command whose positional takes one of a few choices (argparse `choices=`). */
const CHOICE_SPEC: ProgramSpec = {
  prog: "backy2",
  description: "",
  globals: [],
  commands: [{
    name: "completion",
    help: "Print a completion script.",
    options: [],
    positionals: [{ name: "shell", help: "The shell to complete for", choices: ["bash", "zsh", "fish"] }],
  }],
};

Deno.test("a positional with choices: accepted values, argparse's usage, help and errors", () => {
  const ok = parseArgs(CHOICE_SPEC, ["completion", "zsh"], 80);
  assertEquals(ok.kind === "run" ? ok.args : ok, { shell: "zsh" });
  const usage = "usage: backy2 completion [-h] {bash,zsh,fish}\n";
  const wrong = parseArgs(CHOICE_SPEC, ["completion", "tcsh"], 80);
  assertEquals(wrong, {
    kind: "exit",
    code: 2,
    stdout: "",
    stderr: usage +
      "backy2 completion: error: argument shell: invalid choice: 'tcsh' (choose from 'bash', 'zsh', 'fish')\n",
  });
  const missing = parseArgs(CHOICE_SPEC, ["completion"], 80);
  assertEquals(
    missing.kind === "exit" ? missing.stderr : "",
    usage +
      "backy2 completion: error: the following arguments are required: shell\n",
  );
  assertEquals(
    formatHelp(CHOICE_SPEC, "completion", 80),
    usage + "\npositional arguments:\n  {bash,zsh,fish}  The shell to complete for\n\n" +
      "options:\n  -h, --help       show this help message and exit\n",
  );
});
