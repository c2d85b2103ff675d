/**
 * The block store suite (conformance.ts) against the stores that need no server: the file store in a
 * temporary directory (as configured, and with the other barrier and without direct IO) and the memory store. The S3 store runs the same suite in tests/s3_store_test.ts,
 * against the Ceph RADOS Gateway.
 */
import { storeConformance } from "./conformance.ts";
import { FileStore } from "./file_store.ts";
import { MemoryStore } from "./memory_store.ts";

storeConformance("file", async () => {
  const root = await Deno.makeTempDir({ prefix: "backy2-conformance-" });
  return { store: new FileStore(root), dispose: () => Deno.remove(root, { recursive: true }) };
}, { removeManyReportsMissing: true });

storeConformance("file, page cache, syncfs", async () => {
  const root = await Deno.makeTempDir({ prefix: "backy2-conformance-" });
  const store = new FileStore(root, { barrier: "syncfs", direct: false, directReads: false });
  return { store, dispose: () => Deno.remove(root, { recursive: true }) };
}, { removeManyReportsMissing: true });

storeConformance("memory", () => Promise.resolve({ store: new MemoryStore(), dispose: () => Promise.resolve() }), {
  removeManyReportsMissing: true,
});
