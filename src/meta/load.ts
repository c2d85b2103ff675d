/**
 * Reading metadata objects back from the block store (a version's header, a page object), with every way one
 * can be unusable turned into one {@link UnusableMeta} that names the object and says why in one line: not
 * there, a name or content that is not one (foreign), damaged (truncated, tampered, an unknown format
 * version), or a key that does not open it. Failures of the store itself (IO, network) pass through as they are.
 */
import { META_NAME, type MetaKind, MetaNotFoundError } from "../store/block_store.ts";
import type { BlockStore } from "../store/block_store.ts";
import { MetaDamagedError } from "../store/meta_envelope.ts";
import { BackyError } from "../util/errors.ts";
import { MetaFormatError } from "./binary.ts";
import { decodeHeader, type VersionHeader } from "./header_format.ts";
import { decodePage, PAGE_NAME, type PageContent } from "./page_format.ts";

export type Unusable = "missing" | "foreign" | "damaged" | "unreadable";

export class UnusableMeta extends BackyError {
  /** `object`: the object as `{kind}/{name}`. */
  constructor(readonly object: string, readonly kind: Unusable, message: string) {
    super(message);
    this.name = "UnusableMeta";
  }
}

/** The header of version `uid` as the store holds it. */
export async function loadHeader(store: BlockStore, uid: string): Promise<VersionHeader> {
  const object = `versions/${uid}`;
  if (!META_NAME.test(uid)) {
    throw new UnusableMeta(
      object,
      "foreign",
      `Metadata object ${JSON.stringify(object)} is foreign: not a version uid.`,
    );
  }
  const header = decoded(object, await stored(store, "versions", uid), decodeHeader);
  if (header.version.uid !== uid) {
    throw new UnusableMeta(
      object,
      "foreign",
      `Metadata object ${object} is foreign: it describes ${header.version.uid}.`,
    );
  }
  return header;
}

/** Page object `name` as the store holds it, checked against its name. */
export async function loadPage(store: BlockStore, name: string): Promise<PageContent> {
  const object = `pages/${name}`;
  if (!PAGE_NAME.test(name)) {
    throw new UnusableMeta(object, "foreign", `Metadata object ${JSON.stringify(object)} is foreign: not a page name.`);
  }
  return decoded(object, await stored(store, "pages", name), (bytes) => decodePage(name, bytes));
}

async function stored(store: BlockStore, kind: MetaKind, name: string): Promise<Uint8Array> {
  const object = `${kind}/${name}`;
  try {
    return await store.readMeta(kind, name);
  } catch (error) {
    if (error instanceof MetaNotFoundError) {
      const what = kind === "versions" ? `Version ${name} has no` : `There is no`;
      throw new UnusableMeta(object, "missing", `${what} metadata object ${object} in the data backend.`);
    }
    if (error instanceof MetaDamagedError) {
      throw new UnusableMeta(object, error.foreign ? "foreign" : "damaged", error.message);
    }
    // The codec layer's configuration errors: a wrong or missing key, a codec this tool does not know.
    if (error instanceof BackyError) throw new UnusableMeta(object, "unreadable", error.message);
    throw error;
  }
}

function decoded<T>(object: string, bytes: Uint8Array, decode: (bytes: Uint8Array) => T): T {
  try {
    return decode(bytes);
  } catch (error) {
    if (!(error instanceof MetaFormatError)) throw error;
    const kind = /^it is not a/.test(error.message) ? "foreign" : "damaged";
    throw new UnusableMeta(object, kind, `Metadata object ${object} is unusable: ${error.message}.`);
  }
}
