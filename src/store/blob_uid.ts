/**
 * Blob uids: 32 characters, the first 10 hex digits of md5 over a 22-character base57 "shortuuid" of
 * a random UUID4, then that shortuuid. The hex prefix spreads blobs over the store's directories; a
 * uid is never derived from the content.
 */
import { createHash } from "node:crypto";
import { base57 } from "../util/ids.ts";

/** A new 32-character blob uid. */
export function newBlobUid(): string {
  const uuid4 = crypto.getRandomValues(new Uint8Array(16));
  uuid4[6] = (uuid4[6] & 0x0f) | 0x40;
  uuid4[8] = (uuid4[8] & 0x3f) | 0x80;
  const short = base57(uuid4);
  return createHash("md5").update(short).digest("hex").slice(0, 10) + short;
}
