/**
 * `backy2 fuse MOUNTPOINT`: mounts every finished version as a FUSE filesystem and serves it
 * in the foreground until SIGINT or SIGTERM (or `fusermount3 -u`), then unmounts. Writes to a version's
 * `data` go to a temporary copy-on-write overlay in the cache directory and vanish with the mount.
 */
import type { CommandContext } from "./context.ts";
import { BackyError, Exit } from "../util/errors.ts";
import { ServedVersions } from "../serve/served_versions.ts";
import { FuseMount } from "../serve/fuse_mount.ts";
import { untilStopped } from "../serve/until_stopped.ts";

export async function fuse(ctx: CommandContext): Promise<number> {
  const given = ctx.string("mount")!;
  await requireDirectory(given, "Mountpoint");
  const mountpoint = await Deno.realPath(given);
  await requireDirectory(ctx.config.defaults.cachedir, "The cache directory (cachedir)");
  const { log } = ctx;
  const served = new ServedVersions(ctx.engine, { cow: true, cacheDir: ctx.config.defaults.cachedir });
  try {
    let mount: FuseMount;
    try {
      mount = await FuseMount.mount(mountpoint, served, log);
    } catch (error) {
      throw new BackyError((error as Error).message);
    }
    log.info(
      `Mounted ${(await served.list()).length} versions at ${mountpoint} (writes go to a temporary overlay); ` +
        `stop with Ctrl+C or SIGTERM.`,
    );
    const how = await untilStopped(ctx.interruption, mount.ended);
    await mount.unmount();
    log.info(how === "signal" ? `Unmounted ${mountpoint}.` : `${mountpoint} was unmounted.`);
  } finally {
    await served.close();
  }
  return Exit.ok;
}

/** Throws a one-line error unless `path` is a directory (a dead FUSE mount gets its own advice). */
export async function requireDirectory(path: string, what: string): Promise<void> {
  let isDirectory = false;
  try {
    isDirectory = (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if ((error as Error).message.includes("not connected")) {
      throw new BackyError(`${path} is a dead FUSE mount; clear it with: fusermount3 -u ${path}`);
    }
  }
  if (!isDirectory) throw new BackyError(`${what} ${path} does not exist or is not a directory.`);
}
