/**
 * CLI tests of `backy2 enforce RULES [NAME ...]` on a fake clock (`BACKY2_FAKE_NOW`, as the scheduler tests
 * use it): the dry run lists every version with its action and reasons and changes nothing, `--force` removes
 * through `rm`'s path (a locked version fails, the rest go on), and protected, young, invalid and incomplete
 * versions stay whatever the rules say. Bad rules fail with one line naming the bad part.
 */
import {
  assert,
  assertEquals,
  buildImage,
  expectRun,
  openSandboxCatalog,
  parseMachineRows,
  Rng,
  type Sandbox,
  sandboxLocks,
  TEST_HOLDER,
  testCatalogKind,
  withSandbox,
} from "./helpers.ts";

const NOW = { BACKY2_FAKE_NOW: "2026-01-11T00:00:00" };

/** A backup of a small image made at `date` (UTC). */
async function backupAt(sb: Sandbox, date: string, name = "vm"): Promise<string> {
  return await sb.backup([sb.url("disk.img"), name], { env: { BACKY2_FAKE_NOW: date } });
}

/** White-box: a version a backup started at `date` and never finished (in progress, invalid). */
async function incompleteAt(sb: Sandbox, date: string): Promise<string> {
  Deno.env.set("BACKY2_FAKE_NOW", date);
  const catalog = await openSandboxCatalog(sb);
  try {
    return (await catalog.createVersion({
      name: "vm",
      snapshotName: "",
      size: 2,
      sizeBytes: 8192,
      blockSize: 4096,
      hashFunction: "sha512",
    })).uid;
  } finally {
    await catalog.close();
    Deno.env.delete("BACKY2_FAKE_NOW");
  }
}

async function markInvalid(sb: Sandbox, uid: string): Promise<void> {
  const catalog = await openSandboxCatalog(sb);
  try {
    await catalog.setVersionValid(uid, false);
  } finally {
    await catalog.close();
  }
}

interface Fixture {
  uids: Record<string, string>;
}

/** vm: versions A..H over ten days (A protected, D invalid, E incomplete); db: one version. */
async function makeVersions(sb: Sandbox): Promise<Fixture> {
  await Deno.writeFile(sb.path("disk.img"), buildImage(new Rng(11), 4096, ["random", "random"], 8192));
  const uids: Record<string, string> = {};
  uids.A = await backupAt(sb, "2026-01-01T10:00:00");
  uids.B = await backupAt(sb, "2026-01-02T10:00:00");
  uids.C = await backupAt(sb, "2026-01-02T12:00:00");
  uids.D = await backupAt(sb, "2026-01-05T10:00:00");
  uids.H = await backupAt(sb, "2026-01-07T10:00:00");
  uids.E = await incompleteAt(sb, "2026-01-08T10:00:00");
  uids.F = await backupAt(sb, "2026-01-09T10:00:00");
  uids.G = await backupAt(sb, "2026-01-10T10:00:00");
  uids.X = await backupAt(sb, "2026-01-01T10:00:00", "db");
  expectRun(await sb.run(["protect", uids.A]), { code: 0 }, "protect");
  await markInvalid(sb, uids.D);
  return { uids };
}

const YOUNG = "younger than 2 days (disallow_rm_when_younger_than_days)";

/** What latest1,days5 at NOW decides for vm, by letter. */
const EXPECTED: Record<string, [string, string]> = {
  A: ["keep", "protected"],
  B: ["remove", "no rule keeps it"],
  C: ["remove", "no rule keeps it"],
  D: ["keep", "invalid: not counted by the rules and never removed by enforce"],
  H: ["keep", "days5"],
  E: ["keep", "incomplete: backup -c may still continue it"],
  F: ["keep", `days5, ${YOUNG}`],
  G: ["keep", `latest1, days5, ${YOUNG}`],
};

function byLetter(fixture: Fixture, rows: Record<string, string>[]): Record<string, [string, string]> {
  const letters = Object.fromEntries(Object.entries(fixture.uids).map(([letter, uid]) => [uid, letter]));
  return Object.fromEntries(rows.map((row) => [letters[row.uid], [row.action, row.reason]]));
}

Deno.test("enforce: a dry run lists each version's action and reasons and removes nothing", async () => {
  await withSandbox({ extraDefaults: ["disallow_rm_when_younger_than_days: 2"] }, async (sb) => {
    const fixture = await makeVersions(sb);
    const dry = await sb.run(["-m", "enforce", "latest1,days5", "vm"], { env: NOW });
    expectRun(dry, { code: 0, stderr: "" }, "dry run");
    assertEquals(dry.stdout.split("\n")[0], "name|date|uid|action|reason");
    assertEquals(byLetter(fixture, parseMachineRows(dry.stdout)), EXPECTED);
    assertEquals((await sb.versions()).length, 9, "nothing removed");

    const table = await sb.run(["enforce", "latest1,days5"], { env: NOW });
    expectRun(table, { code: 0 }, "table");
    assert(table.stdout.includes("would remove 2 versions and keep 7 (dry run; --force removes)."), table.stdout);
    assert(/\| db +\| 2026-01-01 10:00:00 \| [0-9a-f-]+ \| keep +\| latest1 +\|/.test(table.stdout), table.stdout);

    const json = await sb.run(["--json", "enforce", "latest1,days5", "vm"], { env: NOW });
    expectRun(json, { code: 0 }, "json");
    const rows = JSON.parse(json.stdout) as { uid: string; date: string; action: string; reason: string[] }[];
    const g = rows.find((row) => row.uid === fixture.uids.G)!;
    assertEquals([g.date, g.action, g.reason], ["2026-01-10T10:00:00.000000Z", "keep", ["latest1", "days5", YOUNG]]);
  });
});

Deno.test("enforce --force removes what no rule keeps through rm's lock, and reports a locked one", async () => {
  await withSandbox({ extraDefaults: ["disallow_rm_when_younger_than_days: 2"] }, async (sb) => {
    const fixture = await makeVersions(sb);
    const locks = sandboxLocks(sb);
    assert(await locks.tryAcquire(fixture.uids.B, "shared"), "the test holds B");
    const locked = await sb.run(["-m", "enforce", "--force", "latest1,days5", "vm"], { env: NOW });
    await locks.close();
    expectRun(locked, { code: 100 }, "one removal fails");
    // Leases (a PostgreSQL catalog) name who holds the lock; flock files cannot.
    const { command, pid, host } = TEST_HOLDER;
    const holder = testCatalogKind() === "sqlite" ? "." : ` by ${command} (pid ${pid}) on host ${host} since `;
    const isLocked = `Version ${fixture.uids.B} is locked${holder}`;
    assert(locked.stderr.includes(`Cannot remove version ${fixture.uids.B}: '${isLocked}`), locked.stderr);
    const rows = byLetter(fixture, parseMachineRows(locked.stdout));
    assertEquals(rows.B[0], "failed");
    assert(rows.B[1].startsWith(`no rule keeps it, ${isLocked}`), rows.B[1]);
    assertEquals(rows.C, ["removed", "no rule keeps it"]);

    const forced = await sb.run(["--json", "enforce", "-f", "latest1,days5", "vm"], { env: NOW });
    expectRun(forced, { code: 0 }, "force");
    assert(forced.stderr.includes(`Removed backup version ${fixture.uids.B} with 2 blocks.`), forced.stderr);
    const left = (await sb.versions()).map((v) => v.uid).sort();
    const expected = ["A", "D", "E", "F", "G", "H", "X"].map((letter) => fixture.uids[letter]).sort();
    assertEquals(left, expected);
    // Run again: nothing more to remove.
    const again = await sb.run(["-m", "enforce", "-f", "latest1,days5", "vm"], { env: NOW });
    assert(!again.stdout.includes("|removed|"), again.stdout);
  });
});

Deno.test("enforce: bad rules fail with one line naming the bad part and change nothing", async () => {
  await withSandbox({}, async (sb) => {
    await Deno.writeFile(sb.path("disk.img"), new Uint8Array(4096).fill(1));
    await backupAt(sb, "2026-01-01T00:00:00");
    for (
      const [rules, line] of [
        [
          "latest3,dayz30",
          "Bad retention rule 'dayz30': a rule is latestN, hoursN, daysN, weeksN, monthsN or " +
          "yearsN with a whole number N.",
        ],
        ["days0", "Bad retention rule 'days0': N must be at least 1."],
        ["days1,days2", "Bad retention rule 'days2': days is given twice."],
        [
          "",
          "Bad retention rule '': an empty rule; give comma-separated rules, e.g. " +
          "latest3,hours24,days30,weeks12,months12,years3.",
        ],
      ]
    ) {
      const result = await sb.run(["enforce", "-f", rules], { env: NOW });
      expectRun(result, { code: 100 }, rules);
      assertEquals(result.stderr.split("\n").filter((l) => l.includes("Bad retention rule")), [
        `   ERROR: [backy2.logging] ${line}`,
      ]);
    }
    assertEquals((await sb.versions()).length, 1);
  });
});
