/**
 * contrib/systemd: the units pass `systemd-analyze verify` (any warning fails) in a temporary root where they
 * are installed as the README says, with the hardening `systemd-analyze security` reports; and the job script
 * they run (contrib/systemd/backy2-job) works against a sandbox config on a fake clock (`BACKY2_FAKE_NOW`):
 * `due` skips a backup that is not due, a due one gets the schedulers' tags and expiry, an rbd:// source is
 * backed up from a new snapshot differentially (`-f` the previous version) with the old snapshot removed
 * (a fake `rbd` CLI keeps snapshots as files, and a wrapper hands them to backy2 as file:// sources), and the
 * scrub and cleanup jobs go through every version.
 */
import {
  assert,
  assertEquals,
  assertFileBytes,
  assertMatch,
  BACKY2,
  describeRun,
  expectRun,
  ROOT,
  type RunResult,
  Sandbox,
  withSandbox,
} from "./helpers.ts";
import { ensureCommands } from "./debian.ts";

const UNITS = `${ROOT}/contrib/systemd`;
const JOB = `${UNITS}/backy2-job`;
const decoder = new TextDecoder();

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

async function run(program: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const output = await new Deno.Command(program, { args, env, stdout: "piped", stderr: "piped" }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    signal: output.signal,
  };
}

/** A root with the units in /etc/systemd/system, the job and a backy2 where the units expect them. */
async function installedRoot(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "backy2-systemd-root-" });
  for (const dir of ["etc/systemd/system", "usr/local/bin", "usr/local/lib/backy2", "usr/lib/systemd"]) {
    await Deno.mkdir(`${root}/${dir}`, { recursive: true });
  }
  // The targets the units refer to (timers.target, network-online.target, ...) come from the host's systemd.
  expectRun(await run("cp", ["-a", "/usr/lib/systemd/system", `${root}/usr/lib/systemd/`]), { code: 0 });
  for (const entry of Deno.readDirSync(UNITS)) {
    if (/\.(service|timer)$/.test(entry.name)) {
      await Deno.copyFile(`${UNITS}/${entry.name}`, `${root}/etc/systemd/system/${entry.name}`);
    }
  }
  await Deno.copyFile(JOB, `${root}/usr/local/lib/backy2/backy2-job`);
  await Deno.writeTextFile(`${root}/usr/local/bin/backy2`, `#!/bin/sh\nexec ${BACKY2} "$@"\n`, { mode: 0o755 });
  return root;
}

const UNIT_NAMES = [
  "backy2-backup@vm1.service",
  "backy2-backup@vm1.timer",
  "backy2-scrub.service",
  "backy2-scrub.timer",
  "backy2-cleanup.service",
  "backy2-cleanup.timer",
];

Deno.test("systemd: every unit passes systemd-analyze verify without a warning, hardened", async () => {
  await ensureCommands({ "systemd-analyze": "systemd" });
  const root = await installedRoot();
  try {
    for (const unit of UNIT_NAMES) {
      const verified = await run("systemd-analyze", ["verify", `--root=${root}`, unit]);
      expectRun(verified, { code: 0, stdout: "", stderr: "" }, unit);
    }
    // The check is real: a misspelt key is reported (as a warning, which the loop above does not allow).
    const unit = `${root}/etc/systemd/system/backy2-scrub.service`;
    await Deno.writeTextFile(unit, (await Deno.readTextFile(unit)).replace("PrivateTmp=", "PrivateTemp="));
    const broken = await run("systemd-analyze", ["verify", `--root=${root}`, "backy2-scrub.service"]);
    assertMatch(broken.stderr, /Unknown key 'PrivateTemp'/);
    await Deno.copyFile(`${UNITS}/backy2-scrub.service`, unit);

    for (const service of UNIT_NAMES.filter((u) => u.endsWith(".service"))) {
      const security = await run("systemd-analyze", ["security", "--offline=true", `--root=${root}`, service]);
      assertEquals(security.code, 0, describeRun(security));
      for (const setting of ["ProtectSystem", "ProtectHome", "PrivateTmp", "NoNewPrivileges"]) {
        assertMatch(security.stdout, new RegExp(`✓ ${setting}=`), `${service} ${setting}`);
      }
    }
    const backup = await Deno.readTextFile(`${UNITS}/backy2-backup@.service`);
    for (
      const line of ["Nice=19", "IOSchedulingClass=idle", "ProtectSystem=strict", "ReadWritePaths=/var/lib/backy2"]
    ) {
      assert(backup.split("\n").includes(line), `backy2-backup@.service lacks ${line}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Runs `backy2-job ARGS` for the sandbox at the fake time `now` (UTC). */
function job(sb: Sandbox, args: string[], now: string, env: Record<string, string> = {}): Promise<RunResult> {
  return run(JOB, args, {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? sb.dir,
    TZ: "UTC",
    BACKY2: BACKY2,
    BACKY2_CONFIG: sb.config,
    BACKY2_FAKE_NOW: now,
    SCHEDULERS: "daily,weekly",
    ...env,
  });
}

async function scheduledSandbox(fn: (sb: Sandbox, image: Uint8Array) => Promise<void>): Promise<void> {
  await withSandbox({}, async (sb) => {
    await Deno.writeTextFile(sb.config, SCHEDULERS, { append: true });
    const image = crypto.getRandomValues(new Uint8Array(6 * 4096 + 10));
    await Deno.writeFile(sb.path("disk.img"), image);
    await fn(sb, image);
  });
}

Deno.test("systemd job: backup runs only when due, with the schedulers' tags and expiry", async () => {
  await scheduledSandbox(async (sb, image) => {
    const env = { SOURCE: sb.url("disk.img") };
    expectRun(await job(sb, ["backup", "vm"], "2026-01-01T02:00:00", env), { code: 0 });
    let versions = await sb.versions();
    assertEquals(versions.map((v) => [v.name, v.tags, v.expire]), [["vm", "daily,weekly", "2026-01-22 02:00:00"]]);

    const notDue = await job(sb, ["backup", "vm"], "2026-01-01T03:00:00", env);
    expectRun(notDue, { code: 0, stdout: "", stderr: "backy2-job: vm: no backup due\n" });
    assertEquals((await sb.versions()).length, 1);

    image[5] ^= 0xff;
    await Deno.writeFile(sb.path("disk.img"), image);
    expectRun(await job(sb, ["backup", "vm"], "2026-01-02T02:00:00", env), { code: 0 });
    versions = await sb.versions();
    assertEquals(versions.map((v) => [v.tags, v.expire]), [
      ["daily,weekly", "2026-01-22 02:00:00"],
      ["daily", "2026-01-06 02:00:00"],
    ]);
    await sb.restore(versions[1].uid, "restored.img");
    await assertFileBytes(sb.path("restored.img"), image);

    // A failing backup fails the job with backy2's exit code; a missing SOURCE is one line, exit 2.
    const failed = await job(sb, ["backup", "other"], "2026-01-02T02:00:00", { SOURCE: sb.url("missing.img") });
    assert(failed.code !== 0, describeRun(failed));
    const direct = await sb.run(["backup", sb.url("missing.img"), "other"]);
    assertEquals(failed.code, direct.code);
    const unset = await job(sb, ["backup", "vm"], "2026-01-03T02:00:00");
    expectRun(unset, { code: 2, stdout: "", stderr: /^backy2-job: vm: SOURCE is not set: [^\n]*\n$/ });
    assertEquals((await sb.versions()).length, 2);
  });
});

/** A fake `rbd` CLI: images and snapshots are files DIR/POOL/IMAGE[@SNAP]; every call is logged. */
function fakeRbd(dir: string): string {
  return `#!/usr/bin/env bash
echo "rbd $*" >>"${dir}/calls.log"
case "$1 $2" in
  "snap create") [ ! -e "${dir}/$3" ] && cp "${dir}/\${3%@*}" "${dir}/$3" ;;
  "snap rm") [ -e "${dir}/$3" ] && rm "${dir}/$3" ;;
  "info "*) [ -e "${dir}/$2" ] ;;
  *) exit 22 ;;
esac
`;
}

/** backy2 with rbd://POOL/IMAGE@SNAP arguments read from the fake rbd's files; FAIL_BACKUP=N fails backups. */
function fakeBackyWithRbd(dir: string): string {
  return `#!/usr/bin/env bash
echo "backy2 $*" >>"${dir}/calls.log"
args=()
for arg in "$@"; do
  case $arg in
    rbd://*) args+=("file://${dir}/\${arg#rbd://}") ;;
    backup) [ -n "\${FAIL_BACKUP:-}" ] && exit "$FAIL_BACKUP"; args+=("$arg") ;;
    *) args+=("$arg") ;;
  esac
done
exec ${BACKY2} "\${args[@]}"
`;
}

Deno.test("systemd job: rbd:// backups come from a new snapshot, diff against the last version, rotate snapshots", async () => {
  await scheduledSandbox(async (sb, image) => {
    const dir = sb.path("ceph");
    await Deno.mkdir(`${dir}/pool`, { recursive: true });
    await Deno.writeFile(`${dir}/pool/vm1`, image);
    await Deno.writeTextFile(sb.path("rbd"), fakeRbd(dir), { mode: 0o755 });
    await Deno.writeTextFile(sb.path("backy2"), fakeBackyWithRbd(dir), { mode: 0o755 });
    const env = { SOURCE: "rbd://pool/vm1", RBD: sb.path("rbd"), BACKY2: sb.path("backy2") };
    const calls = async () => {
      const text = await Deno.readTextFile(`${dir}/calls.log`);
      await Deno.remove(`${dir}/calls.log`);
      return text.split("\n").filter((line) => line.startsWith("rbd ") || / backup /.test(line));
    };
    const snapshots = () => [...Deno.readDirSync(`${dir}/pool`)].map((e) => e.name).filter((n) => n.includes("@"));

    expectRun(await job(sb, ["backup", "vm1"], "2026-01-01T02:00:00", env), { code: 0 });
    const [first] = await sb.versions();
    assertMatch(first.snapshot_name, /^backy2-\d{8}-\d{6}-\d+$/);
    assertEquals(await calls(), [
      `rbd snap create pool/vm1@${first.snapshot_name}`,
      `backy2 -c ${sb.config} backup -s ${first.snapshot_name} -t daily,weekly -e 2026-01-22 02:00:00 -- ` +
      `rbd://pool/vm1@${first.snapshot_name} vm1`,
    ]);
    assertEquals(snapshots(), [`vm1@${first.snapshot_name}`]);

    image.fill(7, 4096, 8192);
    await Deno.writeFile(`${dir}/pool/vm1`, image);
    expectRun(await job(sb, ["backup", "vm1"], "2026-01-02T02:00:00", env), { code: 0 });
    const second = (await sb.versions())[1];
    assertEquals(await calls(), [
      `rbd snap create pool/vm1@${second.snapshot_name}`,
      `backy2 -c ${sb.config} backup -s ${second.snapshot_name} -f ${first.uid} -t daily -e 2026-01-06 02:00:00 -- ` +
      `rbd://pool/vm1@${second.snapshot_name} vm1`,
      `rbd info pool/vm1@${first.snapshot_name}`,
      `rbd snap rm pool/vm1@${first.snapshot_name}`,
    ]);
    assertEquals(snapshots(), [`vm1@${second.snapshot_name}`]);
    await sb.restore(second.uid, "restored.img");
    await assertFileBytes(sb.path("restored.img"), image);

    // A failed backup removes its new snapshot and keeps the previous one for the next diff.
    const failed = await job(sb, ["backup", "vm1"], "2026-01-03T02:00:00", { ...env, FAIL_BACKUP: "7" });
    assertEquals(failed.code, 7, describeRun(failed));
    const [create, backup, remove] = await calls();
    const snapshot = create.replace("rbd snap create pool/vm1@", "");
    assertMatch(backup, new RegExp(` -f ${second.uid} `));
    assertEquals(remove, `rbd snap rm pool/vm1@${snapshot}`);
    assertEquals(snapshots(), [`vm1@${second.snapshot_name}`]);
    assertEquals((await sb.versions()).length, 2);
  });
});

Deno.test("systemd job: scrub checks every valid version and fails when one is damaged", async () => {
  await scheduledSandbox(async (sb) => {
    const good = await sb.backup([sb.url("disk.img"), "good"]);
    await Deno.writeFile(sb.path("other.img"), crypto.getRandomValues(new Uint8Array(3 * 4096)));
    const before = new Set(await sb.blobs());
    const damaged = await sb.backup([sb.url("other.img"), "damaged"]);
    const own = (await sb.blobs()).filter((blob) => !before.has(blob));
    await Deno.remove(own[0]);

    const scrubbed = await job(sb, ["scrub"], "2026-01-01T04:00:00", { SCRUB_PERCENT: "100" });
    const direct = await sb.run(["scrub", damaged]);
    assert(scrubbed.code !== 0 && scrubbed.code === direct.code, describeRun(scrubbed));
    const valid = new Map((await sb.versions()).map((v) => [v.uid, v.valid]));
    assertEquals([valid.get(good), valid.get(damaged)], ["1", "0"]);
    for (const uid of [good, damaged]) {
      assertMatch(scrubbed.stdout, new RegExp(`\\$ backy2 -c \\S+ scrub -p 100 ${uid}\n`));
    }
  });
});

Deno.test("systemd job: cleanup removes expired, unprotected versions and runs cleanup", async () => {
  await scheduledSandbox(async (sb) => {
    const uids: string[] = [];
    for (const name of ["expired", "protected", "current"]) uids.push(await sb.backup([sb.url("disk.img"), name]));
    expectRun(await sb.run(["expire", uids[0], "2026-01-01"]), { code: 0 });
    expectRun(await sb.run(["expire", uids[1], "2026-01-01"]), { code: 0 });
    expectRun(await sb.run(["expire", uids[2], "2026-03-01"]), { code: 0 });
    expectRun(await sb.run(["protect", uids[1]]), { code: 0 });

    const cleaned = await job(sb, ["cleanup"], "2026-02-01T06:00:00");
    expectRun(cleaned, { code: 0 });
    assertEquals((await sb.versions()).map((v) => v.name).sort(), ["current", "protected"]);
    assertMatch(cleaned.stdout, /\$ backy2 -c \S+ cleanup\n/);
  });
});
