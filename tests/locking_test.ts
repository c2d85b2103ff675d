/**
 * CLI tests of locking: backups of different sources run side by side; a running backup's
 * version cannot be removed, scrubbed or restored, a full cleanup refuses to run next to it, and a version
 * that a running differential backup uses as its base cannot be removed. A backup killed with SIGKILL
 * leaves lock files behind but no lock. With a PostgreSQL catalog (BACKY2_TEST_CATALOG) the same holds for
 * its leases, whose refusals also name the holder.
 *
 * To make "while the backup runs" deterministic, the backup is stopped with SIGSTOP once its version is
 * listed (a stopped process keeps its locks, like a busy one) and continued or killed afterwards.
 */
import {
  assert,
  assertEquals,
  assertSameFile,
  buildImage,
  collect,
  COMPLETE,
  describeRun,
  error,
  escapeRegExp,
  expectRun,
  FAILED,
  info,
  lockRefusal,
  Rng,
  type RunResult,
  type Sandbox,
  sandboxLocks,
  TEST_HOLDER,
  testCatalogKind,
  withSandbox,
  writeUniqueImage,
} from "./helpers.ts";

const BIG_BLOCK = 64 * 1024;
const BIG_SIZE = 256 * 1024 * 1024;

/** A started backup; `done` resolves with its result once it exits. */
interface Running {
  child: Deno.ChildProcess;
  done: Promise<RunResult>;
}

function startBackup(sb: Sandbox, args: string[]): Running {
  const child = sb.spawn(["-m", "backup", ...args]);
  return { child, done: child.output().then((output) => collect(output, ["backup", ...args])) };
}

/**
 * Waits until `ls` lists a version that is not in `known` and is still invalid (being written) and at least
 * `minBlobs` blob files exist, then stops the backup with SIGSTOP and returns the new uid.
 */
async function stopWhenListed(sb: Sandbox, running: Running, known: string[], minBlobs = 0): Promise<string> {
  let exited = false;
  running.done.finally(() => exited = true);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the backup ended before its version was seen:\n${describeRun(await running.done)}`);
    const fresh = (await sb.versions()).filter((v) => !known.includes(v.uid));
    if (fresh.length > 0) {
      assertEquals(fresh.length, 1, "new versions");
      assertEquals(fresh[0].valid, "0", "a version being written is invalid");
      while (!exited && await sb.blobCount() < minBlobs) await new Promise((resolve) => setTimeout(resolve, 5));
      running.child.kill("SIGSTOP");
      assert(!exited, "the backup ended before it was stopped; use a larger source");
      return fresh[0].uid;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("the backup's version never appeared in ls");
}

/** Sends `sig` to the backup unless it has ended already (so that a failure inside `try` is not masked). */
function signal(running: Running, sig: Deno.Signal): void {
  try {
    running.child.kill(sig);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
}

/** The run of a command refused because `uid` is locked. */
function expectLocked(sb: Sandbox, result: RunResult, args: string[], uid: string): void {
  expectRun(result, {
    code: 100,
    stdout: sb.commandLine(args),
    stderr: new RegExp(`^${lockRefusal(`Version ${uid} is locked.`)}${escapeRegExp(FAILED)}$`),
  }, `${args.join(" ")} while the version is locked`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

Deno.test("two backups of different sources run in parallel and both succeed", async () => {
  await withSandbox({ blockSize: 4096 }, async (sb) => {
    const rng = new Rng(21);
    const kinds = Array.from({ length: 512 }, () => "random" as const);
    await Deno.writeFile(sb.path("one.img"), buildImage(rng, 4096, kinds));
    await Deno.writeFile(sb.path("two.img"), buildImage(rng, 4096, kinds));
    const one = startBackup(sb, [sb.url("one.img"), "one"]);
    const two = startBackup(sb, [sb.url("two.img"), "two"]);
    const results = await Promise.all([one.done, two.done]);
    const uids = results.map((result) => {
      expectRun(result, { code: 0, stderr: "" }, "parallel backup");
      const [first, second] = result.stdout.split("\n");
      assertEquals(first, second, "uid printed twice");
      return first;
    });
    const rows = await sb.versions();
    assertEquals(rows.map((r) => `${r.name} ${r.valid}`).sort(), ["one 1", "two 1"], "versions");
    assertEquals(await sb.blobCount(), 1024, "blobs of both backups");
    await sb.restore(uids[0], "one.restored");
    await sb.restore(uids[1], "two.restored");
    await assertSameFile(sb.path("one.restored"), sb.path("one.img"));
    await assertSameFile(sb.path("two.restored"), sb.path("two.img"));
  });
});

Deno.test({
  name: "a running backup's version is locked for rm, scrub, restore; cleanup --full refuses; SIGKILL leaves no lock",
  sanitizeResources: false,
  fn: async () => {
    await withSandbox({ blockSize: BIG_BLOCK }, async (sb) => {
      await writeUniqueImage(sb.path("big.img"), BIG_SIZE);
      const running = startBackup(sb, [sb.url("big.img"), "big"]);
      let uid: string;
      try {
        uid = await stopWhenListed(sb, running, [], 64);
        const rmArgs = ["rm", "-f", uid];
        const scrubArgs = ["scrub", uid];
        const restoreArgs = ["restore", uid, sb.url("restored.img")];
        const cleanupArgs = ["cleanup", "--full"];
        const [rm, scrub, restore, cleanup] = await Promise.all(
          [rmArgs, scrubArgs, restoreArgs, cleanupArgs].map((args) => sb.run(args)),
        );
        expectLocked(sb, rm, rmArgs, uid);
        expectLocked(sb, scrub, scrubArgs, uid);
        expectLocked(sb, restore, restoreArgs, uid);
        assert(!await exists(sb.path("restored.img")), "the refused restore created no target");
        expectRun(cleanup, {
          code: 100,
          stdout: sb.commandLine(cleanupArgs),
          stderr: new RegExp(`^${lockRefusal("Other backy instances are running.")}${escapeRegExp(FAILED)}$`),
        }, "cleanup --full next to a running backup");
      } finally {
        signal(running, "SIGKILL");
      }
      const killed = await running.done;
      assertEquals(killed.signal, "SIGKILL", "the backup was killed");
      if (testCatalogKind() === "sqlite") {
        assert(await exists(sb.path(`backy_${uid}.lock`)), "the killed backup's lock file is still there");
      }

      // The lock died with the process: the incomplete version can be scrubbed and removed now.
      const scrubArgs = ["scrub", uid];
      expectRun(await sb.run(scrubArgs), {
        code: 20,
        stdout: sb.commandLine(scrubArgs) + info(`Marked version invalid (UID ${uid})`),
        stderr: error("Version is incomplete."),
      }, "scrub of the killed backup's version");
      const rmArgs = ["rm", "-f", uid];
      const removedLine = escapeRegExp(info(`Removed backup version ${uid} with `).slice(0, -1)) + "\\d+ blocks\\.\\n";
      expectRun(await sb.run(rmArgs), {
        code: 0,
        stderr: "",
        stdout: new RegExp(`^${escapeRegExp(sb.commandLine(rmArgs))}${removedLine}${escapeRegExp(COMPLETE)}$`),
      }, "rm -f after the kill");
      assertEquals(await sb.versions(), [], "versions after rm");
      const written = await sb.blobCount();
      assert(written >= 64, `the killed backup wrote blobs (${written})`);
      // A full cleanup deletes every blob the backup wrote: those it had not recorded yet, and those the rm made
      // cleanup candidates. The catalog has no versions left, so it needs --dangerous-force.
      const fullArgs = ["cleanup", "--full", "--dangerous-force"];
      const full = await sb.run(fullArgs);
      expectRun(full, {
        code: 0,
        stderr: "",
        stdout: new RegExp(
          `^${escapeRegExp(sb.commandLine(fullArgs))}${
            escapeRegExp(info("Cleanup: Removed ").slice(0, -1))
          }\\d+ blobs\\n` +
            // Writes the kill interrupted may have left temporary files.
            `(${
              escapeRegExp(info("Cleanup: Removed ").slice(0, -1))
            }\\d+ unfinished blob writes \\(\\*\\.blob\\.tmp\\)\\n)?` +
            `${escapeRegExp(COMPLETE)}$`,
        ),
      }, "cleanup --full after the kill");
      const fastArgs = ["cleanup", "--dangerous-force"];
      const fast = await sb.run(fastArgs);
      expectRun(fast, { code: 0, stderr: "" }, "cleanup --dangerous-force after the kill");
      const byFull = Number(/Cleanup: Removed (\d+) blobs\n/.exec(full.stdout)![1]);
      const byFast = Number(/Deleted (\d+) blocks\.\n/.exec(fast.stdout)?.[1]);
      assertEquals([byFull, byFast], [written, 0], "blobs removed by the full and the fast cleanup");
      assertEquals(await sb.blobCount(), 0, "the killed backup's blobs are gone after both cleanups");
      assertEquals(await unfinishedWrites(sb.dataDir), [], "no temporary blob files are left");
    });
  },
});

Deno.test({
  name: "the base of a running differential backup cannot be removed until that backup ends",
  sanitizeResources: false,
  fn: async () => {
    await withSandbox({ blockSize: BIG_BLOCK }, async (sb) => {
      await writeUniqueImage(sb.path("big.img"), BIG_SIZE);
      const base = await sb.backup([sb.url("big.img"), "big"]);
      const running = startBackup(sb, ["-f", base, sb.url("big.img"), "big"]);
      let diff: string;
      try {
        diff = await stopWhenListed(sb, running, [base]);
        for (const args of [["rm", "-f", base], ["rm", "-f", diff]]) {
          expectLocked(sb, await sb.run(args), args, args[2]);
        }
        // Reading the base is fine: the differential backup holds it shared.
        const scrubArgs = ["scrub", base];
        expectRun(await sb.run(scrubArgs), {
          code: 0,
          stderr: "",
          stdout: sb.commandLine(scrubArgs) + info(`Marked version valid: ${base}`) + COMPLETE,
        }, "scrub of the base during the differential backup");
      } finally {
        signal(running, "SIGCONT");
      }
      const finished = await running.done;
      expectRun(finished, { code: 0, stderr: "", stdout: `${diff}\n${diff}\n` }, "the differential backup");
      assertEquals((await sb.version(diff)).valid, "1", "the differential version is valid");

      const rmArgs = ["rm", "-f", base];
      expectRun(await sb.run(rmArgs), {
        code: 0,
        stderr: "",
        stdout: sb.commandLine(rmArgs) + info(`Removed backup version ${base} with ${BIG_SIZE / BIG_BLOCK} blocks.`) +
          COMPLETE,
      }, "rm of the base after the differential backup");
      await sb.restore(diff, "restored.img");
      await assertSameFile(sb.path("restored.img"), sb.path("big.img"), "restore of the differential version");
    });
  },
});

/** `*.blob.tmp` files anywhere below `dir`. */
async function unfinishedWrites(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await unfinishedWrites(path));
    else if (entry.name.endsWith(".blob.tmp")) found.push(path);
  }
  return found;
}

Deno.test("locks lists the locks other processes hold, as a table, with -m and with --json", async () => {
  await withSandbox({}, async (sb) => {
    const other = sandboxLocks(sb);
    try {
      assert(await other.tryAcquire("some-version", "exclusive"));
      assert(await other.tryAcquire("backy", "shared"));
      const machine = await sb.run(["-m", "locks", "-f", "name,mode"]);
      expectRun(machine, { code: 0 });
      assertEquals(machine.stdout.split("\n").filter((line) => line !== ""), [
        "name|mode",
        "backy|shared",
        "some-version|exclusive",
      ]);
      const table = await sb.run(["locks"]);
      expectRun(table, { code: 0 });
      assert(/\| some-version +\| exclusive \|/.test(table.stdout), table.stdout);
      const json = await sb.run(["--json", "locks", "-f", "name,pid"]);
      // flock does not know who holds a lock file; a lease does.
      const pid = testCatalogKind() === "sqlite" ? null : TEST_HOLDER.pid;
      assertEquals(JSON.parse(json.stdout), [{ name: "backy", pid }, { name: "some-version", pid }]);
    } finally {
      await other.close();
    }
    const none = await sb.run(["-m", "locks", "-f", "name"]);
    assertEquals(none.stdout.trim(), "name", "released locks are not listed");
  });
});
