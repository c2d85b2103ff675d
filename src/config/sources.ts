/**
 * Which configuration files are read, in which order, and reading them.
 *
 * Owns: the `-c FILE` case (exactly that file, `File not found: ...` when absent, an error when empty) and the search path
 * (system files, a sorted `conf.d` directory, `~/.backy.cfg`, `./backy.cfg`), where absent or unreadable
 * files are skipped like Python's `ConfigParser.read` does.
 */

import { basename, dirname, join, resolve } from "../util/paths.ts";
import { BackyError, Exit } from "../util/errors.ts";
import { configError, type IniFile, parseIni } from "./ini.ts";

/** System config files, earliest (weakest) first. An entry ending in `/*` means every file in that folder. */
export const SYSTEM_SEARCH_PATH: readonly string[] = ["/etc/backy.cfg", "/etc/backy/backy.cfg", "/etc/backy/conf.d/*"];

/** The search path after the system part: the user's file, then the working directory's. */
export function userSearchPath(home: string, cwd: string): string[] {
  return [join(home, ".backy.cfg"), join(cwd, "backy.cfg")];
}

/** Reads the `-c` file. Relative paths are taken from `cwd`; messages name the path as given. */
export function readConfigFile(path: string, cwd: string): IniFile {
  if (path === "") {
    throw new BackyError("-c/--configfile is empty: give the path of a config file.", {
      exitCode: Exit.config,
      bare: true,
    });
  }
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(resolve(cwd, path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new BackyError(`File not found: ${path}`, { exitCode: Exit.config, bare: true });
    }
    throw configError(`Cannot read configuration file ${path}: ${(error as Error).message}`);
  }
  return parseIni(decodeUtf8(bytes, path), path);
}

/** Reads every file of the search path that exists and is readable, in order. */
export function readSearchPath(entries: readonly string[]): IniFile[] {
  const layers: IniFile[] = [];
  for (const path of entries.flatMap(expandEntry)) {
    const bytes = readIfReadable(path);
    if (bytes) layers.push(parseIni(decodeUtf8(bytes, path), path));
  }
  return layers;
}

/** `dir/*` → the folder's non-hidden regular files, sorted; any other entry → itself. */
function expandEntry(entry: string): string[] {
  if (basename(entry) !== "*") return [entry];
  const dir = dirname(entry);
  try {
    return [...Deno.readDirSync(dir)]
      .filter((item) => !item.name.startsWith(".") && !item.isDirectory)
      .map((item) => join(dir, item.name))
      .sort();
  } catch {
    return [];
  }
}

function readIfReadable(path: string): Uint8Array | null {
  try {
    return Deno.readFileSync(path);
  } catch {
    return null;
  }
}

function decodeUtf8(bytes: Uint8Array, path: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw configError(`Cannot read configuration file ${path}: it is not valid UTF-8.`);
  }
}
