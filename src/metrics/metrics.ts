/**
 * What `backy2.prom` holds, and how one command's run updates it. Pure: the caller reads the previous file and
 * the catalog, and writes the result (./write.ts).
 *
 * Each command rewrites the whole file, so the series of other commands and other version names are carried
 * over from the previous file; a run changes only its own `command` series, the series of the version name it
 * backed up or scrubbed, and (when it opened the catalog) the catalog-wide gauges. Series are labelled by
 * version name, never by uid, so that their number stays bounded.
 */
import type { Version } from "../catalog/catalog.ts";
import type { Family } from "./prom_text.ts";
import { parseCatalogTime } from "../util/clock.ts";

const DAY_SECONDS = 86_400;

/** Name, label and help of every family, in the order the file lists them. */
const DEFINITIONS: [string, string | null, string][] = [
  ["backy2_last_run_timestamp_seconds", "command", "When the last run of each backy2 command ended (Unix time)."],
  ["backy2_last_run_success", "command", "1 if the last run of each backy2 command exited with 0, else 0."],
  ["backy2_last_run_duration_seconds", "command", "How long the last run of each backy2 command took."],
  [
    "backy2_last_backup_timestamp_seconds",
    "version_name",
    "When the last successful backup of each version name ended (Unix time).",
  ],
  ["backy2_last_backup_bytes_read", "version_name", "Bytes the last successful backup of each name read."],
  ["backy2_last_backup_bytes_written", "version_name", "Bytes of new blocks the last successful backup wrote."],
  [
    "backy2_last_backup_bytes_stored",
    "version_name",
    "Bytes the new blobs of the last successful backup take in the block store.",
  ],
  [
    "backy2_versions",
    "state",
    "Versions in the catalog: valid, invalid (finished but damaged) and incomplete (backup not finished).",
  ],
  ["backy2_protected_versions", null, "Protected versions in the catalog."],
  [
    "backy2_incomplete_versions_older_than_1d",
    null,
    "Incomplete versions started more than a day ago: a backup that died and was never continued.",
  ],
  ["backy2_last_scrub_timestamp_seconds", "version_name", "When the last scrub of a version of each name ended."],
  ["backy2_last_scrub_invalid_blocks", "version_name", "Invalid blobs the last scrub of each name found."],
  ["backy2_store_bytes", null, "Plain size of all blobs the catalog records in the block store."],
];

/** Every family, empty. */
export function emptyFamilies(): Family[] {
  return DEFINITIONS.map(([name, label, help]) => ({ name, label, help, series: new Map() }));
}

/** Takes over the previous file's samples of the known families (with the right label shape). */
export function carryOver(families: Family[], previous: Map<string, Map<string, number>>): void {
  for (const family of families) {
    for (const [key, value] of previous.get(family.name) ?? []) {
      if ((family.label === null) === (key === "")) family.series.set(key, value);
    }
  }
}

export interface RunFacts {
  command: string;
  exitCode: number;
  finishedAt: Date;
  durationSeconds: number;
  /** Set after a successful backup. */
  backup?: { versionName: string; bytesRead: number; bytesWritten: number; bytesStored: number };
  /** Set after a scrub that ran to its end (exit 0 or 20). */
  scrub?: { versionName: string; invalidBlocks: number };
  /** Set when the command opened the catalog and it could be read afterwards. */
  catalog?: { versions: Version[]; storeBytes: number };
}

/** Updates `families` with what this run did. */
export function applyRun(families: Family[], facts: RunFacts): void {
  const set = (name: string, key: string, value: number) =>
    families.find((f) => f.name === name)!.series.set(key, value);
  const at = facts.finishedAt.getTime() / 1000;
  set("backy2_last_run_timestamp_seconds", facts.command, at);
  set("backy2_last_run_success", facts.command, facts.exitCode === 0 ? 1 : 0);
  set("backy2_last_run_duration_seconds", facts.command, facts.durationSeconds);
  if (facts.backup) {
    const { versionName, bytesRead, bytesWritten, bytesStored } = facts.backup;
    set("backy2_last_backup_timestamp_seconds", versionName, at);
    set("backy2_last_backup_bytes_read", versionName, bytesRead);
    set("backy2_last_backup_bytes_written", versionName, bytesWritten);
    set("backy2_last_backup_bytes_stored", versionName, bytesStored);
  }
  if (facts.scrub) {
    set("backy2_last_scrub_timestamp_seconds", facts.scrub.versionName, at);
    set("backy2_last_scrub_invalid_blocks", facts.scrub.versionName, facts.scrub.invalidBlocks);
  }
  if (facts.catalog) {
    const states = versionStates(facts.catalog.versions, at);
    for (const [state, count] of Object.entries(states.byState)) set("backy2_versions", state, count);
    set("backy2_protected_versions", "", states.protected);
    set("backy2_incomplete_versions_older_than_1d", "", states.staleIncomplete);
    set("backy2_store_bytes", "", facts.catalog.storeBytes);
  }
}

function versionStates(versions: Version[], nowSeconds: number) {
  const byState = { valid: 0, invalid: 0, incomplete: 0 };
  let protectedCount = 0;
  let staleIncomplete = 0;
  for (const version of versions) {
    if (version.protected) protectedCount++;
    if (version.inProgress) {
      byState.incomplete++;
      const started = parseCatalogTime(version.date).getTime() / 1000;
      if (nowSeconds - started > DAY_SECONDS) staleIncomplete++;
    } else if (version.valid) byState.valid++;
    else byState.invalid++;
  }
  return { byState, protected: protectedCount, staleIncomplete };
}
