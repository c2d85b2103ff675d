/**
 * Debian packages that CLI tests run (shells, systemd-analyze): installed with apt-get when a command is
 * missing, as scripts/ceph-cluster does for the Ceph tests, so a fresh CI machine has them. A failed install
 * fails the test that needs the package (tests never skip).
 */

async function hasCommand(command: string): Promise<boolean> {
  const found = await new Deno.Command("sh", { args: ["-c", `command -v ${command}`], stdout: "null" }).output();
  return found.success;
}

async function aptGet(args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command("apt-get", {
    args: ["-o", "DPkg::Lock::Timeout=300", "-y", "-qq", ...args],
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/** Makes sure each command exists, installing its package (`{ command: package }`) when it does not. */
export async function ensureCommands(packages: Record<string, string>): Promise<void> {
  const missing: string[] = [];
  for (const [command, pkg] of Object.entries(packages)) if (!(await hasCommand(command))) missing.push(pkg);
  if (missing.length === 0) return;
  const install = ["install", "--no-install-recommends", ...missing];
  let result = await aptGet(install);
  if (!result.success) {
    await aptGet(["update"]);
    result = await aptGet(install);
  }
  if (!result.success) {
    throw new Error(`apt-get install ${missing.join(" ")} failed:\n${new TextDecoder().decode(result.stderr)}`);
  }
}
