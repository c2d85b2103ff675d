/**
 * CLI tests of a catalog whose disk fails it: a full disk is reported as such (not as a failed rollback), and
 * a read-only catalog still serves every command that only reads it, while each command that writes fails
 * with one line naming the read-only catalog. Both need mounts (root); elsewhere they are skipped.
 */
import {
  assert,
  assertEquals,
  assertSameFile,
  buildImage,
  error,
  expectRun,
  FAILED,
  Rng,
  type Sandbox,
  withSandbox,
  writeUniqueImage,
} from "./helpers.ts";
import { mountTest, withMount, withReadOnlyView } from "./mounts.ts";

const BS = 4096;

/** Points the sandbox's config at a new catalog `dir/backy.sqlite` and creates it with initdb. */
async function initCatalogIn(sb: Sandbox, dir: string): Promise<string> {
  const catalog = `${dir}/backy.sqlite`;
  await sb.setConfig("engine", `sqlite:///${catalog}`);
  expectRun(await sb.run(["initdb"]), { code: 0, stderr: "" }, "initdb");
  return catalog;
}

mountTest("a full catalog disk is reported as 'database or disk is full'", async () => {
  await withSandbox({ blockSize: BS, catalog: false }, async (sb) => {
    const dir = sb.path("catalog");
    await Deno.mkdir(dir);
    await withMount(["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir], async () => {
      const catalog = await initCatalogIn(sb, dir);
      // 5000 distinct blocks need far more catalog than 256 KiB.
      await writeUniqueImage(sb.path("big.img"), 5000 * BS);
      const args = ["backup", sb.url("big.img"), "big"];
      const result = await sb.run(args);
      expectRun(result, {
        code: 100,
        stdout: sb.commandLine(args),
        stderr: error(`Catalog ${catalog}: database or disk is full`) + FAILED,
      }, "backup onto a full catalog disk");
    });
  });
});

mountTest(
  "a read-only catalog serves ls, stats, du, diff-meta, export and restore; writes name the cause",
  async () => {
    await withSandbox({ blockSize: BS, catalog: false }, async (sb) => {
      const dir = sb.path("catalog");
      const view = sb.path("read-only");
      await Deno.mkdir(dir);
      await Deno.mkdir(view);
      const writable = await initCatalogIn(sb, dir);
      await Deno.writeFile(sb.path("disk.img"), buildImage(new Rng(5), BS, ["random", "zero", "random"]));
      await Deno.writeFile(sb.path("small.img"), buildImage(new Rng(6), BS, ["random"]));
      const uid = await sb.backup([sb.url("disk.img"), "vm"]);
      const before = await sb.blobs();
      const small = await sb.backup([sb.url("small.img"), "small"]);
      const blobsOfSmall = (await sb.blobs()).filter((path) => !before.includes(path));
      const listing = await sb.run(["-m", "ls"]);

      await withReadOnlyView(dir, view, async () => {
        const catalog = `${view}/backy.sqlite`;
        await sb.setConfig("engine", `sqlite:///${catalog}`);
        expectRun(await sb.run(["-m", "ls"]), { code: 0, stderr: "", stdout: listing.stdout }, "ls");
        for (const args of [["stats"], ["du"], ["diff-meta", uid, small], ["export", uid, sb.path("dump")]]) {
          expectRun(await sb.run(args), { code: 0, stderr: "" }, args[0]);
        }
        await sb.restore(uid, "restored.img");
        await assertSameFile(sb.path("restored.img"), sb.path("disk.img"), "restore from a read-only catalog");

        const readOnly = `Catalog ${catalog} is read-only: attempt to write a readonly database`;
        for (const args of [["protect", uid], ["rm", "-f", uid], ["backup", sb.url("disk.img"), "vm"]]) {
          expectRun(await sb.run(args), { code: 100, stdout: sb.commandLine(args), stderr: error(readOnly) + FAILED });
        }
        // A restore that must invalidate a lost blob cannot record it, and says why.
        assertEquals(blobsOfSmall.length, 1, "the blob of the small version");
        await Deno.remove(blobsOfSmall[0]);
        const restore = await sb.run(["restore", small, sb.url("small.restored")]);
        assert(restore.code !== 0, `the restore fails:\n${restore.stderr}`);
        assert(restore.stderr.includes(readOnly), restore.stderr);
      });
      await sb.setConfig("engine", `sqlite:///${writable}`);
      assertEquals((await sb.run(["-m", "ls"])).stdout, listing.stdout, "the catalog is unchanged");
    });
  },
);
