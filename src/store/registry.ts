/**
 * Which `[DataBackend] type` builds which block store: the one place a new backend registers. Each entry
 * loads its module only when called, so that commands that never touch blobs do not load backend code (the
 * S3 client in particular). The configuration accepts exactly the types listed here.
 */
import type { BlockStore } from "./block_store.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log/logger.ts";

export interface StoreContext {
  config: Config;
  log: Logger;
}

type Opener = (context: StoreContext) => Promise<BlockStore>;

const BACKENDS = {
  file: async ({ config }) => new (await import("./file_store.ts")).FileStore(config.data.path),
  null: async () => new (await import("./null_store.ts")).NullStore(),
  s3: async (context) => await (await import("./s3_store.ts")).openS3Store(context),
  // backy2's minio backend keeps the same object layout; its keys are mapped onto the S3 settings.
  minio: async (context) => await (await import("./s3_store.ts")).openS3Store(context),
} satisfies Record<string, Opener>;

/** A short backend name: `backy2.data_backends.NAME`. */
export type DataBackendType = keyof typeof BACKENDS;

export function isDataBackendType(name: string): name is DataBackendType {
  return Object.hasOwn(BACKENDS, name);
}

/** Builds the configured backend (the raw store, with retries where the backend needs them). */
export function openBackend(context: StoreContext): Promise<BlockStore> {
  const opener: Opener = BACKENDS[context.config.data.type];
  return opener(context);
}
