/**
 * Reading one version's metadata object back from the block store, with every way it can be unusable turned
 * into one {@link UnusableMeta} that names the object and says why in one line: not there, a name or content
 * that is not a version's (foreign), damaged (truncated, tampered, an unknown format version), or a key that
 * does not open it. Failures of the store itself (IO, network) pass through as they are.
 */
import { META_NAME, MetaNotFoundError } from "../store/block_store.ts";
import type { BlockStore } from "../store/block_store.ts";
import { MetaDamagedError } from "../store/meta_envelope.ts";
import { BackyError } from "../util/errors.ts";
import { decodeMeta, MetaFormatError, type VersionMeta } from "./format.ts";

export type Unusable = "missing" | "foreign" | "damaged" | "unreadable";

export class UnusableMeta extends BackyError {
  constructor(readonly object: string, readonly kind: Unusable, message: string) {
    super(message);
    this.name = "UnusableMeta";
  }
}

/** The metadata of version `name` as its object in `store` holds it. */
export async function loadMeta(store: BlockStore, name: string): Promise<VersionMeta> {
  if (!META_NAME.test(name)) {
    throw new UnusableMeta(name, "foreign", `Metadata object ${JSON.stringify(name)} is foreign: not a version uid.`);
  }
  const meta = decoded(name, await stored(store, name));
  if (meta.version.uid !== name) {
    throw new UnusableMeta(name, "foreign", `Metadata object ${name} is foreign: it describes ${meta.version.uid}.`);
  }
  return meta;
}

async function stored(store: BlockStore, name: string): Promise<Uint8Array> {
  try {
    return await store.readMeta(name);
  } catch (error) {
    if (error instanceof MetaNotFoundError) {
      throw new UnusableMeta(name, "missing", `Version ${name} has no metadata object in the data backend.`);
    }
    if (error instanceof MetaDamagedError) {
      throw new UnusableMeta(name, error.foreign ? "foreign" : "damaged", error.message);
    }
    // The codec layer's configuration errors: a wrong or missing key, a codec this tool does not know.
    if (error instanceof BackyError) throw new UnusableMeta(name, "unreadable", error.message);
    throw error;
  }
}

function decoded(name: string, bytes: Uint8Array): VersionMeta {
  try {
    return decodeMeta(bytes);
  } catch (error) {
    if (!(error instanceof MetaFormatError)) throw error;
    const kind = /not a version's metadata/.test(error.message) ? "foreign" : "damaged";
    throw new UnusableMeta(name, kind, `Metadata object ${name} is unusable: ${error.message}.`);
  }
}
