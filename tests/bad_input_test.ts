/**
 * CLI tests of bad input: every mistake a user can make on the command line, in a hints file or in the
 * config gives the reference's one-line message on stderr and its exit code, never a JavaScript stack
 * trace, and leaves the catalog, the blob files and the sandbox as they were (no version, no blob, no
 * restore target created).
 */
import {
  assert,
  assertEquals,
  buildImage,
  error,
  escapeRegExp,
  type Expected,
  expectRun,
  FAILED,
  Rng,
  runBacky,
  runWithin,
  Sandbox,
  withSandbox,
  writeConfig,
  writeHints,
} from "./helpers.ts";
import { pyRepr } from "../src/output/pystr.ts";

const BS = 4096;

/** The one line for a source whose size cannot be known. */
function unsizedSource(path: string, kind: string): string {
  return `Source '${path}' is ${kind}, whose size cannot be known: back up a regular file or a block device.`;
}
const UNKNOWN_UID = "00000000-0000-1000-8000-000000000000";

/** What must not change: the catalog as `ls` shows it, the blob files, and the sandbox's own files. */
async function snapshot(sb: Sandbox): Promise<string> {
  const ls = await sb.run(["-ms", "ls"]);
  expectRun(ls, { code: 0, stderr: "" });
  const files: string[] = [];
  for await (const entry of Deno.readDir(sb.dir)) {
    // The log grows with every run; lock files are left in place by design (src/lock/locks.ts).
    if (entry.name !== "backy.log" && !entry.name.endsWith(".lock")) files.push(entry.name);
  }
  return JSON.stringify({ ls: ls.stdout, blobs: await sb.blobs(), files: files.sort() }, null, 1);
}

/**
 * A sandbox with a valid version of `disk.img` and an invalid one of `other.img` (one of its blobs was
 * corrupted and a restore found it, which invalidates the version).
 */
async function prepare(sb: Sandbox): Promise<{ valid: string; invalid: string }> {
  const rng = new Rng(1234);
  await Deno.writeFile(sb.path("disk.img"), buildImage(rng, BS, ["random", "zero", "random", "random"], 15000));
  const valid = await sb.backup([sb.url("disk.img"), "vm"]);
  const before = new Set(await sb.blobs());
  await Deno.writeFile(sb.path("other.img"), buildImage(rng, BS, ["random", "random"]));
  const invalid = await sb.backup([sb.url("other.img"), "other"]);
  const own = (await sb.blobs()).filter((path) => !before.has(path));
  assertEquals(own.length, 2, "blobs of other.img");
  const blob = await Deno.readFile(own[0]);
  blob[17] ^= 0xff;
  await Deno.writeFile(own[0], blob);
  const restore = await sb.run(["restore", invalid, sb.url("other-restored.img")]);
  expectRun(restore, { code: 6, stderr: /Checksum mismatch during restore for block \d+ / });
  await Deno.remove(sb.path("other-restored.img"));
  const rows = await sb.versions();
  assertEquals(rows.map((v) => [v.uid, v.valid]), [[invalid, "0"], [valid, "1"]], "ls after the corrupt restore");
  return { valid, invalid };
}

Deno.test("bad input gives the reference's one-line errors and exit codes and changes nothing", async (t) => {
  const sb = await Sandbox.create();
  try {
    const { valid, invalid } = await prepare(sb);
    await Deno.writeTextFile(sb.path("notjson.json"), "this is not JSON\n");
    await Deno.writeTextFile(sb.path("nooffset.json"), '[{"length": 4096, "exists": "true"}]\n');
    await writeHints(sb.path("pastend.json"), [
      { offset: 0, length: 4096, exists: "true" },
      { offset: 12288, length: 2713, exists: "false" },
    ]);
    for (const exists of ['"maybe"', "2"]) {
      await Deno.writeTextFile(
        sb.path(`exists-${exists}.json`),
        `[{"offset": 0, "length": 4096, "exists": "true"}, {"offset": 4096, "length": 4096, "exists": ${exists}}]\n`,
      );
    }
    await Deno.writeFile(
      sb.path("binary.json"),
      Uint8Array.from([0x01, 0x02, 0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a, 0x80]),
    );
    await Deno.mkdir(sb.path("adir"));
    const expected = await snapshot(sb);

    /** Runs `args` (the config is added), checks the outcome, then checks that nothing changed. */
    const check = async (name: string, args: string[], want: Expected & { stdin?: string }) => {
      await t.step(name, async () => {
        const result = await sb.run(args, { stdin: want.stdin });
        expectRun(result, want, `backy2 ${args.join(" ")}`);
        assertEquals(await snapshot(sb), expected, "catalog, blobs and files are unchanged");
      });
    };
    /** A command that fails with `message` and `Backy failed.` (exit 100). */
    const fails = (name: string, args: string[], message: string | RegExp, stdin?: string) =>
      check(name, args, {
        code: 100,
        stdout: args[0] === "-ms" ? "" : sb.commandLine(args),
        stderr: typeof message === "string" ? error(message) + FAILED : message,
        stdin,
      });
    /** Exactly one ERROR line of any text, then `Backy failed.`. */
    const oneLine = /^ {3}ERROR: \[backy2\.logging\] \S.*\n {3}ERROR: \[backy2\.logging\] Backy failed\.\n\n$/;
    const disk = sb.url("disk.img");

    await fails("unknown source scheme", ["backup", "rdb://pool/img", "vm"], "No module named 'backy2.io.rdb'");
    await fails(
      "unknown target scheme",
      ["restore", valid, "s3://bucket/img"],
      "No module named 'backy2.io.s3'",
    );
    await fails("URL with a query", ["backup", "file:///x?y=1", "vm"], "Invalid URL.");
    await fails("URL with a fragment", ["backup", "file:///x#part", "vm"], "Invalid URL.");
    await fails(
      "path without a scheme",
      ["backup", "/tmp/x", "vm"],
      "Invalid URL. You must provide the type (e.g. file://)",
    );
    await fails(
      "file:// without a path",
      ["backup", "file://", "vm"],
      "Not a valid io name: file:// . Need a file path, e.g. file:///somepath/file",
    );
    await fails(
      "null:// with a bad size",
      ["backup", "null://12X", "vm"],
      "Not a valid io name: null://12X . Need a virtual file size, e.g. random://200TB or random://10GB",
    );
    await fails(
      "missing source file",
      ["backup", sb.url("missing.img"), "vm"],
      `[Errno 2] No such file or directory: '${sb.path("missing.img")}'`,
    );
    await fails(
      "missing hints file",
      ["backup", "-r", sb.path("missing.json"), disk, "vm"],
      `[Errno 2] No such file or directory: '${sb.path("missing.json")}'`,
    );
    await fails(
      "a directory as source",
      ["backup", sb.url("adir"), "vm"],
      `[Errno 21] Is a directory: '${sb.path("adir")}'`,
    );
    await fails(
      "a pipe as source (its size is unknown)",
      ["backup", "file:///dev/stdin", "vm"],
      unsizedSource("/dev/stdin", "a FIFO"),
      "not a block device\n",
    );
    await check("restore onto a directory without -f", ["restore", valid, sb.url("adir")], {
      code: 1,
      stdout: sb.commandLine(["restore", valid, sb.url("adir")]),
      stderr: error(`Target already exists: ${sb.url("adir")}`) +
        "Error opening restore target. You must force the restore.\n",
    });
    await fails(
      "forced restore onto a directory",
      ["restore", "-f", valid, sb.url("adir")],
      `[Errno 21] Is a directory: '${sb.path("adir")}'`,
    );
    await fails(
      "restore into a missing folder",
      ["restore", valid, sb.url("nofolder/target.img")],
      `[Errno 2] No such file or directory: '${sb.path("nofolder/target.img")}'`,
    );
    await fails("hints that are not JSON", ["backup", "-r", sb.path("notjson.json"), disk, "vm"], oneLine);
    await fails("hints from stdin that are not JSON", ["backup", "-r", "-", disk, "vm"], oneLine, "[{]\n");
    await fails("hints entry without offset", ["backup", "-r", sb.path("nooffset.json"), disk, "vm"], oneLine);
    for (const exists of ['"maybe"', "2"]) {
      await fails(
        `hints with exists ${exists}`,
        ["backup", "-r", sb.path(`exists-${exists}.json`), disk, "vm"],
        `Hints from ${sb.path(`exists-${exists}.json`)}, entry 1: exists must be true or false ` +
          `("true"/"false", 1/0), ` +
          `not ${exists}.`,
      );
    }
    await fails(
      "a binary hints file is reported without echoing it",
      ["backup", "-r", sb.path("binary.json"), disk, "vm"],
      /^ {3}ERROR: \[backy2\.logging\] Hints from [\x20-\x7e]+\n {3}ERROR: \[backy2\.logging\] Backy failed\.\n\n$/,
    );
    await fails(
      "hints beyond the end of the source",
      ["backup", "-r", sb.path("pastend.json"), disk, "vm"],
      "Hints have higher offsets than source file.",
    );
    await fails(
      "restore of an unknown version",
      ["restore", UNKNOWN_UID, sb.url("target.img")],
      `'Version ${UNKNOWN_UID} not found.'`,
    );
    await fails(
      "continuing a valid version",
      ["backup", "-c", valid, disk, "vm"],
      "You cannot continue a valid version.",
    );
    await fails(
      "continuing an unknown version",
      ["backup", "-c", UNKNOWN_UID, disk, "vm"],
      `'Version ${UNKNOWN_UID} not found.'`,
    );
    await fails(
      "continuing with a source of another size",
      ["backup", "-c", invalid, "null://1M", "other"],
      "Version to continue backup from has a different size than the source. Cannot continue.",
    );
    await fails(
      "basing on an invalid version",
      ["backup", "-f", invalid, disk, "vm"],
      "You cannot base on an invalid version.",
    );
    await fails(
      "basing on an unknown version",
      ["backup", "-f", UNKNOWN_UID, disk, "vm"],
      `'Version ${UNKNOWN_UID} not found.'`,
    );
    await fails("restore -c that is not a number", ["restore", "-c", "abc", valid, sb.url("target.img")], oneLine);
    await fails("unknown ls field", ["-ms", "ls", "-f", "uid,bogus"], "'bogus'");
    // -m output separates fields with |, rows with newlines and tags with commas, without escaping.
    for (const name of ["vm|x", "vm\nx", "vm\rx"]) {
      await fails(
        `a version name ${JSON.stringify(name)}`,
        ["backup", disk, name],
        `Version name ${pyRepr(name)} contains '|' or a line break, which -m output cannot show.`,
      );
    }
    await fails(
      "a snapshot name with |",
      ["backup", "-s", "snap|1", disk, "vm"],
      "Snapshot name 'snap|1' contains '|' or a line break, which -m output cannot show.",
    );
    for (const [text, tag] of [["a|b", "a|b"], ['"a,b"', "a,b"], ['ok,"a\nb"', "a\nb"]]) {
      const message = `Tag ${pyRepr(tag)} contains '|', ',' or a line break, which -m output cannot show.`;
      await fails(`backup -t ${JSON.stringify(text)}`, ["backup", "-t", text, disk, "vm"], message);
      await fails(`add-tag ${JSON.stringify(text)}`, ["add-tag", valid, text], message);
    }
    await fails(
      "stats -l beyond what an integer holds",
      ["stats", "-l", "99999999999999999999"],
      "-l/--limit 99999999999999999999 is out of range.",
    );
    await fails(
      "restore -c with a negative block id",
      ["restore", "-c", "-1", valid, sb.url("target.img")],
      `-c/--continue-from -1 is not a block of version ${valid} (block ids 0 to 3).`,
    );
    await fails(
      "restore -c past the last block",
      ["restore", "-c", "4", valid, sb.url("target.img")],
      `-c/--continue-from 4 is not a block of version ${valid} (block ids 0 to 3).`,
    );
    for (const percent of ["-1", "101"]) {
      await fails(
        `scrub -p ${percent}`,
        ["scrub", "-p", percent, valid],
        `-p/--percentile ${percent} is outside 0..100.`,
      );
    }

    // Bad dates are reported before anything happens, with exit 1 and without "Backy failed.".
    for (
      const [expire, message] of [
        ["foo", "time data 'foo' does not match format '%Y-%m-%d'"],
        ["2020-01-02x", "unconverted data remains: x"],
        ["2020-13-01", "time data '2020-13-01' does not match format '%Y-%m-%d'"],
      ]
    ) {
      const args = ["backup", "-e", expire, disk, "vm"];
      await check(`backup -e '${expire}'`, args, { code: 1, stdout: sb.commandLine(args), stderr: error(message) });
    }

    for (const blockSize of ["abc", "0", "10995116277760", String(2 ** 30 + 512)]) {
      await t.step(`block_size: ${blockSize} is a config error naming file, section and key`, async () => {
        const dir = sb.path("badconfig");
        await Deno.mkdir(dir);
        const config = await writeConfig(dir, {}, "bad.cfg");
        await Deno.writeTextFile(
          config,
          (await Deno.readTextFile(config)).replace("block_size: 4096", `block_size: ${blockSize}`),
        );
        const result = await runBacky(["-c", config, "backup", disk, "vm"]);
        expectRun(result, { code: 1, stdout: "" });
        const lines = result.stderr.split("\n");
        assertEquals(lines.length, 2, `one line:\n${result.stderr}`);
        for (const part of [config, "DEFAULTS", "block_size"]) {
          assert(lines[0].includes(part), `"${lines[0]}" names ${part}`);
        }
        const created = [...Deno.readDirSync(dir)].map((entry) => entry.name);
        assertEquals(created, ["bad.cfg"], "nothing is created next to the config");
        await Deno.remove(dir, { recursive: true });
        assertEquals(await snapshot(sb), expected);
      });
    }

    await t.step("an empty config file path", async () => {
      expectRun(await runBacky(["-c", "", "ls"], { cwd: sb.dir }), {
        code: 1,
        stdout: "",
        stderr: "-c/--configfile is empty: give the path of a config file.\n",
      });
      assertEquals(await snapshot(sb), expected);
    });

    await t.step("a missing config file", async () => {
      expectRun(await runBacky(["-c", "/nonexistent", "ls"]), {
        code: 1,
        stdout: "",
        stderr: "File not found: /nonexistent\n",
      });
    });

    await check("no subcommand prints the usage to stdout", [], { code: 1, stdout: /^usage: backy2 /, stderr: "" });
    await check("an unknown option", ["backup", "--bogus", disk, "vm"], {
      code: 2,
      stdout: "",
      stderr: /^usage: backy2 [^]*\nbacky2: error: unrecognized arguments: --bogus\n$/,
    });
    await check("a missing argument", ["backup", disk], {
      code: 2,
      stdout: "",
      stderr: /^usage: backy2 backup [^]*\nbacky2 backup: error: the following arguments are required: name\n$/,
    });
    await check("an unknown subcommand", ["bogus"], {
      code: 2,
      stdout: "",
      stderr: /^usage: backy2 [^]*\nbacky2: error: argument .*: invalid choice: 'bogus' \(choose from .*\)\n$/,
    });
  } finally {
    await sb.remove();
  }
});

Deno.test("a FIFO or a character device as backup source is refused with one line and creates nothing", async () => {
  const sb = await Sandbox.create();
  try {
    const made = await new Deno.Command("mkfifo", { args: [sb.path("pipe")] }).output();
    assert(made.success, "mkfifo");
    for (const [path, kind] of [[sb.path("pipe"), "a FIFO"], ["/dev/zero", "a character device"]]) {
      const args = ["backup", `file://${path}`, "vm"];
      // A FIFO used to block the open forever: a hang is killed and fails the test.
      expectRun(await runWithin(sb, args), {
        code: 100,
        stdout: sb.commandLine(args),
        stderr: error(unsizedSource(path, kind)) + FAILED,
      }, path);
      assertEquals(await sb.versions(), [], `no version after ${path}`);
      assertEquals(await sb.blobs(), [], `no blob after ${path}`);
    }
  } finally {
    await sb.remove();
  }
});

Deno.test("a logfile that cannot be written costs one warning line on stderr, never the command", async (t) => {
  await withSandbox({}, async (sb) => {
    await Deno.writeFile(sb.path("disk.img"), buildImage(new Rng(7), BS, ["random", "random", "zero"]));
    await Deno.mkdir(sb.path("logdir"));
    const config = await Deno.readTextFile(sb.config);
    const cases = [
      ["on a full disk", "/dev/full"],
      ["in a missing directory", sb.path("missing/backy.log")],
      ["that is a directory", sb.path("logdir")],
    ];
    for (const [what, logfile] of cases) {
      await t.step(`a logfile ${what}`, async () => {
        await Deno.writeTextFile(sb.config, config.replace(/^logfile: .*$/m, `logfile: ${logfile}`));
        const warning = new RegExp(`^backy2: cannot write the logfile ${escapeRegExp(logfile)}: [^\\n]+\\n$`);
        const backup = await sb.run(["-m", "backup", sb.url("disk.img"), "vm"]);
        expectRun(backup, { code: 0, stdout: /^(\S+)\n\1\n$/, stderr: warning });
        const uid = backup.stdout.split("\n")[0];
        expectRun(await sb.run(["-ms", "ls", "-f", "uid", "vm"]), {
          code: 0,
          stdout: new RegExp(`${uid}\n$`),
          stderr: warning,
        });
        const restore = await sb.run(["restore", uid, sb.url(`restored-${uid}.img`)]);
        expectRun(restore, { code: 0, stdout: /Backy complete\./, stderr: warning });
      });
    }
  });
});
