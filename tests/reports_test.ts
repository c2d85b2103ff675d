/**
 * CLI tests of the reports `stats`, `du`, `diff-meta`, `due` and `sla`: each test makes backups in a fresh
 * sandbox (at fake times where dates matter) and checks the exact table and `-m` output, exit codes and
 * error lines. The numbers are worked out by hand from the images' block contents.
 */
import {
  assert,
  assertEquals,
  type BlockKind,
  buildImage,
  COMPLETE,
  error,
  escapeRegExp,
  expectRun,
  FAILED,
  lockRefusal,
  Rng,
  type Sandbox,
  sandboxLocks,
  withSandbox,
} from "./helpers.ts";
import type { StatsRow } from "../src/catalog/catalog.ts";
import { renderReport, type ReportFlags } from "../src/output/report.ts";
import type { Usage } from "../src/engine/usage.ts";
import { STATS_FIELDS } from "../src/cli/cmd_stats.ts";
import { DU_FIELDS } from "../src/cli/cmd_du.ts";
import { fixtureDir } from "./fixture_path.ts";
import { DU_FIELDS as DU_DEFAULT, STATS_FIELDS as STATS_DEFAULT } from "../src/cli/spec.ts";

const BS = 4096;

// ---- The reference's captured tables ----

/** The table lines of a captured stdout (the INFO lines around it dropped). */
function goldenTable(name: string): string {
  const lines = Deno.readTextFileSync(`${fixtureDir()}/golden/${name}.stdout`).split("\n");
  return lines.filter((line) => line.startsWith("+") || line.startsWith("|")).join("\n") + "\n";
}

function goldenCells(name: string): string[][] {
  return Deno.readTextFileSync(`${fixtureDir()}/golden/${name}.stdout`).split("\n").filter((l) => l !== "").map((l) =>
    l.split("|")
  );
}

const TABLE: ReportFlags = { machine: false, skipHeader: false, humanReadable: false };

Deno.test({
  name: "the stats and du columns render the reference's captured tables byte for byte",
  fn() {
    const stats: StatsRow[] = goldenCells("stats_ms").map((c) => {
      const n = c.map(Number);
      return {
        date: c[0],
        versionUid: c[1],
        versionName: c[2],
        versionSizeBytes: n[3],
        versionSizeBlocks: n[4],
        bytesRead: n[5],
        blocksRead: n[6],
        bytesWritten: n[7],
        blocksWritten: n[8],
        bytesFoundDedup: n[9],
        blocksFoundDedup: n[10],
        bytesSparse: n[11],
        blocksSparse: n[12],
        durationSeconds: n[13],
      };
    });
    // backy2's columns are the default ones; ours come only with -f.
    const statsFields = STATS_DEFAULT.split(",");
    assertEquals(renderReport(statsFields, STATS_FIELDS, stats, TABLE), goldenTable("stats"));
    const human = { ...TABLE, humanReadable: true };
    assertEquals(renderReport(statsFields, STATS_FIELDS, stats, human), goldenTable("stats_r"));

    for (const [table, ms] of [["du_1", "du_m_1"], ["du_2", "du_m_2"]]) {
      const [header, values] = goldenCells(ms);
      const n = values.map(Number);
      const usage: Usage = {
        real: n[0],
        null: n[1],
        dedupOwn: n[2],
        dedupOthers: n[3],
        individual: n[4],
        estSpace: n[5],
        estSpaceFreed: n[6],
        stored: 0,
        estStored: 0,
        estStoredFreed: 0,
      };
      assertEquals(header, DU_DEFAULT.split(","));
      assertEquals(renderReport(header, DU_FIELDS, [usage], TABLE), goldenTable(table), table);
    }
  },
});

/** Backs up `kinds` (the last block cut to `size`) as NAME at the fake time `at`; returns the uid. */
async function backupAt(
  sb: Sandbox,
  rng: Rng,
  kinds: BlockKind[],
  options: { name?: string; at?: string; tags?: string; size?: number; file?: string } = {},
): Promise<string> {
  const file = options.file ?? "disk.img";
  await Deno.writeFile(sb.path(file), buildImage(rng, BS, kinds, options.size));
  const tags = options.tags ? ["-t", options.tags] : [];
  const env: Record<string, string> = options.at ? { BACKY2_FAKE_NOW: options.at } : {};
  return await sb.backup([...tags, sb.url(file), options.name ?? "vm"], { env });
}

/** Runs `backy2 -m ARGS` (with extra environment), requires exit 0 and no errors, and returns stdout. */
async function machine(sb: Sandbox, args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await sb.run(["-m", ...args], { env });
  expectRun(result, { code: 0, stderr: "" }, args.join(" "));
  return result.stdout;
}

// ---- stats ----

const STATS_HEADER = "date|uid|name|size bytes|size blocks|bytes read|blocks read|bytes written|blocks written|" +
  "bytes dedup|blocks dedup|bytes sparse|blocks sparse|duration (s)";

Deno.test("stats lists one row per backup run with the bytes read, written, deduplicated and sparse", async () => {
  await withSandbox({}, async (sb) => {
    // Three data blocks, two zero blocks (a full read does not count them as sparse, as in the reference), and a
    // partial last block of 1000 bytes: 21480 bytes in 6 blocks, of which 3 × 4096 + 1000 = 13288 are written.
    const kinds: BlockKind[] = ["random", "zero", "random", "zero", "random", "random"];
    const first = await backupAt(sb, new Rng(1), kinds, { at: "2024-02-01T10:00:00", size: 21480 });
    // The same image again: every block is found in the store, nothing is written.
    const second = await backupAt(sb, new Rng(1), kinds, { at: "2024-02-02T11:30:00", size: 21480 });

    const row1 = `2024-02-01 10:00:00|${first}|vm|21480|6|21480|6|13288|4|0|0|0|0|0`;
    const row2 = `2024-02-02 11:30:00|${second}|vm|21480|6|21480|6|0|0|0|0|0|0|0`;
    assertEquals(await machine(sb, ["stats"]), `${STATS_HEADER}\n${row1}\n${row2}\n`);
    assertEquals(await machine(sb, ["-s", "stats"]), `${row1}\n${row2}\n`);

    const rule = "+---------------------+--------------------------------------+------+------------+-------------+" +
      "------------+-------------+---------------+----------------+-------------+--------------+--------------+" +
      "---------------+--------------+\n";
    const header = "|         date        |                 uid                  | name | size bytes | size blocks |" +
      " bytes read | blocks read | bytes written | blocks written | bytes dedup | blocks dedup | bytes sparse |" +
      " blocks sparse | duration (s) |\n";
    const row = (date: string, uid: string, written: string, blocks: string) =>
      `| ${date} | ${uid} | vm   | ${"21480".padStart(10)} |           6 | ${"21480".padStart(10)} |           6 |` +
      ` ${written.padStart(13)} | ${blocks.padStart(14)} |           0 |            0 |            0 |` +
      "             0 |            0 |\n";
    const table = rule + header + rule + row("2024-02-01 10:00:00", first, "13288", "4") +
      row("2024-02-02 11:30:00", second, "0", "0") + rule;
    expectRun(await sb.run(["stats"]), { code: 0, stderr: "", stdout: sb.commandLine(["stats"]) + table + COMPLETE });

    // -r humanizes the byte columns only.
    assertEquals(
      await machine(sb, ["-rs", "stats", first]),
      `2024-02-01 10:00:00|${first}|vm|21 KiB|6|21 KiB|6|13 KiB|4|0|0|0|0|0\n`,
    );
  });
});

Deno.test("stats -l keeps the newest rows, -f selects fields, a uid selects its rows", async () => {
  await withSandbox({}, async (sb) => {
    const rng = new Rng(2);
    const a = await backupAt(sb, rng, ["random"], { at: "2024-02-01T00:00:00" });
    const b = await backupAt(sb, rng, ["random"], { at: "2024-02-03T00:00:00", name: "db" });
    const c = await backupAt(sb, rng, ["random"], { at: "2024-02-02T00:00:00" });
    const fields = ["-f", "uid, name,date"];
    assertEquals(await machine(sb, ["-s", "stats", ...fields]), [a, c, b].map(uidRow).join(""), "ordered by date");
    assertEquals(await machine(sb, ["-s", "stats", ...fields, "-l", "2"]), [c, b].map(uidRow).join(""));
    assertEquals(await machine(sb, ["-s", "stats", ...fields, "-l", " 1 "]), uidRow(b));
    assertEquals(await machine(sb, ["-s", "stats", ...fields, "-l", ""]), [a, c, b].map(uidRow).join(""), "no limit");
    assertEquals(await machine(sb, ["-s", "stats", "-l", "0"]), "");
    assertEquals(await machine(sb, ["-s", "stats", ...fields, "-l", "-1"]), [a, c, b].map(uidRow).join(""), "all");
    assertEquals(await machine(sb, ["-s", "stats", ...fields, "-l", "-5"]), [a, c, b].map(uidRow).join(""), "all");
    assertEquals(await machine(sb, ["stats", "-f", "name", "-l", "0"]), "name\n");
    assertEquals(await machine(sb, ["-s", "stats", ...fields, b]), uidRow(b));
    // With a uid, -l is honoured too (the reference ignores it unless it is below 1).
    assertEquals(await machine(sb, ["-s", "stats", ...fields, c, "-l", "1"]), uidRow(c));
    assertEquals(await machine(sb, ["-s", "stats", c, "-l", "0"]), "");
    assertEquals(await machine(sb, ["-s", "stats", "no-such-uid"]), "", "an unknown uid has no rows");

    function uidRow(uid: string): string {
      const dates: Record<string, string> = { [a]: "2024-02-01", [b]: "2024-02-03", [c]: "2024-02-02" };
      return `${uid}|${uid === b ? "db" : "vm"}|${dates[uid]} 00:00:00\n`;
    }
  });
});

Deno.test("stats rejects a non-integer limit and an unknown field like the reference", async () => {
  await withSandbox({}, async (sb) => {
    await backupAt(sb, new Rng(3), ["random"]);
    const args = ["stats", "-l", "x"];
    expectRun(await sb.run(args), {
      code: 100,
      stdout: sb.commandLine(args),
      stderr: error("invalid literal for int() with base 10: 'x'") + FAILED,
    });
    expectRun(await sb.run(["-m", "stats", "-f", "name,nope"]), {
      code: 100,
      stdout: "",
      stderr: error("'nope'") + FAILED,
    });
  });
});

// ---- du and diff-meta ----

/**
 * Three versions over blobs A–E: vm#1 = [A, B, B, 0, C], vm#2 = [A, D, 0, 0, C, E(1000 bytes)], web = vm#2 again.
 * Blocks using each blob across all versions: A 3, B 2, C 3, D 2, E 2.
 */
async function usageSandbox(sb: Sandbox): Promise<{ v1: string; v2: string; web: string }> {
  const a = new Rng(10).bytes(BS);
  const image1 = buildImage(new Rng(11), BS, ["random", "random", { copyOf: 1 }, "zero", "random"]);
  image1.set(a, 0);
  const c = image1.slice(4 * BS);
  const image2 = buildImage(new Rng(12), BS, ["random", "random", "zero", "zero", "random", "random"], 5 * BS + 1000);
  image2.set(a, 0);
  image2.set(c, 4 * BS);
  await Deno.writeFile(sb.path("one.img"), image1);
  await Deno.writeFile(sb.path("two.img"), image2);
  const v1 = await sb.backup([sb.url("one.img"), "vm"], { env: { BACKY2_FAKE_NOW: "2024-01-01T00:00:00" } });
  const v2 = await sb.backup([sb.url("two.img"), "vm"], { env: { BACKY2_FAKE_NOW: "2024-01-02T00:00:00" } });
  const web = await sb.backup([sb.url("two.img"), "web"], { env: { BACKY2_FAKE_NOW: "2024-01-01T00:00:00" } });
  return { v1, v2, web };
}

const DU_HEADER = "Real|Null|Dedup Own|Dedup Others|Individual|Est. Space|Est. Space freed";
// vm#1: A and C are shared (Dedup Others), B twice only here (Dedup Own once, freed once);
// Est. Space = 4096/3 + 4096/2 + 4096/3 = 4778.67.
const DU_V1 = "16384|4096|4096|8192|0|4779|4096";
// vm#2 and web: everything shared; Est. Space = 4096/3 + 4096/2 + 4096/3 + 1000/2 = 5278.67.
const DU_V2 = "13288|8192|0|13288|0|5279|0";

Deno.test("du reports real, sparse, shared and freeable bytes per version", async () => {
  await withSandbox({}, async (sb) => {
    const { v1, v2 } = await usageSandbox(sb);
    assertEquals(await machine(sb, ["du", v1]), `${DU_HEADER}\n${DU_V1}\n`);
    assertEquals(await machine(sb, ["du", v2]), `${DU_HEADER}\n${DU_V2}\n`);
    assertEquals(await machine(sb, ["-s", "du"]), `${DU_V1}\n${DU_V2}\n${DU_V2}\n`, "all versions in ls order");
    assertEquals(await machine(sb, ["-rs", "du", v1]), "16 KiB|4 KiB|4 KiB|8 KiB|0|5 KiB|4 KiB\n");
    assertEquals(await machine(sb, ["-s", "du", v1, "-f", "Est. Space,Real"]), "4779|16384\n");

    const rule = "+-------+------+-----------+--------------+------------+------------+------------------+\n";
    const table = rule +
      "|  Real | Null | Dedup Own | Dedup Others | Individual | Est. Space | Est. Space freed |\n" + rule +
      "| 16384 | 4096 |      4096 |         8192 |          0 |       4779 |             4096 |\n" + rule;
    expectRun(await sb.run(["du", v1]), { code: 0, stderr: "", stdout: sb.commandLine(["du", v1]) + table + COMPLETE });

    // Removing vm#1 frees B; vm#2's blobs A and C are then shared with web only.
    expectRun(await sb.run(["-m", "rm", "-f", v1]), { code: 0, stderr: "", stdout: "" });
    assertEquals(await machine(sb, ["-s", "du", v2]), "13288|8192|0|13288|0|6644|0\n");
  });
});

Deno.test("du of an unknown or locked version fails", async () => {
  await withSandbox({}, async (sb) => {
    const uid = await backupAt(sb, new Rng(4), ["random"]);
    expectRun(await sb.run(["du", "nope"]), {
      code: 100,
      stdout: sb.commandLine(["du", "nope"]),
      stderr: error("'Version nope not found.'") + FAILED,
    });
    // Another process writing the version holds its lock exclusively.
    const locks = sandboxLocks(sb);
    try {
      assert(await locks.tryAcquire(uid, "exclusive"), "the test holds the version");
      expectRun(await sb.run(["-m", "du", uid]), {
        code: 100,
        stdout: "",
        stderr: new RegExp(`^${lockRefusal(`Version ${uid} is locked.`)}${escapeRegExp(FAILED)}$`),
      });
    } finally {
      await locks.close();
    }
    assertEquals(await machine(sb, ["-s", "du", uid]), "4096|0|0|0|4096|4096|4096\n");
  });
});

Deno.test("diff-meta compares blocks by blob and marks blocks only one side has", async () => {
  await withSandbox({}, async (sb) => {
    const { v1, v2 } = await usageSandbox(sb);
    const same = (id: number) => `SAME      ${id}\n`;
    const diff = (id: number) => `DIFF      ${id}\n`;
    // A|A, B|D, B|0, 0|0, C|C, -|E
    const lines = same(0) + diff(1) + diff(2) + same(3) + same(4);
    const args = ["diff-meta", v1, v2];
    expectRun(await sb.run(args), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args) + lines + "NEW RIGHT 5\n" + COMPLETE,
    });
    // Printed to stdout even with -m.
    expectRun(await sb.run(["-m", "diff-meta", v2, v1]), { code: 0, stderr: "", stdout: lines + "NEW LEFT  5\n" });
    expectRun(await sb.run(["-m", "diff-meta", v1, "nope"]), {
      code: 100,
      stdout: "",
      stderr: error("'Version nope not found.'") + FAILED,
    });
  });
});

// ---- due and sla ----

const SCHEDULERS = [
  "[daily]",
  "interval: 1d",
  "keep: 3",
  "sla: 6h",
  "",
  "[weekly]",
  "interval: 7d",
  "keep: 2",
  "sla: 12h",
  "",
  "[never]",
  "interval: 1h",
  "keep: 0",
  "sla: 1h",
  "",
];

/**
 * vm: backups tagged daily at 03-01 02:00 (also weekly), 03-02 02:00 and 03-03 09:00 (31 h after the previous
 * one, outside 24 h ± 6 h); db: one backup without scheduler tags.
 */
async function scheduledSandbox(sb: Sandbox): Promise<string[]> {
  await Deno.writeTextFile(sb.config, "\n" + SCHEDULERS.join("\n"), { append: true });
  const rng = new Rng(5);
  const uids = [
    await backupAt(sb, rng, ["random"], { at: "2024-03-01T02:00:00", tags: "daily,weekly" }),
    await backupAt(sb, rng, ["random"], { at: "2024-03-02T02:00:00", tags: "daily" }),
    await backupAt(sb, rng, ["random"], { at: "2024-03-03T09:00:00", tags: "daily" }),
  ];
  await backupAt(sb, rng, ["random"], { at: "2024-03-03T01:00:00", tags: "manual", name: "db" });
  return uids;
}

const at = (time: string) => ({ BACKY2_FAKE_NOW: time });

Deno.test("due lists the due schedulers per name with expire date and due since, oldest due first", async () => {
  await withSandbox({}, async (sb) => {
    await scheduledSandbox(sb);
    // vm's daily is due 24 h - 6 h after its last backup: 2024-03-04 03:00; its weekly not before 03-07 14:00.
    // db has no scheduler backups at all: due since the epoch, expire after (2 + 1) weeks.
    const header = "name|schedulers|expire_date|due_since\n";
    const db = "db|daily,weekly|2024-03-25 05:00:00|1970-01-01 00:00:00\n";
    const vm = "vm|daily|2024-03-08 05:00:00|2024-03-04 03:00:00\n";
    const now = at("2024-03-04T05:00:00");
    assertEquals(await machine(sb, ["due", "-s", "daily,weekly"], now), header + db + vm);
    assertEquals(
      await machine(sb, ["-s", "due", "-s", " weekly , daily "], now),
      db.replace("daily,weekly", "weekly,daily") + vm,
    );
    assertEquals(await machine(sb, ["-s", "due", "vm", "-s", "daily,weekly"], now), vm);
    assertEquals(
      await machine(sb, ["-s", "due", "-s", "daily", "-f", "due_since,name"], now),
      "1970-01-01 00:00:00|db\n2024-03-04 03:00:00|vm\n",
    );
    assertEquals(await machine(sb, ["due", "vm", "-s", "daily,weekly"], at("2024-03-04T03:00:00")), header, "not yet");
    assertEquals(await machine(sb, ["due", "-s", "never"], now), header, "keep 0 is never due");
    assertEquals(
      await machine(sb, ["-s", "due", "newvm", "-s", "weekly"], now),
      "newvm|weekly|2024-03-25 05:00:00|1970-01-01 00:00:00\n",
    );

    const rule = "+------+------------+---------------------+---------------------+\n";
    const table = rule + "| name | schedulers |     expire_date     |      due_since      |\n" + rule +
      "| vm   | daily      | 2024-03-08 05:00:00 | 2024-03-04 03:00:00 |\n" + rule;
    const args = ["due", "vm", "-s", "daily"];
    expectRun(await sb.run(args, { env: now }), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args) + table + COMPLETE,
    });

    const verbose = await sb.run(["-v", "due", "db", "-s", "daily"], { env: now });
    expectRun(verbose, { code: 0, stderr: "" });
    assertEquals(
      verbose.stdout.split("\n").filter((line) => line.includes("DUE: ")),
      ["   DEBUG: [backy2.logging] DUE: Last backup for db not found, so it is due."],
    );
  });
});

Deno.test("sla reports every breach per name and scheduler", async () => {
  await withSandbox({}, async (sb) => {
    const [u1, , u3] = await scheduledSandbox(sb);
    const now = at("2024-03-05T12:00:00");
    const expected = [
      "name|breach",
      "db|daily: Too few backups. Found 0, should be 3.",
      "db|weekly: Too few backups. Found 0, should be 2.",
      `vm|daily: Latest backup is too old. Version ${u3} has date 2024-03-03 09:00:00, new backup due since ` +
      "2024-03-04 15:00:00.",
      `vm|daily: Version ${u3} is not in SLA range. It was created at 2024-03-03 09:00:00 and should be between ` +
      "2024-03-02 20:00:00 and 2024-03-03 08:00:00.",
      // now - 3 × 1 d - 6 h - 1 d
      `vm|daily: Backup too old. Found version_uid ${u1} with backup date 2024-03-01 02:00:00. Oldest allowed date ` +
      "is 2024-03-01 06:00:00.",
      "vm|weekly: Too few backups. Found 1, should be 2.",
      "",
    ];
    assertEquals(await machine(sb, ["sla", "-s", "daily,weekly"], now), expected.join("\n"));
    assertEquals(
      await machine(sb, ["-s", "sla", "vm", "-s", "weekly", "-f", "breach"], now),
      "weekly: Too few backups. Found 1, should be 2.\n",
    );
    // Right after the third backup, vm's only problem is the spacing.
    assertEquals(
      await machine(sb, ["-s", "sla", "vm", "-s", "daily,never"], at("2024-03-03T10:00:00")),
      expected[4] + "\n",
    );

    const rule = "+------+-----------------------------------------------+\n";
    const table = rule + "| name | breach                                        |\n" + rule +
      "| db   | daily: Too few backups. Found 0, should be 3. |\n" + rule;
    const args = ["sla", "db", "-s", "daily"];
    // Breaches are no failure: exit 0.
    expectRun(await sb.run(args, { env: now }), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args) + table + COMPLETE,
    });
  });
});

Deno.test("due and sla fail on a scheduler section the config does not have", async () => {
  await withSandbox({}, async (sb) => {
    await scheduledSandbox(sb);
    for (const command of ["due", "sla"]) {
      const args = [command, "-s", "daily,nope"];
      expectRun(await sb.run(args), {
        code: 100,
        stdout: sb.commandLine(args),
        stderr: error("No section: 'nope'") + FAILED,
      });
    }
    expectRun(await sb.run(["-m", "due"]), { code: 100, stdout: "", stderr: error("No section: 'monthly'") + FAILED });
  });
});
