/**
 * Filesystem mounts for the CLI tests that need a full or read-only disk: a tmpfs of a given size, or a
 * read-only bind mount. Mounting needs root; where it is not permitted those tests are skipped with a note.
 */

async function succeeds(command: string, args: string[]): Promise<boolean> {
  const run = new Deno.Command(command, { args, stdin: "null", stdout: "null", stderr: "null" });
  return await run.output().then((output) => output.success, () => false);
}

/** Whether this process may mount (probed once with a tiny tmpfs). */
export const canMount: boolean = await (async () => {
  if (Deno.uid() !== 0) return false;
  const dir = await Deno.makeTempDir({ prefix: "backy2-mount-probe-" });
  try {
    if (!await succeeds("mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", dir])) return false;
    return await succeeds("umount", [dir]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
})();

/** Runs `fn` with `mount ARGS` in place (its last argument is the mount point) and unmounts afterwards. */
export async function withMount(args: string[], fn: () => Promise<void>): Promise<void> {
  if (!await succeeds("mount", args)) throw new Error(`mount ${args.join(" ")} failed`);
  const point = args[args.length - 1];
  let failure: unknown = null;
  await fn().catch((error) => failure = error ?? new Error("the test failed"));
  const unmounted = await succeeds("umount", [point]) || await succeeds("umount", ["-l", point]);
  if (failure !== null) throw failure;
  if (!unmounted) throw new Error(`umount ${point} failed`);
}

/** Runs `fn` with `dir` mounted read-only at `at` (a bind mount, then remounted read-only). */
export async function withReadOnlyView(dir: string, at: string, fn: () => Promise<void>): Promise<void> {
  await withMount(["--bind", dir, at], async () => {
    if (!await succeeds("mount", ["-o", "remount,ro,bind", at])) throw new Error(`cannot remount ${at} read-only`);
    await fn();
  });
}

/** A test that needs mounts; skipped, with a note saying why, where mounting is not permitted. */
export function mountTest(name: string, fn: () => Promise<void>): void {
  if (!canMount) console.log(`skipping "${name}": mounting filesystems is not permitted here (needs root)`);
  Deno.test({ name, ignore: !canMount, fn });
}
