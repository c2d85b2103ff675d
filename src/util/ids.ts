/**
 * Identifiers in backy2's formats: version uids, RFC 4122 version-1 UUIDs in lowercase canonical form,
 * and the base57 "shortuuid" text that blob uids (store/blob_uid.ts) are made of.
 */

const BASE57 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/** 100-ns intervals between the Gregorian epoch (1582-10-15) and the Unix epoch. */
const GREGORIAN_OFFSET = 122192928000000000n;

let lastTimestamp = 0n;
const clockSequence = crypto.getRandomValues(new Uint16Array(1))[0] & 0x3fff;
/** A random node id with the multicast bit set, as RFC 4122 §4.5 asks when no MAC address is used. */
const node = (() => {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  bytes[0] |= 0x01;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
})();

/** A new version uid, e.g. `62c0f78e-e9a1-11f1-aa6b-02fc00000001`. */
export function newVersionUid(now: Date = new Date()): string {
  let timestamp = BigInt(now.getTime()) * 10000n + GREGORIAN_OFFSET;
  if (timestamp <= lastTimestamp) timestamp = lastTimestamp + 1n;
  lastTimestamp = timestamp;
  const low = (timestamp & 0xffffffffn).toString(16).padStart(8, "0");
  const mid = ((timestamp >> 32n) & 0xffffn).toString(16).padStart(4, "0");
  const high = (((timestamp >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, "0");
  const seq = (0x8000 | clockSequence).toString(16).padStart(4, "0");
  return `${low}-${mid}-${high}-${seq}-${node}`;
}

/** True for a canonical lowercase version-1 UUID as backy2 writes them. */
export function isVersionUid(text: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text);
}

/** The 22-character base57 encoding of 16 bytes, most significant digit first. */
export function base57(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let text = "";
  while (value > 0n) {
    text = BASE57[Number(value % 57n)] + text;
    value /= 57n;
  }
  return text.padStart(22, BASE57[0]);
}
