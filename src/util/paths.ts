/**
 * POSIX path helpers with node:path's results: `join`, `resolve`, `dirname`, `basename`, `isAbsolute`, and
 * the user's home directory. Our own because importing node:path (or node:os) loads a large part of Deno's
 * Node layer, 15 ms or more of every start-up, which `backy2 ls` cannot afford.
 */

export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** Resolves `.`, `..` and repeated slashes; keeps a trailing slash, as node:path's normalize does. */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = isAbsolute(path);
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part !== "..") parts.push(part);
    else if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else if (!absolute) parts.push("..");
  }
  const body = parts.join("/");
  if (body === "") return absolute ? "/" : path.endsWith("/") ? "./" : ".";
  return (absolute ? "/" : "") + body + (path.endsWith("/") ? "/" : "");
}

export function join(...paths: string[]): string {
  const joined = paths.filter((path) => path !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/** The absolute, normalised path of `paths` taken from the right, against the working directory. */
export function resolve(...paths: string[]): string {
  let path = "";
  for (let i = paths.length - 1; i >= 0 && !isAbsolute(path); i--) {
    if (paths[i] !== "") path = path === "" ? paths[i] : `${paths[i]}/${path}`;
  }
  if (!isAbsolute(path)) path = path === "" ? Deno.cwd() : `${Deno.cwd()}/${path}`;
  const normalized = normalize(path);
  return normalized.length > 1 && normalized.endsWith("/") ? normalized.slice(0, -1) : normalized;
}

/** Everything before the last component (trailing slashes ignored); slashes before it are kept as given. */
export function dirname(path: string): string {
  if (path === "") return ".";
  let end = path.length - 1;
  while (end > 0 && path[end] === "/") end--; // trailing slashes
  while (end > 0 && path[end] !== "/") end--; // the last component
  if (end <= 0) return isAbsolute(path) ? "/" : ".";
  return end === 1 && isAbsolute(path) ? "//" : path.slice(0, end);
}

export function basename(path: string): string {
  const trimmed = trimTrailingSlashes(path);
  return trimmed === "/" ? "" : trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

function trimTrailingSlashes(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed === "" && path !== "" ? "/" : trimmed;
}

/** `$HOME`, else the home field of the user's /etc/passwd entry (node:os homedir's order), else `/`. */
export function homeDirectory(env: Record<string, string | undefined> = Deno.env.toObject()): string {
  if (env.HOME !== undefined) return env.HOME;
  try {
    const uid = String(Deno.uid());
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const fields = line.split(":");
      if (fields.length >= 6 && fields[2] === uid) return fields[5];
    }
  } catch {
    // No passwd file: fall through.
  }
  return "/";
}
