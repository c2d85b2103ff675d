/**
 * Helpers for the tests of the servers (`backy2 fuse`, `backy2 nbd`): start one as a process and wait (bounded)
 * for its ready line, stop it with a signal (bounded, killing it and clearing its mount if it hangs), run
 * the real clients (cmp, dd, nbdinfo, nbdcopy, qemu-img, qemu-io) with a time limit, find and damage the blob
 * of a block, and take a snapshot of a sandbox's store and catalog to prove that serving changed nothing.
 */
import { createHash } from "node:crypto";
import { assertNoStackTrace, expectRun, type RunResult, type Sandbox } from "./helpers.ts";

const decoder = new TextDecoder();

/** Rejects with a message naming `what` when `promise` takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ToolResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
  /** stdout as text. */
  text: string;
}

/** Runs a program (not backy2) with a time limit; stdin from `stdin` when given. */
export async function tool(
  command: string,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<ToolResult> {
  const child = new Deno.Command(command, {
    args,
    env: { PATH: `/usr/bin:/bin:/usr/sbin:/sbin:${Deno.env.get("PATH") ?? ""}`, ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
  }).spawn();
  const output = await child.output();
  return {
    code: output.code,
    stdout: output.stdout,
    stderr: decoder.decode(output.stderr),
    text: decoder.decode(output.stdout),
  };
}

/** sha256 of what a tool wrote to stdout. */
export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A running `backy2 fuse` or `backy2 nbd`. */
export class ServerProcess {
  private stdout = "";
  private stderr = "";
  private readonly pumps: Promise<void>[];
  private status: Promise<Deno.CommandStatus>;

  private constructor(private readonly child: Deno.ChildProcess, readonly args: string[]) {
    this.pumps = [this.pump(child.stdout, (t) => this.stdout += t), this.pump(child.stderr, (t) => this.stderr += t)];
    this.status = child.status;
  }

  /** Starts `backy2 -c CONFIG ARGS` and waits (up to 30 s) for a stdout line matching `ready`. */
  static async start(
    sb: Sandbox,
    args: string[],
    ready: RegExp,
  ): Promise<{ server: ServerProcess; match: RegExpExecArray }> {
    const server = new ServerProcess(sb.spawn(args), args);
    try {
      const match = await within(server.waitFor(ready), 30_000, `backy2 ${args.join(" ")} to get ready`);
      return { server, match };
    } catch (error) {
      await server.kill();
      throw new Error(`${(error as Error).message}\n--- stdout ---\n${server.stdout}--- stderr ---\n${server.stderr}`);
    }
  }

  get output(): { stdout: string; stderr: string } {
    return { stdout: this.stdout, stderr: this.stderr };
  }

  /** Waits (up to `ms`) until the server has logged a line matching `pattern` on stdout or stderr. */
  async waitForLog(pattern: RegExp, ms = 10_000): Promise<void> {
    await within(this.waitFor(pattern, true), ms, `the log line ${pattern}`);
  }

  /** Sends `signal` and waits (up to 30 s) for the exit; returns the run with its output. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<RunResult> {
    try {
      this.child.kill(signal);
    } catch {
      // already ended
    }
    const status = await within(this.status, 30_000, `backy2 ${this.args.join(" ")} to stop on ${signal}`);
    await Promise.all(this.pumps);
    const result = { code: status.code, stdout: this.stdout, stderr: this.stderr, signal: status.signal };
    assertNoStackTrace(result, this.args);
    return result;
  }

  /** Ends the process at once (SIGKILL) if it still runs; never throws. */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already ended
    }
    await within(this.status, 10_000, "a killed server to end").catch(() => {});
    await Promise.all(this.pumps).catch(() => {});
  }

  private async waitFor(pattern: RegExp, anyStream = false): Promise<RegExpExecArray> {
    for (;;) {
      const match = pattern.exec(this.stdout) ?? (anyStream ? pattern.exec(this.stderr) : null);
      if (match) return match;
      const ended = await Promise.race([this.status.then(() => true), new Promise((r) => setTimeout(r, 50, false))]);
      if (ended) {
        await Promise.all(this.pumps);
        const last = pattern.exec(this.stdout) ?? (anyStream ? pattern.exec(this.stderr) : null);
        if (last) return last;
        throw new Error(`backy2 ${this.args.join(" ")} ended before logging ${pattern}`);
      }
    }
  }

  private async pump(stream: ReadableStream<Uint8Array>, add: (text: string) => void): Promise<void> {
    const textDecoder = new TextDecoder();
    for await (const chunk of stream) add(textDecoder.decode(chunk, { stream: true }));
  }
}

/** True while `path` is a mountpoint (read from /proc, never touching the mount). */
export async function isMounted(path: string): Promise<boolean> {
  const escaped = path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
  return (await Deno.readTextFile("/proc/self/mounts")).split("\n").some((line) => line.split(" ")[1] === escaped);
}

/** Clears a mount left behind by a failed test (lazily; never waits for the filesystem). */
export async function clearMount(path: string): Promise<void> {
  if (await isMounted(path)) await tool("fusermount3", ["-u", "-z", path], { timeoutMs: 10_000 }).catch(() => {});
}

/** The path of the blob file holding block `blockId` of version `uid` (from its metadata dump). */
export async function blobOfBlock(sb: Sandbox, uid: string, blockId: number): Promise<string> {
  const dump = await sb.run(["export", uid, "-"]);
  expectRun(dump, { code: 0 });
  const row = dump.stdout.split("\n").map((line) => line.split(",")).find((cells) =>
    cells[1] === uid && cells[2] === String(blockId)
  );
  if (!row || row[0] === "") throw new Error(`block ${blockId} of ${uid} has no blob`);
  return `${sb.dataDir}/${row[0].slice(0, 2)}/${row[0].slice(2, 4)}/${row[0]}.blob`;
}

/** Flips the bits of one byte of a file in place. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const data = await Deno.readFile(path);
  data[offset] ^= 0xff;
  await Deno.writeFile(path, data);
}

/** What must not change while versions are served: every blob file's bytes, `ls -m` and each version's dump. */
export async function storeAndCatalog(sb: Sandbox): Promise<string> {
  const blobs = await Promise.all(
    (await sb.blobs()).map(async (path) => `${path} ${sha256(await Deno.readFile(path))}`),
  );
  const ls = await sb.run(["-m", "ls"]);
  expectRun(ls, { code: 0 });
  const uids = ls.stdout.split("\n").slice(1).filter((line) => line !== "").map((line) => line.split("|")[5]);
  const dumps = await Promise.all(uids.map(async (uid) => (await sb.run(["export", uid, "-"])).stdout));
  return [...blobs, ls.stdout, ...dumps].join("\n");
}
