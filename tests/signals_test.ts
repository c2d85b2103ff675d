/**
 * CLI tests of SIGINT, SIGTERM and SIGHUP: an interrupted backup makes what it wrote durable, saves its draft
 * and prints the one command that continues it; an interrupted restore or scrub stops cleanly, and a scrub
 * leaves the version's valid flag as it was; a second signal ends the process at once. Each printed command
 * is run through a shell exactly as printed, the way a user would copy and paste it.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNoStackTrace,
  assertSameFile,
  describeRun,
  error,
  escapeRegExp,
  expectRun,
  recordedBlocks,
  ROOT,
  type RunResult,
  type Sandbox,
  spawnBacky,
  withSandbox,
  writeUniqueImage,
} from "./helpers.ts";

const BLOCK_SIZE = 64 * 1024;
const MiB = 1024 * 1024;
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StopSignal = keyof typeof EXIT_CODES;

/** A backy2 process whose output is collected while it runs, so that a test can act on what it printed. */
class Running {
  stdout = "";
  stderr = "";
  exited = false;
  private readonly child: Deno.ChildProcess;
  private readonly streams: Promise<void>;

  constructor(private readonly args: string[]) {
    this.child = spawnBacky(args);
    this.child.status.finally(() => this.exited = true);
    this.streams = Promise.all([
      this.pump(this.child.stdout, (text) => this.stdout += text),
      this.pump(this.child.stderr, (text) => this.stderr += text),
    ]).then(() => {});
  }

  private async pump(stream: ReadableStream<Uint8Array>, append: (text: string) => void): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) append(text);
  }

  /** Waits until `condition` holds; fails when the process ends first. */
  async waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (!(await condition())) {
      if (this.exited || Date.now() > deadline) {
        throw new Error(`backy2 ended or timed out before ${what}:\n${describeRun(await this.result())}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends `signal` unless the process has ended already. */
  kill(signal: StopSignal): void {
    if (!this.exited) this.child.kill(signal);
  }

  async result(): Promise<RunResult> {
    const status = await this.child.status;
    await this.streams;
    const result = { code: status.code, stdout: this.stdout, stderr: this.stderr, signal: status.signal };
    assertNoStackTrace(result, this.args);
    return result;
  }
}

function start(sb: Sandbox, args: string[]): Running {
  return new Running(["-c", sb.config, ...args]);
}

/** Sets (or, with no limits, removes) the data backend's bandwidth limits in the sandbox's config. */
async function throttle(sb: Sandbox, limits: { read?: number; write?: number }): Promise<void> {
  const lines = (await Deno.readTextFile(sb.config)).split("\n").filter((line) => !line.startsWith("bandwidth_"));
  const at = lines.indexOf("[DataBackend]") + 1;
  if (limits.read) lines.splice(at, 0, `bandwidth_read: ${limits.read}`);
  if (limits.write) lines.splice(at, 0, `bandwidth_write: ${limits.write}`);
  await Deno.writeTextFile(sb.config, lines.join("\n"));
}

/** Runs a command line through bash as a user pasting it would, with `backy2` found on the PATH. */
async function runPasted(commandLine: string): Promise<RunResult> {
  const output = await new Deno.Command("bash", {
    args: ["-c", commandLine],
    env: { PATH: `${ROOT}/scripts:${Deno.env.get("PATH")}`, TZ: "UTC", NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  const result = {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    signal: output.signal,
  };
  assertNoStackTrace(result, [commandLine]);
  return result;
}

/** The command after "…with: " on the one ERROR line an interruption prints. */
function pastedCommand(result: RunResult, signal: StopSignal, pattern: RegExp): string {
  assertEquals(
    [result.signal, result.code],
    [null, EXIT_CODES[signal]],
    `exit of the interrupted run\n${describeRun(result)}`,
  );
  assertMatch(result.stderr, pattern, "the one line on stderr");
  return / with: (.*)\n$/.exec(result.stderr)![1];
}

/** `*.blob.tmp` files anywhere in the data directory. */
async function temporaryBlobs(sb: Sandbox): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
      else if (entry.name.endsWith(".blob.tmp")) found.push(`${dir}/${entry.name}`);
    }
  };
  await walk(sb.dataDir);
  return found;
}

/** The start of an ERROR line, as a pattern. */
const ERROR_LINE = escapeRegExp(error("").trimEnd() + " ");

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.test(`a backup interrupted by ${signal} saves its draft, names the command that continues it and exits ${EXIT_CODES[signal]}`, async () => {
    await withSandbox({ blockSize: BLOCK_SIZE }, async (sb) => {
      const source = sb.path("source.img");
      await writeUniqueImage(source, 16 * MiB);
      await throttle(sb, { write: 2 * MiB });
      // A name and a snapshot name that a shell would split or choke on.
      const running = start(sb, ["backup", "-s", "snap 1", sb.url("source.img"), "vm's disk"]);
      await running.waitFor("some blocks were recorded", async () => await recordedBlocks(sb) > 0);
      const [version] = await sb.versions();
      assertEquals([version.name, version.valid], ["vm's disk", "0"], "the version while the backup runs");
      running.kill(signal);
      const result = await running.result();

      const expected = `backy2 -c ${sb.config} backup -c ${version.uid} -s 'snap 1' ${
        sb.url("source.img")
      } 'vm'\\''s disk'`;
      const pasted = pastedCommand(
        result,
        signal,
        new RegExp(
          `^${ERROR_LINE}${
            escapeRegExp(
              `Interrupted by ${signal}: version ${version.uid} is incomplete; continue it with: ${expected}`,
            )
          }\n$`,
        ),
      );
      assertEquals(await temporaryBlobs(sb), [], "temporary blob files left behind");
      assert(await recordedBlocks(sb) > 0, "the draft is kept");
      assertEquals((await sb.version(version.uid)).valid, "0", "the interrupted version stays invalid");

      await throttle(sb, {});
      const continued = await runPasted(pasted);
      expectRun(continued, { code: 0, stderr: "" }, "the pasted continue command");
      // Every blob written before the signal was recorded, so the continuation wrote each block's blob only once.
      assertEquals(await sb.blobCount(), 16 * MiB / BLOCK_SIZE, "blobs after the continuation");
      const done = await sb.versions();
      assertEquals(done.map((v) => [v.uid, v.valid]), [[version.uid, "1"]], "the continued version is the only one");
      await sb.restore(version.uid, "restored.img");
      await assertSameFile(sb.path("restored.img"), source, "restore of the continued version");
    });
  });
}

Deno.test("a second signal ends an interrupted backup at once, and backup -c still completes the version", async () => {
  await withSandbox({ blockSize: BLOCK_SIZE }, async (sb) => {
    const source = sb.path("source.img");
    await writeUniqueImage(source, 4 * MiB);
    // So slow that the writes in flight after the first signal take seconds to finish.
    await throttle(sb, { write: 64 * 1024 });
    const running = start(sb, ["backup", sb.url("source.img"), "vm"]);
    await running.waitFor("the data phase started", () => running.stdout.includes("Backing up (2/2: Data)"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    running.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = performance.now();
    running.kill("SIGINT");
    const result = await running.result();
    const seconds = (performance.now() - second) / 1000;

    assertEquals([result.signal, result.code], [null, 130], `exit after the second signal\n${describeRun(result)}`);
    expectRun(result, { code: 130, stderr: error("Interrupted again by SIGINT: exiting at once.") });
    assert(seconds < 3, `the second signal ended the process after ${seconds.toFixed(1)} s`);

    const [version] = await sb.versions();
    await throttle(sb, {});
    const args = ["backup", "-c", version.uid, sb.url("source.img"), "vm"];
    expectRun(await sb.run(args), { code: 0, stderr: "" }, "continuing after the second signal");
    await sb.restore(version.uid, "restored.img");
    await assertSameFile(sb.path("restored.img"), source, "restore of the continued version");
  });
});

/** Backs up an 8 MiB image of unique blocks without limits; returns the version uid. */
async function backedUp(sb: Sandbox): Promise<string> {
  await writeUniqueImage(sb.path("source.img"), 8 * MiB);
  return await sb.backup([sb.url("source.img"), "vm"]);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`a restore interrupted by ${signal} flushes what it wrote and names the command that continues it`, async () => {
    await withSandbox({ blockSize: BLOCK_SIZE }, async (sb) => {
      const uid = await backedUp(sb);
      await throttle(sb, { read: 1 * MiB });
      const target = sb.url("restored.img");
      const running = start(sb, ["restore", uid, target]);
      await running.waitFor("phase 2 started", () => running.stdout.includes("Restore phase 2/2 (data)"));
      await new Promise((resolve) => setTimeout(resolve, 300));
      running.kill(signal);
      const result = await running.result();

      const continueWith = `backy2 -c ${escapeRegExp(sb.config)} restore -f -c \\d+ ${uid} ${escapeRegExp(target)}`;
      const pasted = pastedCommand(
        result,
        signal,
        new RegExp(
          `^${ERROR_LINE}${
            escapeRegExp(`Interrupted by ${signal}: restore of version ${uid} to ${target} is incomplete; `)
          }continue it with: ${continueWith}\n$`,
        ),
      );
      await throttle(sb, {});
      expectRun(await runPasted(pasted), { code: 0, stderr: "" }, "the pasted continue command");
      await assertSameFile(sb.path("restored.img"), sb.path("source.img"), "the continued restore");
    });
  });
}

/**
 * Makes `uid` invalid though its data is intact: damages one blob, lets a scrub invalidate it, then puts the
 * blob's bytes back. A complete scrub would now mark it valid again.
 */
async function invalidButIntact(sb: Sandbox, uid: string): Promise<void> {
  const [blob] = await sb.blobs();
  const bytes = await Deno.readFile(blob);
  await Deno.writeFile(blob, bytes.map((byte, i) => i === 0 ? byte ^ 0xff : byte));
  expectRun(await sb.run(["scrub", uid]), { code: 20 }, "the scrub that finds the damaged blob");
  await Deno.writeFile(blob, bytes);
  assertEquals((await sb.version(uid)).valid, "0", "the version after the damaging scrub");
}

for (const [signal, valid] of [["SIGINT", "1"], ["SIGTERM", "0"]] as const) {
  Deno.test(`a scrub interrupted by ${signal} leaves a version with valid=${valid} as it was`, async () => {
    await withSandbox({ blockSize: BLOCK_SIZE }, async (sb) => {
      const uid = await backedUp(sb);
      if (valid === "0") await invalidButIntact(sb, uid);
      await throttle(sb, { read: 1 * MiB });
      const running = start(sb, ["scrub", uid]);
      await running.waitFor("the scrub started", () => running.stdout.includes("Scrubbing vm"));
      await new Promise((resolve) => setTimeout(resolve, 300));
      running.kill(signal);
      const result = await running.result();

      const pasted = pastedCommand(
        result,
        signal,
        new RegExp(
          `^${ERROR_LINE}${escapeRegExp(`Interrupted by ${signal}: scrub of version ${uid} stopped after `)}` +
            `\\d+ of 128 blobs; its valid flag is unchanged; scrub it again with: ` +
            `${escapeRegExp(`backy2 -c ${sb.config} scrub ${uid}`)}\n$`,
        ),
      );
      assertEquals((await sb.version(uid)).valid, valid, "the valid flag after the interrupted scrub");
      await throttle(sb, {});
      expectRun(await runPasted(pasted), { code: 0, stderr: "" }, "the pasted scrub command");
      assertEquals((await sb.version(uid)).valid, "1", "the valid flag after a complete scrub");
    });
  });
}
