/** Chooses the source or target driver for a URL by its scheme. */
import type { Config } from "../config/config.ts";
import { type Source, type Target, unknownScheme, urlScheme } from "./io.ts";
import { FileSource, FileTarget } from "./file.ts";
import { NullSource, NullTarget } from "./null.ts";

export async function openSource(url: string, config: Config): Promise<Source> {
  const scheme = urlScheme(url);
  switch (scheme) {
    case "file":
      return await FileSource.open(url, config.ioFile.simultaneousReads);
    case "null":
      return new NullSource(url, config.defaults.blockSize);
    case "rbd":
      // Loaded on demand: only rbd:// needs the Ceph bindings.
      return await (await import("./rbd.ts")).RbdSource.open(url, config.ioRbd());
    default:
      throw unknownScheme(scheme);
  }
}

export async function openTarget(url: string, sizeBytes: number, force: boolean, config: Config): Promise<Target> {
  const scheme = urlScheme(url);
  switch (scheme) {
    case "file":
      return await FileTarget.open(url, sizeBytes, force, config.ioFile.simultaneousWrites);
    case "null":
      return new NullTarget(url);
    case "rbd":
      return await (await import("./rbd.ts")).RbdTarget.open(url, sizeBytes, force, config.ioRbd());
    default:
      throw unknownScheme(scheme);
  }
}
