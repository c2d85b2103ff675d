/**
 * CLI tests of the version-metadata commands `protect`, `unprotect`, `add-tag`, `remove-tag` and `expire`:
 * exact console lines, exit codes (including the reference's "warn and succeed" failures), and the result as
 * `ls` shows it.
 */
import {
  assertEquals,
  buildImage,
  COMPLETE,
  error,
  expectRun,
  FAILED,
  Rng,
  type Sandbox,
  withSandbox,
} from "./helpers.ts";

const warning = (message: string) => ` WARNING: [backy2.logging] ${message}\n`;

async function backedUp(sb: Sandbox): Promise<string> {
  await Deno.writeFile(sb.path("disk.img"), buildImage(new Rng(7), 4096, ["random", "zero"]));
  return await sb.backup(["-t", "base", sb.url("disk.img"), "vm"]);
}

/** Runs ARGS and requires exit 0, nothing on stderr, and exactly the command line, `lines` and Backy complete. */
async function succeeds(sb: Sandbox, args: string[], lines = ""): Promise<void> {
  expectRun(await sb.run(args), { code: 0, stderr: "", stdout: sb.commandLine(args) + lines + COMPLETE });
}

/** Runs `-v ARGS` and requires success with `message` among the DEBUG lines. */
async function verbose(sb: Sandbox, args: string[], message: string): Promise<void> {
  const result = await sb.run(["-v", ...args]);
  expectRun(result, { code: 0, stderr: "" });
  const line = `   DEBUG: [backy2.logging] ${message}\n`;
  if (!result.stdout.includes(line)) throw new Error(`no ${JSON.stringify(line)} in:\n${result.stdout}`);
}

/** Runs ARGS and requires exit 100 with `message` as the ERROR line before Backy failed. */
async function fails(sb: Sandbox, args: string[], message: string): Promise<void> {
  expectRun(await sb.run(args), { code: 100, stdout: sb.commandLine(args), stderr: error(message) + FAILED });
}

Deno.test("protect and unprotect toggle the flag and refuse to repeat themselves", async () => {
  await withSandbox({}, async (sb) => {
    const uid = await backedUp(sb);
    await succeeds(sb, ["protect", uid]);
    assertEquals((await sb.version(uid)).protected, "1");
    await fails(sb, ["protect", uid], `Version ${uid} is already protected.`);
    // A protected version cannot be removed.
    await fails(sb, ["rm", "-f", uid], `Version ${uid} is protected. Will not delete.`);

    await verbose(sb, ["unprotect", uid], `Marked version unprotected (UID ${uid})`);
    assertEquals((await sb.version(uid)).protected, "0");
    await fails(sb, ["unprotect", uid], `Version ${uid} is not protected.`);
    await verbose(sb, ["protect", uid], `Marked version protected (UID ${uid})`);

    await fails(sb, ["protect", "nope"], "'Version nope not found.'");
    await fails(sb, ["unprotect", "nope"], "'Version nope not found.'");
    expectRun(await sb.run(["-m", "protect", uid]), {
      code: 100,
      stdout: "",
      stderr: error(`Version ${uid} is already protected.`) + FAILED,
    });
  });
});

Deno.test("add-tag and remove-tag take comma-separated names; add-tag on an unknown version only warns", async () => {
  await withSandbox({}, async (sb) => {
    const uid = await backedUp(sb);
    await succeeds(sb, ["add-tag", uid, ' daily,"a b" ,weekly,daily']);
    assertEquals((await sb.version(uid)).tags, "a b,base,daily,weekly");
    await succeeds(sb, ["add-tag", uid, "base,extra"], "");
    assertEquals((await sb.version(uid)).tags, "a b,base,daily,extra,weekly", "an existing tag is skipped");
    const tagged = await sb.run(["-ms", "ls", "-t", "a b", "-f", "uid"]);
    expectRun(tagged, { code: 0, stderr: "", stdout: `${uid}\n` });

    await succeeds(sb, ["remove-tag", uid, "daily, nosuchtag,a"]);
    assertEquals((await sb.version(uid)).tags, "a b,base,extra,weekly");
    await succeeds(sb, ["remove-tag", uid, '"a b",weekly']);
    assertEquals((await sb.version(uid)).tags, "base,extra");

    // The reference swallows add-tag failures: a warning, and the command still succeeds.
    await succeeds(sb, ["add-tag", "nope", "x"], warning("Unable to add tag."));
    await succeeds(sb, ["remove-tag", "nope", "x"]);
    expectRun(await sb.run(["-m", "add-tag", "nope", "x"]), { code: 0, stdout: "", stderr: "" });
  });
});

Deno.test("expire sets, replaces and clears the expiration date", async () => {
  await withSandbox({}, async (sb) => {
    const uid = await backedUp(sb);
    await succeeds(sb, ["expire", uid, "2030-01-02 03:04:05"]);
    assertEquals((await sb.version(uid)).expire, "2030-01-02 03:04:05");
    await verbose(sb, ["expire", uid, "2020-02-03"], `Set expire for version (UID ${uid})`);
    assertEquals((await sb.version(uid)).expire, "2020-02-03 00:00:00");
    const expired = await sb.run(["-ms", "ls", "-e", "-f", "uid"]);
    expectRun(expired, { code: 0, stderr: "", stdout: `${uid}\n` });

    await succeeds(sb, ["expire", uid, "2031-12-24T18:00:00"]);
    assertEquals((await sb.version(uid)).expire, "2031-12-24 18:00:00");
    await succeeds(sb, ["expire", uid, ""]);
    assertEquals((await sb.version(uid)).expire, "");
  });
});

Deno.test("expire fails with exit 1 on a bad date and only warns for an unknown version", async () => {
  await withSandbox({}, async (sb) => {
    const uid = await backedUp(sb);
    await succeeds(sb, ["expire", uid, "2030-01-01"]);
    const args = ["expire", uid, "tomorrow"];
    expectRun(await sb.run(args), {
      code: 1,
      stdout: sb.commandLine(args),
      stderr: error("time data 'tomorrow' does not match format '%Y-%m-%d'"),
    });
    const rest = ["expire", uid, "2030-01-01 10:00"];
    expectRun(await sb.run(rest), {
      code: 1,
      stdout: sb.commandLine(rest),
      stderr: error("unconverted data remains:  10:00"),
    });
    assertEquals((await sb.version(uid)).expire, "2030-01-01 00:00:00", "a bad date changes nothing");

    await succeeds(sb, ["expire", "nope", "2030-01-01"], warning("Unable to expire version."));
    // The date is checked first, even for an unknown version.
    expectRun(await sb.run(["-m", "expire", "nope", "2030-13-01"]), {
      code: 1,
      stdout: "",
      stderr: error("time data '2030-13-01' does not match format '%Y-%m-%d'"),
    });
  });
});
