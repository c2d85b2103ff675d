/**
 * The S3 data backend (Ceph RADOS Gateway, MinIO, AWS): one object per blob, its key the blob uid, flat in
 * the bucket, as backy2 lays them out, so that a backy2 bucket and its migrated catalog restore as they
 * are. Metadata objects are keys `meta/{kind}/{name}`, which blob listings skip (they contain a `/`). A PUT
 * is durable once it is answered, so writes need no temporary names and `flush` has nothing to
 * do. Listings page with ListObjectsV2 continuation tokens; removals go in DeleteObjects batches of 1000.
 *
 * This is the raw backend: every request is tried once. {@link openS3Store} wraps it in the retrying store
 * and first checks that the bucket answers, so that a wrong endpoint, key or bucket fails a command before
 * it changes anything.
 */
import { createHash } from "node:crypto";
import {
  assertPlain,
  BlobNotFoundError,
  type BlockStore,
  checkMetaName,
  type Encoding,
  type MetaKind,
  MetaNotFoundError,
  type StoredBlob,
  type StoredMeta,
  type Written,
  writtenPlain,
} from "./block_store.ts";
import { S3Client, S3Error } from "./s3_client.ts";
import { deleteRequest, parseDeleteResult, parseListPage } from "./s3_xml.ts";
import { Retrier, type RetryLog, RetryStore, TransientError } from "./retry_store.ts";
import type { StoreContext } from "./registry.ts";
import type { S3Settings } from "../config/s3_config.ts";

/** DeleteObjects takes at most this many keys. */
export const DELETE_BATCH = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class S3Store implements BlockStore {
  private readonly bucket: string;

  constructor(private readonly client: S3Client) {
    this.bucket = client.settings.bucket;
  }

  async write(uid: string, data: Uint8Array): Promise<Written> {
    await this.client.send({
      method: "PUT",
      url: this.client.objectUrl(uid),
      target: this.target(uid),
      headers: { "content-type": "application/octet-stream" },
      body: data,
    });
    return writtenPlain(data.length);
  }

  /** A PUT is durable once it is answered. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  async read(uid: string, encoding: Encoding, into?: ArrayBuffer): Promise<Uint8Array> {
    assertPlain(uid, encoding);
    try {
      const answer = await this.client.send({
        method: "GET",
        url: this.client.objectUrl(uid),
        target: this.target(uid),
        into,
      });
      return answer.body;
    } catch (error) {
      if (isMissingKey(error)) throw new BlobNotFoundError(uid, `Key ${uid} not found.`);
      throw error;
    }
  }

  async remove(uid: string): Promise<boolean> {
    try {
      await this.client.send({ method: "HEAD", url: this.client.objectUrl(uid), target: this.target(uid) });
    } catch (error) {
      if (isMissingKey(error)) return false;
      throw error;
    }
    await this.client.send({ method: "DELETE", url: this.client.objectUrl(uid), target: this.target(uid) });
    return true;
  }

  /** S3 reports a missing key as deleted, so this never names a missing blob. */
  async removeMany(uids: string[]): Promise<string[]> {
    for (let start = 0; start < uids.length; start += DELETE_BATCH) {
      await this.deleteBatch(uids.slice(start, start + DELETE_BATCH));
    }
    return [];
  }

  private async deleteBatch(keys: string[]): Promise<void> {
    const body = encoder.encode(deleteRequest(keys));
    const answer = await this.client.send({
      method: "POST",
      url: this.client.bucketUrl({ delete: "" }),
      target: `${this.bucket} (DeleteObjects of ${keys.length} keys)`,
      headers: { "content-md5": createHash("md5").update(body).digest("base64"), "content-type": "application/xml" },
      body,
      xmlAnswer: true,
    });
    const failures = parseAnswer(() => parseDeleteResult(decoder.decode(answer.body)), "DeleteObjects")
      .filter((failure) => failure.code !== "NoSuchKey");
    if (failures.length === 0) return;
    const first = failures[0];
    const text = `S3 DeleteObjects in ${this.bucket}: ${failures.length} of ${keys.length} keys not deleted, ` +
      `e.g. ${first.key}: ${first.code}${first.message ? ` (${first.message})` : ""}`;
    if (failures.every((failure) => TRANSIENT_DELETE_CODES.has(failure.code))) throw new TransientError(text);
    throw new S3Error(text, 200, first.code);
  }

  /** Objects whose key could be a blob uid (no `/` or `.`), in key order, one ListObjectsV2 page at a time. */
  async *list(prefix = "", startAfter = ""): AsyncIterable<StoredBlob> {
    let token: string | undefined;
    do {
      const page = await this.listPage(prefix, startAfter, token);
      for (const { key, lastModified } of page.objects) {
        if (!key.includes("/") && !key.includes(".") && key > startAfter) yield { uid: key, modified: lastModified };
      }
      token = page.continuationToken;
    } while (token);
  }

  private async listPage(prefix: string, startAfter: string, token: string | undefined) {
    const answer = await this.client.send({
      method: "GET",
      url: this.client.bucketUrl({
        "list-type": "2",
        prefix: prefix || undefined,
        "start-after": token ? undefined : startAfter || undefined,
        "continuation-token": token,
        "encoding-type": this.client.settings.urlEncodedListing ? "url" : undefined,
      }),
      target: `${this.bucket} (ListObjectsV2${prefix ? ` prefix ${prefix}` : ""})`,
      xmlAnswer: true,
    });
    return parseAnswer(() => parseListPage(decoder.decode(answer.body)), "ListObjectsV2");
  }

  async writeMeta(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    const key = metaKey(kind, name);
    await this.client.send({
      method: "PUT",
      url: this.client.objectUrl(key),
      target: this.target(key),
      headers: { "content-type": "application/octet-stream" },
      body: data,
    });
  }

  async readMeta(kind: MetaKind, name: string): Promise<Uint8Array> {
    const key = metaKey(kind, name);
    try {
      return (await this.client.send({ method: "GET", url: this.client.objectUrl(key), target: this.target(key) }))
        .body;
    } catch (error) {
      if (isMissingKey(error)) throw new MetaNotFoundError(name, `Key ${key} not found.`);
      throw error;
    }
  }

  async listMeta(kind: MetaKind): Promise<StoredMeta[]> {
    const prefix = `${META_PREFIX}${kind}/`;
    const found: StoredMeta[] = [];
    let token: string | undefined;
    do {
      const page = await this.listPage(prefix, "", token);
      for (const { key, lastModified } of page.objects) {
        if (key.startsWith(prefix)) found.push({ name: key.slice(prefix.length), modified: lastModified });
      }
      token = page.continuationToken;
    } while (token);
    return found.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  async removeMeta(kind: MetaKind, name: string): Promise<boolean> {
    const key = metaKey(kind, name);
    try {
      await this.client.send({ method: "HEAD", url: this.client.objectUrl(key), target: this.target(key) });
    } catch (error) {
      if (isMissingKey(error)) return false;
      throw error;
    }
    await this.client.send({ method: "DELETE", url: this.client.objectUrl(key), target: this.target(key) });
    return true;
  }

  /** A PUT either stores the whole object or nothing: no unfinished writes exist. */
  removeUnfinished(_prefix?: string): Promise<number> {
    return Promise.resolve(0);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Lists one key: proves that the endpoint answers, the keys are accepted and the bucket exists. */
  async check(): Promise<void> {
    await this.client.send({
      method: "GET",
      url: this.client.bucketUrl({ "list-type": "2", "max-keys": "1" }),
      target: `${this.bucket} at ${this.client.settings.endpoint}`,
      xmlAnswer: true,
    });
  }

  private target(key: string): string {
    return `${this.bucket}/${key}`;
  }
}

const META_PREFIX = "meta/";

function metaKey(kind: MetaKind, name: string): string {
  checkMetaName(kind, name);
  return `${META_PREFIX}${kind}/${name}`;
}

const TRANSIENT_DELETE_CODES = new Set(["InternalError", "SlowDown", "ServiceUnavailable"]);

function isMissingKey(error: unknown): boolean {
  return error instanceof S3Error && error.status === 404 && error.code !== "NoSuchBucket";
}

/** A garbled answer to a request that succeeded (a proxy cut it, say) is worth another try. */
function parseAnswer<T>(parse: () => T, operation: string): T {
  try {
    return parse();
  } catch (error) {
    throw new TransientError(`S3 ${operation}: unreadable answer: ${(error as Error).message}`);
  }
}

/** The S3 backend the configuration describes (see {@link openS3}). */
export function openS3Store({ config, log }: StoreContext): Promise<BlockStore> {
  return openS3(config.data.s3!, log);
}

/** The S3 backend with retries, after checking that its bucket answers. */
export async function openS3(settings: S3Settings, log: RetryLog): Promise<BlockStore> {
  const store = new S3Store(new S3Client(settings));
  const retrier = new Retrier({ deadlineSeconds: settings.retryDeadline }, log);
  await retrier.run(`the check of bucket ${settings.bucket} at ${settings.endpoint}`, () => store.check());
  return new RetryStore(store, retrier);
}
