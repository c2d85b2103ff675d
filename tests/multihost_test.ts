/**
 * The multi-host proof (tests/multihost.ts) with a file store: both hosts write their blobs into one shared
 * directory, as hosts do on a shared file system.
 */
import { multihostTests, type SharedStore } from "./multihost.ts";

/** A file store in `dir`/store; its blobs are the `*.blob` files below it. */
function fileStore(dir: string): Promise<SharedStore> {
  const path = `${dir}/store`;
  return Promise.resolve({
    dataBackend: [
      "[DataBackend]",
      "type: backy2.data_backends.file",
      `path: ${path}`,
      "simultaneous_writes: 2",
      "simultaneous_reads: 2",
    ],
    blobs: () => blobFiles(path),
    dispose: () => Promise.resolve(),
  });
}

async function blobFiles(store: string): Promise<Set<string>> {
  const found = new Set<string>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
      else if (entry.name.endsWith(".blob")) found.add(entry.name.slice(0, -".blob".length));
    }
  };
  await walk(store);
  return found;
}

multihostTests({ name: "a file store", open: fileStore, sharedBlocks: 1024, killedBlocks: 8192 });
