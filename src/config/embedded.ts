/**
 * The configuration used when no file says otherwise (no `-c`).
 *
 * Owns: choosing the per-user data directory and the built-in default settings layered under every
 * config file found on the search path. Unlike the reference (which points at /tmp and lacks
 * `encryption_version`), these defaults give a working, persistent setup with no config file at all.
 */

import { isAbsolute, join } from "../util/paths.ts";
import { type IniFile, parseIni } from "./ini.ts";

/** Stands in for a file name when an error concerns a built-in default. */
export const EMBEDDED_DEFAULT_NAME = "(built-in defaults)";

/** Where the built-in defaults keep catalog, data and log: system-wide for root, else per user (XDG). */
export function defaultDataDir(env: Record<string, string | undefined>, uid: number | null, home: string): string {
  if (uid === 0) return "/var/lib/backy2";
  const xdgDataHome = env.XDG_DATA_HOME;
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdgDataHome && isAbsolute(xdgDataHome)) return join(xdgDataHome, "backy2");
  return join(home, ".local", "share", "backy2");
}

/** The built-in default settings for data directory `dataDir`, as an INI layer. */
export function embeddedDefault(dataDir: string): IniFile {
  const dir = dataDir.replaceAll("%", "%%");
  const text = `
[DEFAULTS]
logfile = ${dir}/backy.log
block_size = 4194304
hash_function = sha512
lock_dir = ${dir}
process_name = backy2
disallow_rm_when_younger_than_days = 0
deduplication = true
encryption_version = 0

[MetaBackend]
type = backy2.meta_backends.sql
engine = sqlite:///${dir}/backy.sqlite

[DataBackend]
type = backy2.data_backends.file
path = ${dir}/data
simultaneous_writes = 5
simultaneous_reads = 5

[io_file]
simultaneous_reads = 5
simultaneous_writes = 5

[io_null]
simultaneous_reads = 5
simultaneous_writes = 5

[io_rbd]
rados_name = client.admin
cluster_name = ceph
simultaneous_reads = 10
simultaneous_writes = 5
`;
  return parseIni(text, EMBEDDED_DEFAULT_NAME);
}
