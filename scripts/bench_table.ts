/**
 * scripts/bench's result table: the row every job yields, the performance targets checked against rows of the
 * same run (ours against restic's, against the hash rate, against an RSS bound), and the Markdown table it prints.
 */

export interface Row {
  job: string;
  seconds: number;
  mibPerSec?: number;
  rssMiB: number;
  /** `du` of the store's data after this job, MiB. */
  storeMiB?: number;
  note?: string;
  /** Names the row for the targets, e.g. `ours.image.first` or `restic.image.restore`. */
  key?: string;
  target?: string;
}

const rssLimitMiB = 200;
const restoreFactor = 1.5;
const backupFactor = 1.5;
const rebackupShare = 0.85;

/** Fills the target column of the rows that have a performance target. */
export function applyTargets(rows: Row[], hashRate: number): void {
  const byKey = new Map(rows.filter((row) => row.key).map((row) => [row.key!, row]));
  const add = (key: string, text: string) => {
    const row = byKey.get(key);
    if (row) row.target = row.target ? `${row.target}; ${text}` : text;
  };
  const verdict = (met: boolean) => met ? "met" : "MISSED";
  const restic = (key: string) => byKey.get(`restic.image.${key}`);

  for (const [ours, theirs] of [["first", "first"], ["second", "second"], ["hinted", "second"]]) {
    const mine = byKey.get(`ours.image.${ours}`)?.storeMiB;
    const peer = restic(theirs)?.storeMiB;
    add(
      `ours.image.${ours}`,
      mine === undefined || peer === undefined
        ? "store ≤ restic's: needs --peers"
        : `store ≤ restic's ${peer.toFixed(0)} MiB: ${verdict(mine <= peer)}`,
    );
  }
  for (const [key, factor] of [["first", backupFactor], ["restore", restoreFactor]] as const) {
    const mine = byKey.get(`ours.image.${key}`)?.mibPerSec;
    const peer = restic(key)?.mibPerSec;
    add(
      `ours.image.${key}`,
      mine === undefined || peer === undefined
        ? `≥ ${factor}× restic's MiB/s: needs --peers`
        : `≥ ${factor}× restic's ${peer.toFixed(0)} MiB/s: ${verdict(mine >= factor * peer)}`,
    );
  }
  const rebackup = byKey.get("ours.file.rebackup")?.mibPerSec;
  if (rebackup !== undefined) {
    add(
      "ours.file.rebackup",
      `≥ ${rebackupShare * 100} % of hash rate: ${verdict(rebackup >= rebackupShare * hashRate)}`,
    );
  }
  for (const key of ["ours.file.first", "ours.image.first"]) {
    const rss = byKey.get(key)?.rssMiB;
    if (rss !== undefined) add(key, `RSS ≤ ${rssLimitMiB} MiB: ${verdict(rss <= rssLimitMiB)}`);
  }
}

/** Prints the rows as a Markdown table; MiB/s is also shown as a share of the baseline hash rate. */
export function printTable(rows: Row[], hashRate: number): void {
  console.log("| job | seconds | MiB/s | ratio to hash rate | peak RSS MiB | store MiB | note | target |");
  console.log("|---|---:|---:|---:|---:|---:|---|---|");
  for (const row of rows) {
    const mibs = row.mibPerSec === undefined ? "" : row.mibPerSec.toFixed(0);
    const ratio = row.mibPerSec === undefined ? "" : `${((row.mibPerSec / hashRate) * 100).toFixed(0)} %`;
    const rss = row.rssMiB ? row.rssMiB.toFixed(0) : "";
    const store = row.storeMiB === undefined ? "" : row.storeMiB.toFixed(0);
    const cells = [row.job, row.seconds.toFixed(2), mibs, ratio, rss, store, row.note ?? "", row.target ?? ""];
    console.log(`| ${cells.join(" | ")} |`);
  }
}
