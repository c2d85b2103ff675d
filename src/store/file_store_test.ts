/** Unit test of the file store's temporary files: a write that fails leaves none, and only its own are removed. */
import assert from "node:assert/strict";
import { FileStore } from "./file_store.ts";

const UID = "0123456789abcdef0123456789abcdef";
const OTHER = "0123ffffffffffffffffffffffffffff";

async function temporaryFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
      else if (entry.name.endsWith(".tmp")) found.push(entry.name);
    }
  };
  await walk(root);
  return found.sort();
}

Deno.test("FileStore removes the temporary file of a write that failed, and leaves other processes' alone", async () => {
  const root = await Deno.makeTempDir({ prefix: "backy2-file-store-" });
  try {
    const store = new FileStore(root);
    // Another process's unfinished write, and a directory where this write's blob should go (rename fails).
    await Deno.mkdir(`${root}/01/23`, { recursive: true });
    await Deno.writeFile(`${store.blobPath(OTHER)}.tmp`, new Uint8Array(3));
    await Deno.mkdir(store.blobPath(UID));
    await assert.rejects(store.write(UID, new Uint8Array(16)));
    assert.deepEqual(await temporaryFiles(root), [`${OTHER}.blob.tmp`]);
    await store.close();
    assert.deepEqual(await temporaryFiles(root), [`${OTHER}.blob.tmp`]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
