/**
 * backy2's scheduler demo workflow (its `demo/` scripts) as a user scripts it (tests/demo/scheduler_workflow.sh),
 * sixteen days on a fake clock (`BACKY2_FAKE_NOW`): `due` decides, `backup -t SCHEDULERS -e EXPIRE` runs, `sla`
 * reports, expired versions are removed and `cleanup` frees their blobs.
 */
import { assertEquals, assertSameFile, BACKY2, ROOT, withSandbox } from "./helpers.ts";

const SCHEDULERS = `
[daily]
interval: 1d
keep: 3
sla: 6h

[weekly]
interval: 7d
keep: 2
sla: 1d
`;

Deno.test("scheduler workflow: due -> backup -> sla -> rm expired -> cleanup over 16 days", async () => {
  await withSandbox({}, async (sb) => {
    await Deno.writeTextFile(sb.config, SCHEDULERS, { append: true });
    await Deno.writeFile(sb.path("src.img"), crypto.getRandomValues(new Uint8Array(40000)));
    const output = await new Deno.Command("bash", {
      args: [
        `${ROOT}/tests/demo/scheduler_workflow.sh`,
        BACKY2,
        sb.config,
        sb.url("src.img"),
        "vm",
        "daily,weekly",
        "2026-01-01",
        "16",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assertEquals(output.code, 0, `workflow failed:\n${stdout}\n${new TextDecoder().decode(output.stderr)}`);
    const [days, sla] = stdout.split("final sla:\n");
    const backups = [...days.matchAll(/backup=(\S+)/g)].map((m) => m[1]);
    // One backup a day; the weekly scheduler is due on days 0, 7 and 14.
    assertEquals(backups, Array.from({ length: 16 }, (_, d) => d % 7 === 0 ? "daily,weekly" : "daily"));
    // A daily-only backup expires after (keep + 1) days; weekly ones after three weeks, so they stay and keep
    // their daily tag: 3 weekly + the 4 newest daily-only versions are left.
    const versions = await sb.versions();
    assertEquals(versions.length, 7);
    const removed = [...days.matchAll(/removed=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    assertEquals(removed, 16 - 7);
    assertEquals(versions.filter((v) => v.tags === "daily,weekly").length, 3);
    assertEquals(
      sla.split("\n").filter((line) => line !== ""),
      [
        "vm|daily: Too many backups. Found 7, should be 3.",
        ...slaRange(versions),
        "vm|daily: Backup too old. Found version_uid " +
        `${versions[0].uid} with backup date 2026-01-01 02:00:00. Oldest allowed date is 2026-01-11 20:00:00.`,
      ],
    );
    // The blobs of removed versions are gone, the rest still restores.
    await sb.restore(versions[versions.length - 1].uid, "restored.img");
    await assertSameFile(sb.path("restored.img"), sb.path("src.img"));
    const expired = await sb.run(["-ms", "ls", "-e"], { env: { BACKY2_FAKE_NOW: "2026-01-16T02:00:00" } });
    assertEquals(expired.stdout, "");
  });
});

/** The "not in SLA range" breaches the daily scheduler reports for gaps other than one day ± 6 h. */
function slaRange(versions: { uid: string; date: string }[]): string[] {
  const breaches: string[] = [];
  const at = (text: string) => new Date(`${text.replace(" ", "T")}Z`).getTime();
  const show = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ");
  const day = 86_400_000;
  const sla = 6 * 3_600_000;
  for (let i = 1; i < versions.length; i++) {
    const previous = at(versions[i - 1].date);
    const date = at(versions[i].date);
    if (date < previous + day - sla || date > previous + day + sla) {
      breaches.push(
        `vm|daily: Version ${versions[i].uid} is not in SLA range. It was created at ${versions[i].date} and ` +
          `should be between ${show(previous + day - sla)} and ${show(previous + day + sla)}.`,
      );
    }
  }
  return breaches;
}
