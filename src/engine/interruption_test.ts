/** Unit test of stopping on signals: the flag, the loop guard, the message with its command line, the listeners. */
import assert from "node:assert/strict";
import {
  InterruptedError,
  Interruption,
  listenForStopSignals,
  shellCommand,
  signalExitCode,
  type StopSignal,
} from "./interruption.ts";

Deno.test("the first stop signal is the one that counts, with the shell's exit code", () => {
  const interruption = new Interruption();
  assert.equal(interruption.requested, false);
  assert.equal(interruption.request("SIGTERM"), true);
  assert.equal(interruption.request("SIGINT"), false);
  assert.equal(interruption.signal, "SIGTERM");
  assert.deepEqual(["SIGINT", "SIGTERM", "SIGHUP"].map((s) => signalExitCode(s as StopSignal)), [130, 143, 129]);
});

Deno.test("until() yields nothing more once a stop is requested", () => {
  const interruption = new Interruption();
  const seen: number[] = [];
  for (const item of interruption.until([1, 2, 3, 4])) {
    seen.push(item);
    if (item === 2) interruption.request("SIGINT");
  }
  assert.deepEqual(seen, [1, 2]);
});

Deno.test("stopped() names the state and a command line a shell splits back into the same words", async () => {
  const interruption = new Interruption(["backy2", "-c", "/etc/my backy.cfg"]);
  interruption.request("SIGHUP");
  const error = interruption.stopped("version X is incomplete", {
    advice: "continue it with",
    args: ["backup", "-c", "X", "file:///dev/vg/disk", "vm's disk", "$HOME", ""],
  });
  assert.ok(error instanceof InterruptedError);
  assert.equal(error.exitCode, 129);
  assert.equal(error.bare, true);
  const command = `backy2 -c '/etc/my backy.cfg' backup -c X file:///dev/vg/disk 'vm'\\''s disk' '$HOME' ''`;
  assert.equal(error.message, `Interrupted by SIGHUP: version X is incomplete; continue it with: ${command}`);

  const words = ["a b", "it's", "$(true)", "*", "", "-c", "ü", 'say "hi"\n'];
  const output = await new Deno.Command("bash", {
    args: ["-c", `printf '%s\\0' ${shellCommand(words)}`],
    stdout: "piped",
  }).output();
  assert.deepEqual(new TextDecoder().decode(output.stdout).split("\0").slice(0, -1), words);
});

Deno.test("the listeners record the first signal, hand on the next one, and can be removed", async () => {
  const interruption = new Interruption();
  const calls: string[] = [];
  let heard = () => {};
  const remove = listenForStopSignals(interruption, {
    first: (signal) => (calls.push(`first ${signal}`), heard()),
    again: (signal) => (calls.push(`again ${signal}`), heard()),
  });
  try {
    // Not SIGINT: the test runner itself stops on that one.
    for (const signal of ["SIGHUP", "SIGTERM"] as const) {
      // Signal listeners do not keep the event loop alive; the timer does, and bounds the wait.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const delivered = new Promise<void>((resolve, reject) => {
        heard = resolve;
        timer = setTimeout(() => reject(new Error(`${signal} was not delivered`)), 5000);
      });
      Deno.kill(Deno.pid, signal);
      await delivered.finally(() => clearTimeout(timer));
    }
  } finally {
    remove();
  }
  assert.deepEqual(calls, ["first SIGHUP", "again SIGTERM"]);
  assert.equal(interruption.signal, "SIGHUP");
});
