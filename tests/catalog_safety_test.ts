/**
 * CLI tests of what keeps a catalog from being created by accident and the store from being emptied by a
 * wrong one: only `initdb` (and the embedded default, on an empty store) creates a catalog, a missing or
 * 0-byte one is an error that creates nothing, and `cleanup --full` refuses to delete most of the store. With
 * locking disabled, `rm` and `cleanup` need their force flags. A lock dir that cannot be used is reported with
 * its cause. The tests of full and read-only catalog disks are in `catalog_disk_test.ts`.
 */
import {
  assert,
  assertEquals,
  BACKY2,
  buildImage,
  collect,
  COMPLETE,
  error,
  expectRun,
  FAILED,
  info,
  Rng,
  type Sandbox,
  withSandbox,
} from "./helpers.ts";
import { DatabaseSync } from "node:sqlite";
import { canMount, mountTest, withMount } from "./mounts.ts";

const BS = 4096;

function missing(path: string): string {
  return `Catalog ${path} does not exist. Run 'backy2 initdb' to create it (or fix [MetaBackend] engine).`;
}

function empty(path: string): string {
  return `Catalog ${path} is empty (0 bytes). Run 'backy2 initdb' to create it (or fix [MetaBackend] engine).`;
}

function refusal(remove: number, total: number, why: string): string {
  return `Cleanup --full would delete ${remove} of ${total} blobs (${why}); refusing. Check [MetaBackend] engine, ` +
    "or add --dangerous-force.";
}

const LOCKLESS_RM = "Locking is disabled (lock_dir is empty), so rm could remove a version that a running backup, " +
  "restore or scrub uses. Add -f to remove it anyway.";
const LOCKLESS_CLEANUP = "Locking is disabled (lock_dir is empty), so cleanup could delete blobs that a running " +
  "backup is about to use. Add --dangerous-force to run it anyway.";

/** Writes a blob file that no catalog knows (uid `{prefix}` padded to 32 characters); returns its path. */
async function plantBlob(sb: Sandbox, prefix: string, suffix = ".blob"): Promise<string> {
  const uid = prefix.padEnd(32, "0");
  const dir = `${sb.dataDir}/${uid.slice(0, 2)}/${uid.slice(2, 4)}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/${uid}${suffix}`, new Uint8Array(BS).fill(7));
  return `${dir}/${uid}${suffix}`;
}

/** Every file below `dir`, sorted. */
async function filesBelow(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await filesBelow(path));
    else found.push(path);
  }
  return found.sort();
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("a missing catalog is an error that creates nothing, for every command but initdb", async () => {
  await withSandbox({ blockSize: BS, catalog: false }, async (sb) => {
    const catalog = sb.path("backy.sqlite");
    await Deno.writeFile(sb.path("disk.img"), buildImage(new Rng(1), BS, ["random", "random"]));
    const orphan = await plantBlob(sb, "ab");
    for (const args of [["ls"], ["backup", sb.url("disk.img"), "vm"], ["cleanup", "--full"], ["cleanup"], ["stats"]]) {
      expectRun(await sb.run(args), { code: 1, stdout: sb.commandLine(args), stderr: error(missing(catalog)) });
    }
    assert(!await exists(catalog), "no catalog was created");
    assertEquals(await sb.blobs(), [orphan], "the store is untouched");

    const typo = sb.path("typo/backy.sqlite");
    await sb.setConfig("engine", `sqlite:///${typo}`);
    expectRun(await sb.run(["ls"]), { code: 1, stdout: sb.commandLine(["ls"]), stderr: error(missing(typo)) });
    assert(!await exists(sb.path("typo")), "no directory was created for the mistyped catalog");

    expectRun(await sb.run(["initdb"]), { code: 0, stderr: "", stdout: sb.commandLine(["initdb"]) + COMPLETE });
    expectRun(await sb.run(["-ms", "ls"]), { code: 0, stderr: "", stdout: "" }, "ls of the new catalog");
  });
});

Deno.test("a 0-byte catalog is an error like a missing one; initdb creates it in place", async () => {
  await withSandbox({ blockSize: BS, catalog: false }, async (sb) => {
    const catalog = sb.path("backy.sqlite");
    await Deno.writeFile(catalog, new Uint8Array(0));
    const orphan = await plantBlob(sb, "cd");
    for (const args of [["ls"], ["cleanup", "--full"]]) {
      expectRun(await sb.run(args), { code: 1, stdout: sb.commandLine(args), stderr: error(empty(catalog)) });
    }
    assertEquals((await Deno.stat(catalog)).size, 0, "the 0-byte catalog is left as it was");
    assertEquals(await sb.blobs(), [orphan], "the store is untouched");
    expectRun(await sb.run(["initdb"]), { code: 0, stderr: "" }, "initdb on a 0-byte file");
    expectRun(await sb.run(["-ms", "ls"]), { code: 0, stderr: "", stdout: "" }, "ls after initdb");
  });
});

Deno.test("cleanup --full refuses to delete more than half of the store, or anything with no versions, unless --dangerous-force", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    await Deno.writeFile(sb.path("disk.img"), buildImage(new Rng(2), BS, ["random", "random", "random", "random"]));
    const uid = await sb.backup([sb.url("disk.img"), "vm"]);
    const referenced = await sb.blobs();
    const full = ["cleanup", "--full"];
    // Exactly half is allowed.
    for (const prefix of ["a1", "a2", "a3", "a4"]) await plantBlob(sb, prefix);
    expectRun(await sb.run(full), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(full) + info("Cleanup: Removed 4 blobs") + COMPLETE,
    }, "deleting 4 of 8");
    assertEquals(await sb.blobs(), referenced);

    for (const prefix of ["b1", "b2", "b3", "b4", "b5"]) await plantBlob(sb, prefix);
    const unfinished = await plantBlob(sb, "b6", ".blob.tmp");
    expectRun(await sb.run(full), {
      code: 100,
      stdout: sb.commandLine(full),
      stderr: error(refusal(5, 9, "more than half the store")) + FAILED,
    }, "deleting 5 of 9");
    assertEquals((await sb.blobs()).length, 9, "nothing was deleted");
    assert(await exists(unfinished), "the unfinished write is left too");
    const forced = ["cleanup", "--full", "--dangerous-force"];
    expectRun(await sb.run(forced), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(forced) + info("Cleanup: Removed 5 blobs") +
        info("Cleanup: Removed 1 unfinished blob writes (*.blob.tmp)") + COMPLETE,
    }, "--dangerous-force");
    assertEquals(await sb.blobs(), referenced);

    expectRun(await sb.run(["rm", uid]), { code: 0, stderr: "" }, "rm");
    expectRun(await sb.run(full), {
      code: 100,
      stdout: sb.commandLine(full),
      stderr: error(refusal(4, 4, "the catalog has no versions")) + FAILED,
    }, "cleanup --full of a catalog without versions");
    assertEquals(await sb.blobs(), referenced, "nothing was deleted");
    expectRun(await sb.run(forced), {
      code: 0,
      stderr: "",
      stdout: sb.commandLine(forced) + info("Cleanup: Removed 4 blobs") +
        info("Cleanup: Removed 1 page objects no version header names") + COMPLETE,
    }, "--dangerous-force without versions (and the removed version's page object)");
    assertEquals(await sb.blobs(), []);
  });
});

Deno.test("with locking disabled (lock_dir empty), rm and cleanup run only when forced", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    await sb.setConfig("lock_dir", "");
    await Deno.writeFile(sb.path("disk.img"), buildImage(new Rng(3), BS, ["random", "random"]));
    const uid = await sb.backup([sb.url("disk.img"), "vm"]);
    const refusals: [string[], string][] = [
      [["rm", uid], LOCKLESS_RM],
      [["cleanup"], LOCKLESS_CLEANUP],
      [["cleanup", "--full"], LOCKLESS_CLEANUP],
    ];
    for (const [args, message] of refusals) {
      expectRun(await sb.run(args), { code: 100, stdout: sb.commandLine(args), stderr: error(message) + FAILED });
    }
    assertEquals((await sb.versions()).map((v) => v.uid), [uid], "the version is still there");
    for (
      const args of [["cleanup", "--dangerous-force"], ["cleanup", "--full", "--dangerous-force"], ["rm", "-f", uid]]
    ) {
      expectRun(await sb.run(args), { code: 0, stderr: "" }, args.join(" "));
    }
    assertEquals(await sb.versions(), []);
  });
});

Deno.test("a lock_dir that is a file is reported as such, in one line", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const file = sb.path("not-a-dir");
    await Deno.writeTextFile(file, "");
    await sb.setConfig("lock_dir", file);
    expectRun(await sb.run(["ls"]), {
      code: 1,
      stdout: sb.commandLine(["ls"]),
      stderr: error(`Cannot use lock_dir ${file}: it is not a directory.`),
    });
  });
});

mountTest("a lock_dir on a read-only filesystem is reported with that cause, in one line", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const dir = sb.path("locks");
    await Deno.mkdir(dir);
    await withMount(["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", dir], async () => {
      await sb.setConfig("lock_dir", dir);
      const result = await sb.run(["ls"]);
      expectRun(result, { code: 1, stdout: sb.commandLine(["ls"]) });
      const lines = result.stderr.split("\n");
      assertEquals(lines.length, 2, `one line:\n${result.stderr}`);
      assert(lines[0].startsWith(`   ERROR: [backy2.logging] Cannot use lock_dir ${dir}: `), lines[0]);
      assert(lines[0].includes("Read-only file system"), lines[0]);
    });
  });
});

/** Whether this process may run backy2 as another user (root with `setpriv`). */
const canSwitchUser = canMount && await new Deno.Command("setpriv", { args: ["--version"], stdout: "null" })
  .output().then((output) => output.success, () => false);

Deno.test({
  name: "the embedded default creates its catalog on first use with an empty store, and only then",
  ignore: !canSwitchUser,
  fn: async () => {
    // As root the embedded default lives in /var/lib/backy2; as nobody it lives below HOME.
    const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "backy2-home-" }));
    await Deno.chmod(home, 0o777);
    const asNobody = async (args: string[]) => {
      const output = await new Deno.Command("setpriv", {
        args: ["--reuid=65534", "--regid=65534", "--clear-groups", BACKY2, ...args],
        cwd: home,
        env: { HOME: home, XDG_DATA_HOME: "", TZ: "UTC", NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      return collect(output, args);
    };
    try {
      await Deno.writeFile(`${home}/readme.txt`, buildImage(new Rng(4), BS, ["random", "random"]));
      const backup = await asNobody(["-m", "backup", `file://${home}/readme.txt`, "readme"]);
      expectRun(backup, { code: 0 }, "the first backup with the embedded default");
      const ls = await asNobody(["-m", "ls"]);
      expectRun(ls, { code: 0, stderr: "" }, "ls");
      assert(ls.stdout.includes("|readme|"), ls.stdout);

      const catalog = `${home}/.local/share/backy2/backy.sqlite`;
      const blobs = await filesBelow(`${home}/.local/share/backy2/data`);
      assertEquals(
        blobs.filter((path) => path.endsWith(".blob")).length,
        1,
        "the blob of the first backup (one 4 MiB block)",
      );
      assertEquals(blobs.filter((path) => path.endsWith(".meta")).length, 2, "the version's header and page object");
      await Deno.remove(catalog);
      for (const args of [["ls"], ["cleanup", "--full"]]) {
        const result = await asNobody(args);
        expectRun(result, { code: 1, stderr: error(missing(catalog)) }, `${args.join(" ")} with the catalog gone`);
      }
      assert(!await exists(catalog), "the catalog is not created again while the store holds blobs");
      assertEquals(await filesBelow(`${home}/.local/share/backy2/data`), blobs, "the store is untouched");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test("a block map naming a reference the catalog lacks: restore exits 6 and scrub 20, naming the block", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const image = buildImage(new Rng(43), BS, ["random", "random", "random", "random"]);
    await Deno.writeFile(sb.path("disk.img"), image);
    const uid = await sb.backup([sb.url("disk.img"), "vm"]);
    // A damaged catalog: the reference of one block is gone, its block map still names it.
    const db = new DatabaseSync(sb.path("backy.sqlite"));
    try {
      const { id } = db.prepare("SELECT id FROM blobs WHERE uid IS NOT NULL ORDER BY id LIMIT 1 OFFSET 2").get() as {
        id: number;
      };
      db.prepare("DELETE FROM blobs WHERE id = ?").run(id);
    } finally {
      db.close();
    }
    const restore = await sb.run(["restore", uid, sb.url("restored.img")]);
    expectRun(
      restore,
      { code: 6, stderr: /Block \d of version \S+: its reference \d+ is not in the catalog/ },
      "restore",
    );
    assert(!restore.stdout.includes("Backy complete."), `no "Backy complete." after exit 6`);
    const scrub = await sb.run(["scrub", uid]);
    expectRun(scrub, { code: 20, stderr: /Block \d of version \S+: its reference \d+ is not in the catalog/ }, "scrub");
    assertEquals((await sb.version(uid)).valid, "0", "valid after the scrub");
  });
});
