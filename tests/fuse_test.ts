/**
 * CLI tests of `backy2 fuse MOUNTPOINT` with the real kernel FUSE and real readers (cmp, dd, cat): every
 * version's `data` equals its restore, the metadata files and `by_name` symlinks are backy2's (names with `/`
 * included, times in UTC), writes go to a copy-on-write overlay that vanishes with the mount, a mounted
 * version cannot be removed, a damaged blob gives EIO for its range only (and a log line), parallel readers
 * agree, SIGINT and SIGTERM unmount cleanly, and a killed server's dead mount is named and cleared.
 *
 * They are skipped, with a message, only on a machine without /dev/fuse.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  type BlockKind,
  buildImage,
  expectRun,
  lockRefusal,
  Rng,
  type Sandbox,
  testSeed,
  withSandbox,
} from "./helpers.ts";
import {
  blobOfBlock,
  clearMount,
  flipByte,
  isMounted,
  ServerProcess,
  sha256,
  storeAndCatalog,
  tool,
} from "./serve_helpers.ts";

const BS = 65536;
const HAS_FUSE = (() => {
  try {
    return Deno.statSync("/dev/fuse").isCharDevice === true;
  } catch {
    return false;
  }
})();
if (!HAS_FUSE) console.warn("SKIPPING tests/fuse_test.ts: /dev/fuse is missing on this machine (FUSE cannot mount).");

function fuseTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !HAS_FUSE, fn });
}

interface Versions {
  /** uid → the restored file of that version. */
  restored: Map<string, string>;
  /** The version named `web/01` (first backup), its differential, and the protected one named `db`. */
  web1: string;
  web2: string;
  db: string;
}

/** Three versions: `web/01` (tagged, with an expiry), a differential of it, and a protected `db`; all restored. */
async function makeVersions(sb: Sandbox, rng: Rng): Promise<Versions> {
  const kinds: BlockKind[] = Array.from(
    { length: 40 },
    (_, i) => i % 9 === 4 ? "zero" : i === 30 ? { copyOf: 2 } : "random",
  );
  const first = buildImage(rng, BS, kinds, 40 * BS - 1000);
  await Deno.writeFile(sb.path("web.img"), first);
  const web1 = await sb.backup(["-t", "t1,t2", "-e", "2030-01-02", sb.url("web.img"), "web/01"]);
  const second = first.slice();
  rng.fill(second.subarray(5 * BS, 7 * BS));
  await Deno.writeFile(sb.path("web.img"), second);
  const web2 = await sb.backup(["-f", web1, sb.url("web.img"), "web/01"]);
  await Deno.writeFile(sb.path("db.img"), buildImage(rng, BS, ["random", "zero", "random", "random", "random"]));
  const db = await sb.backup(["-s", "snap1", sb.url("db.img"), "db"]);
  expectRun(await sb.run(["protect", db]), { code: 0 });
  const restored = new Map<string, string>();
  for (const uid of [web1, web2, db]) {
    await sb.restore(uid, `${uid}.restored`);
    restored.set(uid, sb.path(`${uid}.restored`));
  }
  return { restored, web1, web2, db };
}

/** A sandbox whose cache directory (copy-on-write overlays) is its own. */
async function withFuseSandbox(fn: (sb: Sandbox, mnt: string) => Promise<void>): Promise<void> {
  await withSandbox({ blockSize: BS, extraDefaults: ["cachedir: CACHE"] }, async (sb) => {
    const config = await Deno.readTextFile(sb.config);
    await Deno.writeTextFile(sb.config, config.replace("cachedir: CACHE", `cachedir: ${sb.path("cache")}`));
    await Deno.mkdir(sb.path("cache"));
    const mnt = sb.path("mnt");
    await Deno.mkdir(mnt);
    try {
      await fn(sb, mnt);
    } finally {
      await clearMount(mnt);
    }
  });
}

const MOUNTED = /Mounted (\d+) versions at /;

async function mount(sb: Sandbox, mnt: string): Promise<ServerProcess> {
  return (await ServerProcess.start(sb, ["fuse", mnt], MOUNTED)).server;
}

async function cmp(a: string, b: string, message: string): Promise<void> {
  const result = await tool("cmp", [a, b]);
  assert(result.code === 0, `${message}: cmp ${a} ${b}: ${result.text}${result.stderr}`);
}

fuseTest(
  "fuse: every version's data equals its restore; metadata; COW writes read back and vanish; rm refused; store unchanged",
  async () => {
    await withFuseSandbox(async (sb, mnt) => {
      const v = await makeVersions(sb, new Rng(testSeed()));
      const before = await storeAndCatalog(sb);
      const server = await mount(sb, mnt);
      try {
        assertEquals((await Array.fromAsync(Deno.readDir(mnt))).map((e) => e.name).sort(), [
          "by_name",
          "by_version_uid",
        ]);
        const uids = (await Array.fromAsync(Deno.readDir(`${mnt}/by_version_uid`))).map((e) => e.name).sort();
        assertEquals(uids, [...v.restored.keys()].sort(), "by_version_uid lists every version");
        for (const [uid, restored] of v.restored) await cmp(`${mnt}/by_version_uid/${uid}/data`, restored, uid);

        const files = async (uid: string) => {
          const names = (await Array.fromAsync(Deno.readDir(`${mnt}/by_version_uid/${uid}`))).map((e) => e.name).sort();
          return Object.fromEntries(
            await Promise.all(
              names.filter((n) => n !== "data").map(async (
                n,
              ) => [n, await Deno.readTextFile(`${mnt}/by_version_uid/${uid}/${n}`)]),
            ),
          );
        };
        assertEquals(await files(v.web1), {
          expire: "2030-01-02T00:00:00",
          name: "web/01",
          snapshot_name: "",
          tags: "t1,t2",
          valid: "valid",
        });
        assertEquals(await files(v.db), {
          expire: "",
          name: "db",
          protected: "protected",
          snapshot_name: "snap1",
          tags: (await sb.version(v.db)).tags,
          valid: "valid",
        });

        // Times are the version's date in UTC; sizes are the version's.
        const row = await sb.version(v.web2);
        const stat = await Deno.stat(`${mnt}/by_version_uid/${v.web2}/data`);
        assertEquals(stat.size, Number(row.size_bytes));
        assertEquals(
          stat.mtime!.toISOString().slice(0, 19),
          row.date.replace(" ", "T"),
          "mtime is the version date, UTC",
        );
        assertEquals(stat.mode! & 0o7777, 0o600);

        // by_name: a directory per name (`/` shown as %2F), a symlink per version.
        assertEquals((await Array.fromAsync(Deno.readDir(`${mnt}/by_name`))).map((e) => e.name).sort(), [
          "db",
          "web%2F01",
        ]);
        const links = (await Array.fromAsync(Deno.readDir(`${mnt}/by_name/web%2F01`))).map((e) => e.name).sort();
        assertEquals(links, [v.web1, v.web2].sort());
        assertEquals(await Deno.readLink(`${mnt}/by_name/web%2F01/${v.web1}`), `../../by_version_uid/${v.web1}`);
        await cmp(`${mnt}/by_name/db/${v.db}/data`, v.restored.get(v.db)!, "through the symlink");

        // A served version cannot be removed; metadata files cannot be written; the size cannot change.
        expectRun(await sb.run(["rm", "-f", v.web1]), {
          code: 100,
          stderr: new RegExp(lockRefusal(`Version ${v.web1} is locked.`)),
        });
        await Deno.writeTextFile(`${mnt}/by_version_uid/${v.web1}/name`, "x").then(
          () => assert(false, "writing a metadata file must fail"),
          (error) => assertMatch(String(error), /Read-only file system/),
        );
        const truncate = await tool("truncate", ["-s", "0", `${mnt}/by_version_uid/${v.web1}/data`]);
        assert(truncate.code !== 0, "truncating data must fail");

        // Copy-on-write: a write across a block boundary reads back; everything else is still the backup.
        const patch = new Rng(7).bytes(BS + 300);
        await Deno.writeFile(sb.path("patch"), patch);
        const offset = 3 * BS - 100;
        const dd = await tool("dd", [
          `if=${sb.path("patch")}`,
          `of=${mnt}/by_version_uid/${v.web2}/data`,
          "bs=4096",
          `seek=${offset}`,
          "oflag=seek_bytes",
          "conv=notrunc",
        ]);
        assertEquals(dd.code, 0, `dd: ${dd.stderr}`);
        const expected = await Deno.readFile(v.restored.get(v.web2)!);
        expected.set(patch, offset);
        await Deno.writeFile(sb.path("expected"), expected);
        await cmp(`${mnt}/by_version_uid/${v.web2}/data`, sb.path("expected"), "after the COW write");
        await cmp(`${mnt}/by_version_uid/${v.web1}/data`, v.restored.get(v.web1)!, "the other version is untouched");
        assertEquals(await Array.fromAsync(Deno.readDir(sb.path("cache"))), [], "the overlay file is already unlinked");

        const stopped = await server.stop("SIGTERM");
        expectRun(stopped, { code: 0, stderr: "" });
        assertMatch(stopped.stdout, /Unmounted .*\n.*Backy complete\./);
        assert(!await isMounted(mnt), "unmounted after SIGTERM");
      } finally {
        await server.kill();
      }
      assertEquals(await storeAndCatalog(sb), before, "blobs, ls and dumps are unchanged");
      expectRun(await sb.run(["rm", "-f", v.web1]), { code: 0 });

      // The writes vanished with the mount.
      const again = await mount(sb, mnt);
      try {
        await cmp(`${mnt}/by_version_uid/${v.web2}/data`, v.restored.get(v.web2)!, "after remounting");
        assert(!(await Array.fromAsync(Deno.readDir(`${mnt}/by_version_uid`))).some((e) => e.name === v.web1), "rm'd");
        expectRun(await again.stop("SIGINT"), { code: 0, stderr: "" });
      } finally {
        await again.kill();
      }
    });
  },
);

fuseTest(
  "fuse: a damaged blob gives EIO for its range and a log line, never wrong data; 8 parallel readers agree",
  async () => {
    await withFuseSandbox(async (sb, mnt) => {
      const v = await makeVersions(sb, new Rng(testSeed()));
      await flipByte(await blobOfBlock(sb, v.db, 2), 100);
      const server = await mount(sb, mnt);
      try {
        const data = `${mnt}/by_version_uid/${v.db}/data`;
        const restored = await Deno.readFile(v.restored.get(v.db)!);
        const read = (block: number) =>
          tool("dd", [`if=${data}`, `bs=${BS}`, `skip=${block}`, "count=1", "status=none"]);
        const bad = await read(2);
        assert(bad.code !== 0 && /Input\/output error/.test(bad.stderr), `block 2 must fail with EIO: ${bad.stderr}`);
        assertEquals(bad.stdout.length, 0, "no data of the damaged block");
        for (const block of [0, 1, 3, 4]) {
          const good = await read(block);
          assertEquals(good.code, 0, `block ${block}: ${good.stderr}`);
          assertEquals(sha256(good.stdout), sha256(restored.subarray(block * BS, (block + 1) * BS)), `block ${block}`);
        }
        await server.waitForLog(new RegExp(`Checksum mismatch reading block 2 of version ${v.db} `));

        // Eight readers at once, each through its own open file, all see the restore's bytes.
        const expected = sha256(await Deno.readFile(v.restored.get(v.web2)!));
        const readers = await Promise.all(
          Array.from({ length: 8 }, () => tool("sha256sum", [`${mnt}/by_version_uid/${v.web2}/data`])),
        );
        assertEquals(readers.map((r) => r.text.split(" ")[0]), Array(8).fill(expected));
        expectRun(await server.stop(), {
          code: 0,
          stderr: new RegExp(`Checksum mismatch reading block 2 of version ${v.db}`),
        });
      } finally {
        await server.kill();
      }
      assertEquals((await sb.version(v.db)).valid, "0", "the version with the bad blob is marked invalid");
    });
  },
);

fuseTest(
  "fuse: a killed server leaves a dead mount that fuse names and fusermount3 -u clears; bad mountpoints",
  async () => {
    await withFuseSandbox(async (sb, mnt) => {
      const missing = sb.path("nowhere");
      expectRun(await sb.run(["fuse", missing]), {
        code: 100,
        stderr: `   ERROR: [backy2.logging] Mountpoint ${missing} does not exist or is not a directory.\n` +
          "   ERROR: [backy2.logging] Backy failed.\n\n",
      });
      const server = await mount(sb, mnt);
      await server.kill();
      assert(await isMounted(mnt), "a SIGKILLed server leaves its mount");
      expectRun(await sb.run(["fuse", mnt]), {
        code: 100,
        stderr: new RegExp(
          `^   ERROR: \\[backy2\\.logging\\] ${mnt} is a dead FUSE mount; clear it with: fusermount3 -u ${mnt}\n`,
        ),
      });
      assertEquals((await tool("fusermount3", ["-u", mnt])).code, 0);
      assert(!await isMounted(mnt), "fusermount3 -u cleared it");
      const again = await mount(sb, mnt);
      try {
        expectRun(await again.stop("SIGINT"), { code: 0, stderr: "" });
      } finally {
        await again.kill();
      }
    });
  },
);
