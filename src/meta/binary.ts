/**
 * The little-endian fields both metadata object formats (header_format.ts, page_format.ts) are made of: a
 * growing {@link Writer}, a {@link Reader} that turns running past the end or malformed fields into a
 * {@link MetaFormatError}, and SHA-256, which names page objects and seals headers.
 *
 * Text is UTF-8 behind a u32 length (0xffffffff: null). Checksums, uids and encryption materials in lowercase
 * hex are kept as bytes (half the size), anything else as text, so every value reads back exactly as written.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

const NULL_U32 = 0xffffffff;
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
/** The value of a lowercase hex digit by its char code; 255 for any other character below 128. */
const HEX_VALUE = Uint8Array.from(
  { length: 128 },
  (_, code) => "0123456789abcdef".indexOf(String.fromCharCode(code)) & 255,
);
const [NULL, TEXT, HEX_BYTES] = [0, 1, 2];

/** Bytes that are not a metadata object this tool can read; the message says why. */
export class MetaFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetaFormatError";
  }
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "hex"));
}

/** Whether `bytes` starts with `magic`. */
export function startsWith(bytes: Uint8Array, magic: Uint8Array): boolean {
  return bytes.length >= magic.length && magic.every((byte, i) => bytes[i] === byte);
}

/** Appends little-endian fields to a growing buffer. */
export class Writer {
  private buffer = new Uint8Array(1 << 12);
  private view = new DataView(this.buffer.buffer);
  private length = 0;

  /** Reserves `bytes` and returns where they start (call it before reading {@link view}: it may replace it). */
  private room(bytes: number): number {
    if (this.length + bytes > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += bytes;
    return at;
  }

  u8(value: number): void {
    const at = this.room(1);
    this.view.setUint8(at, value);
  }
  u16(value: number): void {
    const at = this.room(2);
    this.view.setUint16(at, value, true);
  }
  u32(value: number): void {
    const at = this.room(4);
    this.view.setUint32(at, value, true);
  }
  u64(value: number): void {
    const at = this.room(8);
    this.view.setBigUint64(at, BigInt(value), true);
  }
  nullableU32(value: number | null): void {
    this.u32(value ?? NULL_U32);
  }
  flag(value: boolean): void {
    this.u8(value ? 1 : 0);
  }
  bytes(bytes: Uint8Array): void {
    const at = this.room(bytes.length);
    this.buffer.set(bytes, at);
  }
  text(value: string): void {
    const most = value.length * 3;
    const at = this.room(4 + most);
    let written = 0;
    // ASCII (uids, dates, most names) is copied here: encodeInto costs a microsecond a call.
    for (let code: number; written < value.length && (code = value.charCodeAt(written)) < 128; written++) {
      this.buffer[at + 4 + written] = code;
    }
    if (written < value.length) {
      written = encoder.encodeInto(value, this.buffer.subarray(at + 4, at + 4 + most)).written;
    }
    this.view.setUint32(at, written, true);
    this.length = at + 4 + written;
  }
  nullableText(value: string | null): void {
    if (value === null) this.u32(NULL_U32);
    else this.text(value);
  }
  /** A nullable string, as bytes when it is lowercase hex (checksums, uids, envkeys, nonces). */
  hexOrText(value: string | null): void {
    if (value === null) return this.u8(NULL);
    if (value.length % 2 === 0 && this.hex(value)) return;
    this.u8(TEXT);
    this.text(value);
  }

  /** Writes `value` as hex bytes if it is lowercase hex; else writes nothing and answers false. */
  private hex(value: string): boolean {
    const start = this.length;
    const at = this.room(5 + value.length / 2);
    this.view.setUint8(at, HEX_BYTES);
    this.view.setUint32(at + 1, value.length / 2, true);
    for (let i = 0, out = at + 5; i < value.length; i += 2, out++) {
      const high = HEX_VALUE[value.charCodeAt(i)] ?? 255;
      const low = HEX_VALUE[value.charCodeAt(i + 1)] ?? 255;
      if ((high | low) > 15) {
        this.length = start;
        return false;
      }
      this.buffer[out] = (high << 4) | low;
    }
    return true;
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** Reads little-endian fields; running past the end is a {@link MetaFormatError}. */
export class Reader {
  private readonly view: DataView;
  private readonly buffer: Buffer;

  constructor(bytes: Uint8Array, private at: number) {
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get atEnd(): boolean {
    return this.at === this.buffer.length;
  }

  private take(bytes: number): number {
    if (this.at + bytes > this.buffer.length) throw new MetaFormatError("it ends in the middle of a field");
    const at = this.at;
    this.at += bytes;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }
  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  u64(): number {
    const value = this.view.getBigUint64(this.take(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new MetaFormatError("it has a size beyond 2^53");
    return Number(value);
  }
  flag(): boolean {
    const value = this.u8();
    if (value > 1) throw new MetaFormatError(`it has a flag of ${value}`);
    return value === 1;
  }
  nullableU32(): number | null {
    const value = this.u32();
    return value === NULL_U32 ? null : value;
  }
  /** A count of items of at least `itemBytes` each: never more than the bytes left could hold. */
  count(itemBytes: number): number {
    const count = this.u32();
    if (count * itemBytes > this.buffer.length - this.at) throw new MetaFormatError("it ends in the middle of a list");
    return count;
  }
  bytes(length: number): Uint8Array {
    const at = this.take(length);
    return this.buffer.subarray(at, at + length);
  }
  text(): string {
    const bytes = this.bytes(this.u32());
    try {
      return decoder.decode(bytes);
    } catch {
      throw new MetaFormatError("it has text that is not UTF-8");
    }
  }
  nullableText(): string | null {
    const length = this.u32();
    if (length === NULL_U32) return null;
    this.at -= 4;
    return this.text();
  }
  hexOrText(): string | null {
    const kind = this.u8();
    if (kind === NULL) return null;
    if (kind === TEXT) return this.text();
    if (kind !== HEX_BYTES) throw new MetaFormatError(`it has a field of kind ${kind}`);
    const length = this.u32();
    const at = this.take(length);
    return this.buffer.toString("hex", at, at + length);
  }
}
