/**
 * The whole command line surface of backy2 2.13.8 as a declarative {@link ProgramSpec} for the argparse
 * work-alike in `args.ts`, plus this tool's own additions (`--json`, `migrate-catalog`, `enforce`, `locks`, the
 * metadata objects' `rebuild-catalog`, `check-store` and `--from-store`).
 *
 * Order matters: options and subcommands appear in usage and help in the order listed here, and
 * ambiguous-prefix errors name the candidates in this order, exactly as argparse does.
 */

import type { CommandSpec, OptionSpec, PositionalSpec, ProgramSpec } from "./args.ts";

const LS_FIELDS = "date,name,snapshot_name,size,size_bytes,uid,valid,protected,tags,expire";
export const STATS_FIELDS =
  "date,uid,name,size bytes,size blocks,bytes read,blocks read,bytes written,blocks written," +
  "bytes dedup,blocks dedup,bytes sparse,blocks sparse,duration (s)";
export const DU_FIELDS = "Real,Null,Dedup Own,Dedup Others,Individual,Est. Space,Est. Space freed";
const DUE_FIELDS = "name,schedulers,expire_date,due_since";
const SLA_FIELDS = "name,breach";
const LOCKS_FIELDS = "name,mode,host,pid,command,since,heartbeat";
const SCHEDULERS = "daily,weekly,monthly";

function flag(short: string | undefined, long: string, dest: string, help: string): OptionSpec {
  return short === undefined ? { long, dest, kind: "flag", help } : { short, long, dest, kind: "flag", help };
}

function value(short: string, long: string, dest: string, help: string, defaultValue?: string): OptionSpec {
  const option: OptionSpec = { short, long, dest, kind: "value", help };
  if (defaultValue !== undefined) option.default = defaultValue;
  return option;
}

function pos(name: string, help: string, optional = false): PositionalSpec {
  return optional ? { name, help, optional } : { name, help };
}

function command(name: string, help: string, positionals: PositionalSpec[], options: OptionSpec[] = []): CommandSpec {
  return { name, help, options, positionals };
}

function fieldsOption(defaultFields: string): OptionSpec {
  return value("-f", "--fields", "fields", "Show these fields (comma separated)", defaultFields);
}

const versionUid = (help = "Version uid") => pos("version_uid", help);

const GLOBALS: OptionSpec[] = [
  flag("-v", "--verbose", "verbose", "verbose output"),
  flag("-d", "--debug", "debug", "debug output: print tracebacks of unexpected errors"),
  flag("-m", "--machine-output", "machineOutput", "pipe-separated machine readable output"),
  flag("-s", "--skip-header", "skipHeader", "omit the header line of listings"),
  flag("-r", "--human-readable", "humanReadable", "show byte sizes with binary units (KiB, MiB, ...)"),
  flag(
    undefined,
    "--json",
    "json",
    "print listings and command results as JSON on stdout (log lines go to stderr); not with -m",
  ),
  { ...flag("-V", "--version", "version", "Show version"), standalone: true },
  value("-c", "--configfile", "configfile", "use only this config file"),
];

const BACKUP = command("backup", "Perform a backup.", [
  pos("source", "Source (url-like, e.g. file:///dev/sda or rbd://pool/imagename@snapshot)"),
  pos("name", "Backup name (e.g. the hostname)"),
], [
  value("-s", "--snapshot-name", "snapshotName", "Snapshot name (e.g. the name of the rbd snapshot)", ""),
  value("-r", "--rbd", "rbd", "Hints file in rbd diff JSON format ('-' reads stdin)"),
  value("-f", "--from-version", "fromVersion", "Use this version uid as base (differential backup)"),
  value("-c", "--continue-version", "continueVersion", "Continue an unfinished backup of this version uid"),
  value("-t", "--tag", "tag", "Tag (or comma-separated tags) for the new version"),
  value("-e", "--expire", "expire", 'Expiration date (yyyy-mm-dd or "yyyy-mm-dd HH:MM:SS")', ""),
]);

const RESTORE = command("restore", "Restore a given backup to a given target.", [
  versionUid("Version uid to restore"),
  pos("target", "Target (url-like, e.g. file:///dev/sda or rbd://pool/imagename)"),
], [
  flag("-s", "--sparse", "sparse", "Only write blocks that contain data (skip sparse blocks)"),
  flag("-f", "--force", "force", "Overwrite an existing file, device or rbd image"),
  value("-c", "--continue-from", "continueFrom", "Continue from this block id (after a partly failed restore)", "0"),
  flag(
    undefined,
    "--from-store",
    "fromStore",
    "Read the version from its metadata object in the data backend; no catalog is needed or opened",
  ),
]);

const SCRUB = command("scrub", "Scrub a given backup and check for consistency.", [
  pos("version_uid", "Version uid (with --from-store and none: every metadata object)", true),
], [
  value("-s", "--source", "source", "Also compare the backup with this source (url-like, as in backup)"),
  value("-p", "--percentile", "percentile", "Check only this percentage of the blocks (0..100)", "100"),
  flag(
    undefined,
    "--from-store",
    "fromStore",
    "Check metadata objects in the data backend against their blobs, without the catalog",
  ),
]);

const CLEANUP = command("cleanup", "Delete blobs that no version references any more.", [], [
  flag("-f", "--full", "full", "Full cleanup: compare every blob in the data backend with the catalog (slow)"),
  value("-p", "--prefix", "prefix", "With --full: only blob uids starting with this prefix"),
  flag(
    undefined,
    "--dangerous-force",
    "dangerousForce",
    "Skip the grace period of fast cleanup; let --full delete over half the store or run with no versions; run without locks",
  ),
]);

const LS = command("ls", "List existing backups.", [pos("name", "Show versions of this name only", true)], [
  value("-s", "--snapshot-name", "snapshotName", "Show versions of this snapshot name only"),
  value("-t", "--tag", "tag", "Show versions with this tag only"),
  flag("-e", "--expired", "expired", "Show expired versions only"),
  fieldsOption(LS_FIELDS),
]);

const STATS = command("stats", "Show backup statistics.", [pos("version_uid", "Show statistics of this uid", true)], [
  fieldsOption(STATS_FIELDS),
  value("-l", "--limit", "limit", "Show at most this many (most recent) entries"),
]);

const DU = command("du", "Show disk usage of one or all versions.", [
  pos("version_uid", "Show disk usage of this uid only", true),
], [fieldsOption(DU_FIELDS)]);

function schedulerCommand(name: string, help: string, fields: string): CommandSpec {
  return command(name, help, [pos("name", "Only versions of this name", true)], [
    value("-s", "--schedulers", "schedulers", "Scheduler sections of the config to use (comma separated)", SCHEDULERS),
    fieldsOption(fields),
  ]);
}

const NBD = command("nbd", "Serve all backup versions as NBD exports.", [], [
  {
    long: "--bind",
    dest: "bind",
    kind: "value",
    metavar: "HOST:PORT",
    help: "Listen on this TCP address (127.0.0.1:10809 without it and --socket)",
  },
  { long: "--socket", dest: "socket", kind: "value", metavar: "PATH", help: "Listen on this unix socket instead" },
  flag(undefined, "--cow", "cow", "Accept writes into a temporary overlay that vanishes when the server ends"),
  {
    long: "--tls-cert",
    dest: "tlsCert",
    kind: "value",
    metavar: "FILE",
    help: "Require TLS with this PEM certificate",
  },
  { long: "--tls-key", dest: "tlsKey", kind: "value", metavar: "FILE", help: "The PEM private key of --tls-cert" },
]);

const ENFORCE = command(
  "enforce",
  "Apply retention rules: list which versions the rules keep and which they would remove (a dry run).",
  [
    pos("rules", "Comma-separated rules: latestN, hoursN, daysN, weeksN, monthsN, yearsN (e.g. latest3,days30)"),
    { name: "names", help: "Only versions of these names (all names when none is given)", many: true },
  ],
  [flag("-f", "--force", "force", "Remove the versions no rule keeps (protected and young versions stay)")],
);

const COMMANDS: CommandSpec[] = [
  command("initdb", "Initialize the database by creating its tables. Existing tables and data are never dropped.", []),
  BACKUP,
  RESTORE,
  command("protect", "Protect a backup version. Protected versions cannot be removed.", [versionUid()]),
  command("unprotect", "Unprotect a backup version. Unprotected versions can be removed.", [versionUid()]),
  command("rm", "Remove a backup version's metadata (run cleanup afterwards to free space).", [versionUid()], [
    flag("-f", "--force", "force", "Remove even if younger than disallow_rm_when_younger_than_days"),
  ]),
  SCRUB,
  command("export", "Export the metadata of a backup version into a file.", [
    versionUid(),
    pos("filename", "Export into this file ('-' is stdout)"),
  ], [value("-F", "--format", "format", "Dump format: 2.12 or deno-1 (lossless)", "2.12")]),
  command("import", "Import the metadata of a backup version from a file.", [
    pos("filename", "Import from this file ('-' is stdin)"),
  ]),
  CLEANUP,
  LS,
  STATS,
  command("diff-meta", "Compare the block lists of two versions.", [
    pos("version_uid1", "Left version uid"),
    pos("version_uid2", "Right version uid"),
  ]),
  DU,
  command("fuse", "Mount all backup versions as a FUSE filesystem.", [pos("mount", "Mountpoint")]),
  command("rekey", "Re-wrap the data keys of all blocks with the configured encryption key.", [
    pos("oldkey", "The old encryption key (hex), as it was in the config"),
  ]),
  command("migrate-encryption", "Create a new version with blocks re-encrypted to the latest encryption version.", [
    versionUid(),
  ]),
  command("add-tag", "Add a tag (or comma-separated tags) to a backup version.", [
    versionUid(),
    pos("name", "Tag name (or comma-separated tag names)"),
  ]),
  command("remove-tag", "Remove a tag (or comma-separated tags) from a backup version.", [
    versionUid(),
    pos("name", "Tag name (or comma-separated tag names)"),
  ]),
  command("expire", "Set or clear the expiration date of a backup version.", [
    versionUid(),
    pos("expire", "Expiration date (yyyy-mm-dd or \"yyyy-mm-dd HH:MM:SS\"); '' clears it"),
  ]),
  schedulerCommand("due", "Show which backups are due according to the schedulers.", DUE_FIELDS),
  schedulerCommand("sla", "Show SLA breaches according to the schedulers.", SLA_FIELDS),
  command("migrate-catalog", "Import a backy2 2.13.8 catalog into this catalog.", [
    pos(
      "engine",
      "The catalog to import: backy2 2.13.8's (sqlite:///PATH or postgresql://...) or an SQLite one of this tool",
    ),
  ]),
  NBD,
  ENFORCE,
  command("completion", "Print a shell completion script for backy2 (commands, flags, version uids and names).", [
    { name: "shell", help: "The shell to complete for", choices: ["bash", "zsh", "fish"] },
  ]),
  command("migrate-compression", "Create a new version with unencrypted blocks stored in the configured compression.", [
    versionUid(),
  ]),
  command("locks", "List the locks other backy2 processes hold (with a PostgreSQL catalog: on every host).", [], [
    fieldsOption(LOCKS_FIELDS),
  ]),
  command(
    "rebuild-catalog",
    "Rebuild the catalog (created if missing) from the metadata objects in the data backend; " +
      "versions it has already are skipped.",
    [],
  ),
  command(
    "check-store",
    "List differences between the catalog and the metadata objects in the data backend.",
    [],
    [flag(undefined, "--repair", "repair", "Write missing, stale or damaged metadata objects again from the catalog")],
  ),
];

/**
 * backy2's program surface: global options, then the 22 reference subcommands plus `migrate-catalog`,
 * `nbd`, `enforce`, `completion`, `migrate-compression`, `locks`, `rebuild-catalog` and `check-store`. The epilog (not in backy2) points to the settings that
 * have no flag.
 */
export const BACKY2_SPEC: ProgramSpec = {
  prog: "backy2",
  description: "Backup and restore for block devices.",
  epilog: "Prometheus metrics: set metrics_dir in [DEFAULTS] of backy.cfg to the node_exporter textfile " +
    "collector directory, and every command updates backy2.prom there. The README documents the --json " +
    "schema, the retention rules of enforce and the metrics.",
  globals: GLOBALS,
  commands: COMMANDS,
};
