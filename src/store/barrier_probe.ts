/**
 * A hook around the file store's durability barrier for crash-safety tests, enabled only by the
 * `BACKY2_TEST_BARRIER` environment variable (tests set it; production runs never do). Comma-separated:
 * - `log=PATH`: appends `begin N UID...` (the blobs barrier N makes durable) before and `end N` after barrier N;
 * - `delay=MS`: waits that long before syncing: a slow barrier, which keeps the window open in which batch N is
 *   not durable yet while batch N+1 is read, hashed and written;
 * - `fail=N`: barrier N fails after its delay, as a failed fdatasync would.
 */

export interface BarrierProbe {
  before(paths: Iterable<string>): Promise<void>;
  after(paths: Iterable<string>): Promise<void>;
}

/** The probe `BACKY2_TEST_BARRIER` asks for, or null. */
export function barrierProbe(): BarrierProbe | null {
  const spec = Deno.env.get("BACKY2_TEST_BARRIER");
  if (!spec) return null;
  const settings = new Map(spec.split(",").map((part) => part.split("=", 2) as [string, string]));
  const log = settings.get("log");
  const delay = Number(settings.get("delay") ?? 0);
  const failAt = Number(settings.get("fail") ?? 0);
  let count = 0;
  const append = (line: string) => log ? Deno.writeTextFile(log, `${line}\n`, { append: true }) : Promise.resolve();
  return {
    async before(paths) {
      count++;
      const uids = [...paths].map((path) => path.slice(path.lastIndexOf("/") + 1, -".blob".length));
      await append(`begin ${count} ${uids.join(" ")}`.trimEnd());
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (count === failAt) throw new Error(`injected failure of durability barrier ${count} (BACKY2_TEST_BARRIER)`);
    },
    async after() {
      await append(`end ${count}`);
    },
  };
}
