/**
 * CLI tests of `backup`, `restore`, `ls` and `initdb`: every test starts backy2 as a separate process in
 * a fresh sandbox and checks exit codes, the exact console output (minus the timing-dependent progress
 * lines), the catalog as `ls` shows it, the blob files written, and that restores give back the source
 * byte for byte.
 */
import {
  assert,
  assertEquals,
  assertFileBytes,
  assertMatch,
  assertSameFile,
  buildImage,
  COMPLETE,
  error,
  expectRun,
  FAILED,
  info,
  parseMachineRows,
  Rng,
  type Sandbox,
  UUID1,
  type VersionRow,
  withSandbox,
  writeHints,
} from "./helpers.ts";

const BS = 4096;
/** 5 whole blocks and a partial one: 21480 bytes, `21 KiB` humanized. */
const IMAGE_SIZE = 21480;

/** Blocks 1 and 3 are zeros, block 5 is partial (1000 bytes). */
function sampleImage(seed = 1): Uint8Array {
  return buildImage(new Rng(seed), BS, ["random", "zero", "random", "zero", "random", "random"], IMAGE_SIZE);
}

/** Writes the sample image to `disk.img` and backs it up as `myvm`; returns the image and the uid. */
async function backedUpSample(sb: Sandbox): Promise<{ image: Uint8Array; uid: string }> {
  const image = sampleImage();
  await Deno.writeFile(sb.path("disk.img"), image);
  return { image, uid: await sb.backup([sb.url("disk.img"), "myvm"]) };
}

function block(image: Uint8Array, id: number): Uint8Array {
  return image.subarray(id * BS, (id + 1) * BS);
}

Deno.test("backup of a file with zero blocks and a partial last block logs the new version and restores byte-identical", async () => {
  await withSandbox({}, async (sb) => {
    const image = sampleImage();
    await Deno.writeFile(sb.path("disk.img"), image);
    const args = ["backup", sb.url("disk.img"), "myvm"];
    const result = await sb.run(args);
    const logged = /^ {4}INFO: \[backy2\.logging\] New version: (\S+) \(Tags: \[(.*)\]\)$/m.exec(result.stdout);
    assert(logged, `no "New version" line:\n${result.stdout}`);
    const uid = logged[1];
    const newVersion = `New version: ${uid} (Tags: [b_daily,b_weekly,b_monthly])`;
    // Random blocks do not compress: their blobs are stored plain, as large as the data.
    const written = "Wrote 4 blobs: 13 KiB of data stored in 13 KiB (100 %).";
    expectRun(result, {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args) + info(written) + info(newVersion) + COMPLETE,
    });
    assertMatch(uid, UUID1);

    // Two zero blocks are sparse: only the four blocks with data are stored.
    assertEquals(await sb.blobCount(), 4, "blob files");
    const rows = await sb.versions();
    assertEquals(rows.length, 1);
    const row = rows[0];
    assertEquals({ ...row, date: "" }, {
      date: "",
      name: "myvm",
      snapshot_name: "",
      size: "6",
      size_bytes: String(IMAGE_SIZE),
      uid,
      valid: "1",
      protected: "0",
      tags: "b_daily,b_monthly,b_weekly",
      expire: "",
    });
    assertMatch(row.date, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const age = Date.now() - Date.parse(row.date.replace(" ", "T") + "Z");
    assert(age > -5000 && age < 120_000, `version date ${row.date} is the current UTC time`);

    const restoreArgs = ["restore", uid, sb.url("restored.img")];
    expectRun(await sb.run(restoreArgs), { code: 0, stderr: "", stdout: sb.commandLine(restoreArgs) + COMPLETE });
    await assertFileBytes(sb.path("restored.img"), image, "restore");

    // file:// paths without a third slash are relative to the working directory; -m silences the INFO lines.
    const relative = await sb.run(["-m", "restore", uid, "file://relative.img"], { cwd: sb.dir });
    expectRun(relative, { code: 0, stderr: "", stdout: "" });
    await assertFileBytes(sb.path("relative.img"), image, "restore to a relative path");

    // The logfile gets every INFO line as `{local time,ms} [{pid}] {message}`.
    const log = (await Deno.readTextFile(sb.path("backy.log"))).split("\n").filter((line) => line);
    for (const line of log) assertMatch(line, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[\d+\] /);
    const messages = log.map((line) => line.replace(/^\S+ \S+ \[\d+\] /, ""));
    for (const message of [`$ backy2 -c ${sb.config} ${args.join(" ")}`, newVersion, "Backy complete."]) {
      assert(messages.includes(message), `the logfile has "${message}":\n${log.join("\n")}`);
    }
  });
});

Deno.test("-m backup prints the version uid twice and nothing else", async () => {
  await withSandbox({}, async (sb) => {
    await Deno.writeFile(sb.path("disk.img"), sampleImage());
    const result = await sb.run(["-m", "backup", sb.url("disk.img"), "myvm"]);
    expectRun(result, { code: 0, stderr: "" });
    const [first, second, ...rest] = result.stdout.split("\n");
    assertMatch(first, UUID1);
    assertEquals(second, first, "second line");
    assertEquals(rest, [""], "nothing after the two uid lines");
    assertEquals((await sb.versions()).map((v) => v.uid), [first]);
  });
});

Deno.test("-v and -d with -m keep log lines off stdout; -v puts them on stderr", async () => {
  await withSandbox({}, async (sb) => {
    const { uid } = await backedUpSample(sb);
    const verbose = await sb.run(["-vms", "ls", "-f", "uid"]);
    expectRun(verbose, { code: 0, stdout: `${uid}\n` });
    assert(verbose.stderr.includes("   DEBUG: [backy2.logging] backup.ls(**"), verbose.stderr);
    assert(verbose.stderr.includes(COMPLETE), verbose.stderr);
    expectRun(await sb.run(["-dms", "ls", "-f", "uid"]), { code: 0, stdout: `${uid}\n`, stderr: "" });
    const backup = await sb.run(["-vdm", "backup", sb.url("disk.img"), "myvm"]);
    expectRun(backup, { code: 0, stdout: /^(\S+)\n\1\n$/ });
    assert(backup.stderr.includes("New version: "), backup.stderr);
  });
});

Deno.test("-m ls prints the header and one row per version; auto tags only on the first backup of a day", async () => {
  await withSandbox({}, async (sb) => {
    const { uid } = await backedUpSample(sb);
    const second = await sb.backup([sb.url("disk.img"), "myvm"]);
    const result = await sb.run(["-m", "ls"]);
    expectRun(result, { code: 0, stderr: "" });
    const lines = result.stdout.split("\n");
    assertEquals(lines[0], "date|name|snapshot_name|size|size_bytes|uid|valid|protected|tags|expire");
    assertEquals(lines.length, 4);
    const cells = lines.slice(1, 3).map((line) => line.split("|"));
    assertEquals(cells[0].slice(1), ["myvm", "", "6", "21480", uid, "1", "0", "b_daily,b_monthly,b_weekly", ""]);
    assertEquals(cells[1].slice(1), ["myvm", "", "6", "21480", second, "1", "0", "", ""]);

    const skipped = await sb.run(["-ms", "ls"]);
    expectRun(skipped, { code: 0, stderr: "", stdout: lines.slice(1).join("\n") });
  });
});

Deno.test("ls prints the reference's table layout, with -s and with no rows", async () => {
  await withSandbox({}, async (sb) => {
    const { uid } = await backedUpSample(sb);
    const second = await sb.backup([sb.url("disk.img"), "myvm"]);
    const [d1, d2] = (await sb.versions()).map((v) => v.date);

    const rule = "+---------------------+------+---------------+------+------------+" +
      "--------------------------------------+-------+-----------+----------------------------+--------+\n";
    const table = rule +
      "|         date        | name | snapshot_name | size | size_bytes |                 uid                  | valid " +
      "| protected | tags                       | expire |\n" +
      rule +
      `| ${d1} | myvm |               |    6 |      21480 | ${uid} |   1   |     0     | b_daily,b_monthly,b_weekly |` +
      "        |\n" +
      `| ${d2} | myvm |               |    6 |      21480 | ${second} |   1   |     0     |                            |` +
      "        |\n" +
      rule;
    expectRun(await sb.run(["ls"]), { code: 0, stderr: "", stdout: sb.commandLine(["ls"]) + table + COMPLETE });

    // Without the header the widths come from the data alone (empty columns are 0 wide).
    const narrow = "+---------------------+------+--+---+-------+--------------------------------------+---+---+" +
      "----------------------------+--+\n";
    const noHeader = narrow +
      `| ${d1} | myvm |  | 6 | 21480 | ${uid} | 1 | 0 | b_daily,b_monthly,b_weekly |  |\n` +
      `| ${d2} | myvm |  | 6 | 21480 | ${second} | 1 | 0 |                            |  |\n` +
      narrow;
    expectRun(await sb.run(["-s", "ls"]), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(["-s", "ls"]) + noHeader + COMPLETE,
    });

    const emptyRule = "+------+------+---------------+------+------------+-----+-------+-----------+------+--------+\n";
    const empty = emptyRule +
      "| date | name | snapshot_name | size | size_bytes | uid | valid | protected | tags | expire |\n" +
      emptyRule + emptyRule;
    expectRun(await sb.run(["ls", "nosuchname"]), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(["ls", "nosuchname"]) + empty + COMPLETE,
    });

    // -r humanizes size_bytes only: 21480 bytes are 21 KiB, right-aligned in the 10-wide column.
    const human = await sb.run(["-r", "ls"]);
    expectRun(human, { code: 0, stderr: "" });
    assert(human.stdout.includes(`|    6 |     21 KiB | ${uid} |`), `humanized row:\n${human.stdout}`);
  });
});

Deno.test("ls aligns names and tags in CJK, emoji and combining marks by their display width", async () => {
  await withSandbox({}, async (sb) => {
    await Deno.writeFile(sb.path("disk.img"), sampleImage());
    await sb.backup(["-t", "日本", sb.url("disk.img"), "e\u0301t\u00e9"]);
    await sb.backup(["-t", "x", sb.url("disk.img"), "😀vm"]);
    const args = ["ls", "-f", "name,tags"];
    expectRun(await sb.run(args), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(args) +
        "+------+------+\n| name | tags |\n+------+------+\n| e\u0301t\u00e9  | 日本 |\n| 😀vm | x    |\n" +
        "+------+------+\n" + COMPLETE,
    });
  });
});

Deno.test("backup -s/-t/-e are stored, and ls filters by name, snapshot, tag, expiry and fields", async () => {
  await withSandbox({}, async (sb) => {
    await Deno.writeFile(sb.path("disk.img"), sampleImage());
    const a = await sb.backup(["-s", "snapA", sb.url("disk.img"), "vm1"]);

    const bArgs = ["backup", "-s", "snapX", "-t", "a, b", "-e", "2020-01-02", sb.url("disk.img"), "vm2"];
    const bRun = await sb.run(bArgs);
    expectRun(bRun, { code: 0, stderr: "" });
    const tagged = /New version: (\S+) \(Tags: \[a,b\]\)\n/.exec(bRun.stdout);
    assert(tagged, `explicit tags are logged as [a,b]:\n${bRun.stdout}`);
    const b = tagged[1];

    const c = await sb.backup(["-t", "c", "-e", "2999-12-31T23:59:59", "null://10kB", "vm2"]);

    const ms = async (args: string[]) => {
      const result = await sb.run(["-ms", "ls", ...args]);
      expectRun(result, { code: 0, stderr: "" }, `ls ${args.join(" ")}`);
      return result.stdout;
    };
    const uids = async (args: string[]) => (await ms([...args, "-f", "uid"])).split("\n").filter((l) => l);

    assertEquals(await uids([]), [a, b, c], "all, ordered by name then date");
    assertEquals(await uids(["vm2"]), [b, c], "by name");
    assertEquals(await uids(["-s", "snapX"]), [b], "by snapshot name");
    assertEquals(await uids(["-t", "a"]), [b], "by tag a");
    assertEquals(await uids(["-t", "b_daily"]), [a], "by automatic tag");
    assertEquals(await uids(["-t", "a,b"]), [], "-t is one tag, not a list");
    assertEquals(await uids(["vm2", "-t", "c"]), [c], "filters combine");
    assertEquals(await uids(["-e"]), [b], "only versions whose expire date passed");
    assertEquals(await uids([""]), [a, b, c], "an empty name is no filter, as in backy2");
    assertEquals(await uids(["-s", ""]), [a, b, c], "an empty snapshot name is no filter");
    assertEquals(await uids(["-t", ""]), [a, b, c], "an empty tag is no filter");

    assertEquals(
      await ms(["-f", "name,tags,expire,snapshot_name"]),
      "vm1|b_daily,b_monthly,b_weekly||snapA\n" +
        "vm2|a,b|2020-01-02 00:00:00|snapX\n" +
        "vm2|c|2999-12-31 23:59:59|\n",
    );
    assertEquals(await ms(["-f", "size,size_bytes"]), "6|21480\n6|21480\n3|10240\n");

    const withHeader = await sb.run(["-m", "ls", "-f", "name, uid"]);
    expectRun(withHeader, { code: 0, stderr: "", stdout: `name|uid\nvm1|${a}\nvm2|${b}\nvm2|${c}\n` });

    const human = await sb.run(["-r", "-ms", "ls", "-f", "size_bytes"]);
    expectRun(human, { code: 0, stderr: "", stdout: "21 KiB\n21 KiB\n10 KiB\n" });

    // Python's strftime on Linux does not pad years before 1000.
    expectRun(await sb.run(["expire", a, "0001-01-01"]), { code: 0, stderr: "" });
    assertEquals(await ms(["vm1", "-f", "expire"]), "1-01-01 00:00:00\n");
  });
});

Deno.test("restore into an existing file needs -f and leaves the file alone without it", async () => {
  await withSandbox({}, async (sb) => {
    const { image, uid } = await backedUpSample(sb);
    const garbage = new Rng(99).bytes(IMAGE_SIZE);
    await Deno.writeFile(sb.path("existing.img"), garbage);

    const args = ["restore", uid, sb.url("existing.img")];
    expectRun(await sb.run(args), {
      code: 1,
      stdout: sb.commandLine(args),
      stderr: error(`Target already exists: ${sb.url("existing.img")}`) +
        "Error opening restore target. You must force the restore.\n",
    });
    await assertFileBytes(sb.path("existing.img"), garbage, "untouched without -f");

    // Without -s the zero blocks are written too, so the old content is gone everywhere.
    await sb.restore(uid, "existing.img", ["-f"]);
    await assertFileBytes(sb.path("existing.img"), image, "forced restore");
  });
});

Deno.test("restore -f into a smaller file fails with the sizes; a larger file keeps its tail", async () => {
  await withSandbox({}, async (sb) => {
    const { image, uid } = await backedUpSample(sb);
    const small = new Rng(7).bytes(100);
    await Deno.writeFile(sb.path("small.img"), small);
    const args = ["restore", "-f", uid, sb.url("small.img")];
    expectRun(await sb.run(args), {
      code: 1,
      stdout: sb.commandLine(args),
      stderr: error(`Target size is too small. Has 100b, need ${IMAGE_SIZE}b.`) + "Error opening restore target.\n",
    });
    await assertFileBytes(sb.path("small.img"), small, "untouched");

    const large = new Rng(8).bytes(IMAGE_SIZE + 5000);
    await Deno.writeFile(sb.path("large.img"), large);
    await sb.restore(uid, "large.img", ["-f"]);
    const expected = large.slice();
    expected.set(image);
    await assertFileBytes(sb.path("large.img"), expected, "restored head, original tail");
  });
});

Deno.test("restore -s skips sparse blocks: a new file is still identical, an existing one keeps old data there", async () => {
  await withSandbox({}, async (sb) => {
    const { image, uid } = await backedUpSample(sb);
    await sb.restore(uid, "sparse.img", ["-s"]);
    await assertFileBytes(sb.path("sparse.img"), image, "sparse restore into a new file");

    const garbage = new Rng(5).bytes(IMAGE_SIZE);
    await Deno.writeFile(sb.path("existing.img"), garbage);
    await sb.restore(uid, "existing.img", ["-s", "-f"]);
    const expected = image.slice();
    for (const zeroBlock of [1, 3]) expected.set(block(garbage, zeroBlock), zeroBlock * BS);
    await assertFileBytes(sb.path("existing.img"), expected, "sparse blocks keep the old content");
  });
});

Deno.test("restore -c N starts at block N", async () => {
  await withSandbox({}, async (sb) => {
    const { image, uid } = await backedUpSample(sb);
    const garbage = new Rng(6).bytes(IMAGE_SIZE);
    await Deno.writeFile(sb.path("existing.img"), garbage);
    await sb.restore(uid, "existing.img", ["-f", "-c", "2"]);
    const expected = image.slice();
    expected.set(garbage.subarray(0, 2 * BS));
    await assertFileBytes(sb.path("existing.img"), expected, "blocks 0 and 1 untouched");

    // Into a new file the skipped blocks read as zeros.
    await sb.restore(uid, "new.img", ["-c", "4"]);
    const fresh = image.slice();
    fresh.fill(0, 0, 4 * BS);
    await assertFileBytes(sb.path("new.img"), fresh, "new file continued at block 4");
  });
});

/** A 16-block base image and a changed copy with hints covering every change (rbd diff style). */
function differentialImages() {
  const rng = new Rng(42);
  const base = buildImage(rng, BS, Array.from({ length: 16 }, () => "random" as const));
  const changed = base.slice();
  changed.set(rng.bytes(200), 3 * BS + 100); // patch inside block 3
  changed.set(rng.bytes(BS), 7 * BS); // block 7 replaced
  changed.fill(0, 10 * BS, 11 * BS); // block 10 discarded
  changed.set(rng.bytes(100), 13 * BS - 50); // patch across blocks 12 and 13
  const hints = [
    { offset: 3 * BS + 100, length: 200, exists: "true" },
    { offset: 7 * BS, length: BS, exists: "true" },
    { offset: 10 * BS, length: BS, exists: "false" },
    { offset: 13 * BS - 50, length: 100, exists: true },
    { offset: 15 * BS, length: BS, exists: "true" }, // hinted but unchanged: read, found by dedup
  ];
  return { base, changed, hints };
}

Deno.test("differential backup with a hints file stores only the changed blocks and restores byte-identical", async () => {
  await withSandbox({}, async (sb) => {
    const { base, changed, hints } = differentialImages();
    await Deno.writeFile(sb.path("disk.img"), base);
    const baseUid = await sb.backup([sb.url("disk.img"), "vm"]);
    assertEquals(await sb.blobCount(), 16);

    await Deno.writeFile(sb.path("disk.img"), changed);
    await writeHints(sb.path("hints.json"), hints);
    const uid = await sb.backup(["-f", baseUid, "-r", sb.path("hints.json"), sb.url("disk.img"), "vm"]);
    // Blocks 3, 7, 12 and 13 are new; 10 is sparse, 15 dedups, the rest is copied from the base unread.
    assertEquals(await sb.blobCount(), 20, "blob files after the differential backup");
    const row = await sb.version(uid);
    assertEquals([row.valid, row.size, row.size_bytes], ["1", "16", String(16 * BS)]);

    await sb.restore(uid, "v2.img");
    await assertFileBytes(sb.path("v2.img"), changed, "differential version");
    await sb.restore(baseUid, "v1.img");
    await assertFileBytes(sb.path("v1.img"), base, "base version unchanged");
  });
});

Deno.test("differential backup reads hints from stdin with -r -", async () => {
  await withSandbox({}, async (sb) => {
    const { base } = differentialImages();
    await Deno.writeFile(sb.path("disk.img"), base);
    const baseUid = await sb.backup([sb.url("disk.img"), "vm"]);
    const changed = base.slice();
    changed.set(new Rng(3).bytes(10), BS + 5);
    changed.set(new Rng(4).bytes(BS), 9 * BS);
    await Deno.writeFile(sb.path("disk.img"), changed);
    const hints = JSON.stringify([
      { offset: BS, length: BS, exists: "true" },
      { offset: 9 * BS, length: BS, exists: "true" },
    ]);
    // Only the first line counts: the rest of stdin is ignored.
    const uid = await sb.backup(["-f", baseUid, "-r", "-", sb.url("disk.img"), "vm"], {
      stdin: `${hints}\nthis line is not read\n`,
    });
    assertEquals(await sb.blobCount(), 18);
    await sb.restore(uid, "restored.img");
    await assertFileBytes(sb.path("restored.img"), changed);
  });
});

Deno.test("differential backup hinting all but two blocks samples fewer than five unhinted blocks and succeeds", async () => {
  await withSandbox({}, async (sb) => {
    const rng = new Rng(12);
    const kinds = Array.from({ length: 8 }, () => "random" as const);
    const base = buildImage(rng, BS, kinds);
    await Deno.writeFile(sb.path("disk.img"), base);
    const baseUid = await sb.backup([sb.url("disk.img"), "vm"]);
    const changed = base.slice();
    changed.set(rng.bytes(6 * BS), BS);
    await Deno.writeFile(sb.path("disk.img"), changed);
    await writeHints(sb.path("hints.json"), [{ offset: BS, length: 6 * BS, exists: "true" }]);
    const uid = await sb.backup(["-f", baseUid, "-r", sb.path("hints.json"), sb.url("disk.img"), "vm"]);
    await sb.restore(uid, "restored.img");
    await assertFileBytes(sb.path("restored.img"), changed);
  });
});

Deno.test("differential backup without hints reads every block and stores only changed content", async () => {
  await withSandbox({}, async (sb) => {
    const { image, uid: baseUid } = await backedUpSample(sb);
    const changed = image.slice();
    changed.set(new Rng(13).bytes(10), 4 * BS + 7);
    changed.fill(0, 0, BS);
    await Deno.writeFile(sb.path("disk.img"), changed);
    const uid = await sb.backup(["-f", baseUid, sb.url("disk.img"), "vm"]);
    assertEquals(await sb.blobCount(), 5, "one new blob for block 4; block 0 became sparse");
    await sb.restore(uid, "restored.img");
    await assertFileBytes(sb.path("restored.img"), changed);
  });
});

Deno.test("a hints file without a base version records unlisted blocks as sparse (rbd diff without --from-snap)", async () => {
  await withSandbox({}, async (sb) => {
    const image = sampleImage();
    await Deno.writeFile(sb.path("disk.img"), image);
    await writeHints(sb.path("hints.json"), [{ offset: 4 * BS, length: 10, exists: "true" }]);
    const uid = await sb.backup(["-r", sb.path("hints.json"), sb.url("disk.img"), "vm"]);
    assertEquals(await sb.blobCount(), 1, "only the hinted block is read");
    const stats = await sb.run(["-m", "stats", uid]);
    const row = parseMachineRows(stats.stdout)[0];
    assertEquals(
      [row["bytes read"], row["blocks read"], row["bytes sparse"], row["blocks sparse"]],
      [String(BS), "1", String(IMAGE_SIZE - BS), "5"],
      "the 4 whole unhinted blocks and the short last one are counted sparse",
    );
    await sb.restore(uid, "restored.img");
    const expected = new Uint8Array(IMAGE_SIZE);
    expected.set(block(image, 4), 4 * BS);
    await assertFileBytes(sb.path("restored.img"), expected, "everything but block 4 reads as zeros");

    await Deno.writeTextFile(sb.path("empty.json"), "[]\n");
    const empty = await sb.backup(["-r", sb.path("empty.json"), sb.url("disk.img"), "vm"]);
    assertEquals(await sb.blobCount(), 1, "an empty hints list reads nothing");
    await sb.restore(empty, "empty.img");
    await assertFileBytes(sb.path("empty.img"), new Uint8Array(IMAGE_SIZE), "all zeros");
  });
});

Deno.test("a false hint extent covering part of a block makes the backup read that block, not record it as zeros", async () => {
  await withSandbox({}, async (sb) => {
    const base = buildImage(new Rng(21), BS, Array.from({ length: 8 }, () => "random" as const));
    await Deno.writeFile(sb.path("disk.img"), base);
    const baseUid = await sb.backup([sb.url("disk.img"), "vm"]);
    // rbd diff without --whole-object: 100 bytes inside block 2 were discarded, the rest of it is unchanged.
    const changed = base.slice();
    changed.fill(0, 2 * BS + 100, 2 * BS + 200);
    await Deno.writeFile(sb.path("disk.img"), changed);
    await writeHints(sb.path("hints.json"), [{ offset: 2 * BS + 100, length: 100, exists: "false" }]);
    const uid = await sb.backup(["-f", baseUid, "-r", sb.path("hints.json"), sb.url("disk.img"), "vm"]);
    await sb.restore(uid, "restored.img");
    await assertFileBytes(sb.path("restored.img"), changed);
  });
});

Deno.test('hint extents whose exists is a JSON value Python counts as false ([], {}, 0, "", null) are not read', async () => {
  await withSandbox({}, async (sb) => {
    await Deno.writeFile(
      sb.path("disk.img"),
      buildImage(new Rng(22), BS, ["random", "random", "random", "random", "random"]),
    );
    const falsy: unknown[] = [[], {}, 0, "", null];
    await Deno.writeTextFile(
      sb.path("hints.json"),
      JSON.stringify(falsy.map((exists, id) => ({ offset: id * BS, length: BS, exists }))) + "\n",
    );
    const uid = await sb.backup(["-r", sb.path("hints.json"), sb.url("disk.img"), "vm"]);
    const row = parseMachineRows((await sb.run(["-m", "stats", uid])).stdout)[0];
    assertEquals([row["blocks read"], row["blocks sparse"]], ["0", "5"]);
    assertEquals(await sb.blobCount(), 0);
  });
});

Deno.test("differential backup whose hints miss changes fails the sanity check with exit 5 and keeps no version", async () => {
  await withSandbox({}, async (sb) => {
    const rng = new Rng(11);
    const kinds = Array.from({ length: 16 }, () => "random" as const);
    await Deno.writeFile(sb.path("disk.img"), buildImage(rng, BS, kinds));
    const baseUid = await sb.backup([sb.url("disk.img"), "vm"]);
    // Every block changes but the hints name block 0 only.
    await Deno.writeFile(sb.path("disk.img"), buildImage(rng, BS, kinds));
    await writeHints(sb.path("hints.json"), [{ offset: 0, length: BS, exists: "true" }]);
    const args = ["backup", "-f", baseUid, "-r", sb.path("hints.json"), sb.url("disk.img"), "vm"];
    const result = await sb.run(args);
    const found = /block (\d+): offset (\d+)/.exec(result.stderr);
    assert(found, `no "Found wrong source data" line:\n${result.stderr}`);
    const id = Number(found[1]);
    assert(id >= 1 && id < 16, `block ${id} is an unhinted block`);
    expectRun(result, {
      code: 5,
      stdout: sb.commandLine(args),
      stderr: error("Source and backup don't match in regions outside of the hints.") +
        error("Looks like the hints don't match or the source is different.") +
        error(`Found wrong source data at block ${id}: offset ${id * BS} with max. length ${BS}`),
    });
    assertEquals((await sb.versions()).map((v) => v.uid), [baseUid], "the failed version is removed");
  });
});

Deno.test("deduplication: identical content backed up again, even reordered, writes no new blobs", async () => {
  await withSandbox({}, async (sb) => {
    const { image } = await backedUpSample(sb);
    const count = await sb.blobCount();
    assertEquals(count, 4);
    await sb.backup([sb.url("disk.img"), "other"]);
    assertEquals(await sb.blobCount(), count, "same image again");

    // Whole blocks in another order (the partial block keeps its place).
    const reordered = image.slice();
    for (let id = 0; id < 5; id++) reordered.set(block(image, 4 - id), id * BS);
    await Deno.writeFile(sb.path("reordered.img"), reordered);
    const uid = await sb.backup([sb.url("reordered.img"), "reordered"]);
    assertEquals(await sb.blobCount(), count, "reordered blocks");
    await sb.restore(uid, "restored.img");
    await assertFileBytes(sb.path("restored.img"), reordered);
  });
});

Deno.test("deduplication: 0 stores every data block and still restores byte-identical", async () => {
  await withSandbox({ deduplication: false }, async (sb) => {
    const image = buildImage(new Rng(21), BS, ["random", { copyOf: 0 }, "random", "zero", { copyOf: 2 }]);
    await Deno.writeFile(sb.path("disk.img"), image);
    const first = await sb.backup([sb.url("disk.img"), "vm"]);
    assertEquals(await sb.blobCount(), 4, "the zero block is sparse; duplicates are written again");
    const second = await sb.backup([sb.url("disk.img"), "vm"]);
    assertEquals(await sb.blobCount(), 8, "the same image again is written again");
    await sb.restore(first, "first.img");
    await sb.restore(second, "second.img");
    await assertFileBytes(sb.path("first.img"), image);
    await assertFileBytes(sb.path("second.img"), image);
  });
});

/** The content of a `null://` block: 16-byte little-endian id, then spaces. */
function nullBlock(id: number, length: number): Uint8Array {
  const data = new Uint8Array(length).fill(0x20);
  let value = BigInt(id);
  for (let i = 0; i < Math.min(16, length); i++) {
    data[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return data;
}

Deno.test("null:// sources back up generated blocks; they restore to null:// and to a file", async () => {
  await withSandbox({}, async (sb) => {
    const big = await sb.backup(["null://1M", "null-1M"]);
    const odd = await sb.backup(["null://10kB", "null-10k"]);
    const tiny = await sb.backup(["null://100", "null-100"]);
    const rows = await sb.versions();
    const sizes = Object.fromEntries(rows.map((v) => [v.uid, [v.size, v.size_bytes, v.valid]]));
    assertEquals(sizes[big], ["256", "1048576", "1"]);
    assertEquals(sizes[odd], ["3", "10240", "1"]);
    assertEquals(sizes[tiny], ["1", "100", "1"]);
    // Block i has the same content in every null:// source of at least (i+1) blocks: the 10 KiB source only
    // adds its partial last block, the 100-byte one its only (partial) block.
    assertEquals(await sb.blobCount(), 256 + 1 + 1);

    const toNull = ["restore", big, "null://"];
    expectRun(await sb.run(toNull), { code: 0, stderr: "", stdout: sb.commandLine(toNull) + COMPLETE });

    for (const [uid, size, name] of [[big, 1 << 20, "big.img"], [odd, 10240, "odd.img"]] as const) {
      await sb.restore(uid, name);
      const expected = new Uint8Array(size);
      for (let id = 0; id * BS < size; id++) expected.set(nullBlock(id, Math.min(BS, size - id * BS)), id * BS);
      await assertFileBytes(sb.path(name), expected, `null:// content of ${name}`);
    }
  });
});

Deno.test("initdb creates the catalog once; a second initdb fails with exit 100", async () => {
  await withSandbox({ catalog: false }, async (sb) => {
    expectRun(await sb.run(["initdb"]), { code: 0, stderr: "", stdout: sb.commandLine(["initdb"]) + COMPLETE });
    const again = await sb.run(["initdb"]);
    expectRun(again, { code: 100, stdout: sb.commandLine(["initdb"]) });
    const lines = again.stderr.split("\n");
    assertEquals(lines.length, 4, `one error line, then Backy failed:\n${again.stderr}`);
    assert(lines[0].startsWith("   ERROR: [backy2.logging] ") && lines[0].length > 27, lines[0]);
    assertEquals(lines.slice(1).join("\n"), FAILED);
    // The catalog is intact and usable.
    expectRun(await sb.run(["-ms", "ls"]), { code: 0, stderr: "", stdout: "" });
    await backedUpSample(sb);
    assertEquals((await sb.versions()).length, 1);
  });
});

Deno.test("a 0-byte source gives a valid 0-block version that restores to an empty file", async () => {
  await withSandbox({}, async (sb) => {
    await Deno.writeFile(sb.path("empty.img"), new Uint8Array(0));
    const uid = await sb.backup([sb.url("empty.img"), "empty"]);
    const row: VersionRow = await sb.version(uid);
    assertEquals([row.size, row.size_bytes, row.valid], ["0", "0", "1"]);
    assertEquals(await sb.blobCount(), 0);
    await sb.restore(uid, "restored.img");
    assertEquals((await Deno.stat(sb.path("restored.img"))).size, 0);
  });
});

Deno.test("a grown image keeps its old partial last block even when no hint covers it", async () => {
  await withSandbox({}, async (sb) => {
    // 10,000 bytes: the last of 3 blocks holds 1,808 bytes. Growing to 3 full blocks with zeros changes no byte
    // of that block, so an rbd-style diff need not list it; its old bytes must still be in the new version.
    const old = crypto.getRandomValues(new Uint8Array(10000));
    await Deno.writeFile(sb.path("disk.img"), old);
    const base = await sb.backup([sb.url("disk.img"), "myvm"]);
    const grown = new Uint8Array(3 * 4096);
    grown.set(old);
    await Deno.writeFile(sb.path("disk.img"), grown);
    await writeHints(sb.path("hints.json"), []);
    const uid = await sb.backup(["-f", base, "-r", sb.path("hints.json"), sb.url("disk.img"), "myvm"]);
    await sb.restore(uid, "restored.img");
    await assertSameFile(sb.path("restored.img"), sb.path("disk.img"));
  });
});

/** Mounts a 1 MiB tmpfs on `dir`; false when this process may not mount (not root, or no CAP_SYS_ADMIN). */
async function mountSmallTmpfs(dir: string): Promise<boolean> {
  const mount = await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir] }).output();
  return mount.success;
}

Deno.test("restore onto a full filesystem fails with a non-zero exit and never reports success", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    await Deno.mkdir(sb.path("small"));
    if (!await mountSmallTmpfs(sb.path("small"))) {
      console.warn("skipped: cannot mount a tmpfs here (the engine's unit tests cover failing target writes)");
      return;
    }
    try {
      const image = buildImage(new Rng(8), BS, Array(512).fill("random"));
      await Deno.writeFile(sb.path("disk.img"), image);
      const uid = await sb.backup([sb.url("disk.img"), "vm"]);
      const args = ["restore", uid, sb.url("small/restored.img")];
      const result = await sb.run(args);
      expectRun(result, { code: 100 }, "restore onto 1 MiB of space");
      assert(!result.stdout.includes("Backy complete."), "no 'Backy complete.'");
      assertMatch(result.stderr, /Cannot write block \d+ to file:\/\/.*No space left on device/);
      assertEquals((await sb.version(uid)).valid, "1", "a target failure invalidates nothing");
    } finally {
      await new Deno.Command("umount", { args: [sb.path("small")] }).output();
    }
  });
});
