/**
 * The NBD wire format (the fixed-newstyle handshake and the transmission phase, as in the protocol document
 * of the NetworkBlockDevice project): the constants this server uses, the messages it sends, and
 * {@link Wire}, a connection with exact-length reads and writes that never interleave.
 *
 * Every number on the wire is big-endian.
 */

export const NBDMAGIC = 0x4e42444d41474943n;
export const IHAVEOPT = 0x49484156454f5054n;
const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// Handshake flags (server) and client flags.
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;

// Transmission flags.
export const FLAG_HAS_FLAGS = 1 << 0;
export const FLAG_READ_ONLY = 1 << 1;
export const FLAG_SEND_FLUSH = 1 << 2;
export const FLAG_SEND_DF = 1 << 7;
export const FLAG_CAN_MULTI_CONN = 1 << 8;

export const OPT = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;

const ERR = 0x80000000;
export const REP = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: ERR + 1,
  ERR_POLICY: ERR + 2,
  ERR_INVALID: ERR + 3,
  ERR_TLS_REQD: ERR + 5,
  ERR_UNKNOWN: ERR + 6,
} as const;

export const INFO = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

export const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, BLOCK_STATUS: 7 } as const;
export const CMD_FLAG_REQ_ONE = 1 << 3;

export const REPLY_FLAG_DONE = 1;
export const REPLY_TYPE = { NONE: 0, OFFSET_DATA: 1, BLOCK_STATUS: 5, ERROR: (1 << 15) + 1 } as const;

/** base:allocation flags. */
export const STATE_HOLE = 1 << 0;
export const STATE_ZERO = 1 << 1;
export const BASE_ALLOCATION = "base:allocation";

export const NBD_ERROR = { EPERM: 1, EIO: 5, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ESHUTDOWN: 108 } as const;

/** The largest request this server serves (the protocol's customary maximum payload). */
export const MAX_PAYLOAD = 32 * 1048576;

/** The other side closed the connection. */
export class ClosedError extends Error {
  constructor() {
    super("connection closed");
    this.name = "ClosedError";
  }
}

/** Big-endian fields, written in order into one buffer. */
export class Message {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  u16(value: number): this {
    return this.push(2, (view) => view.setUint16(0, value));
  }
  u32(value: number): this {
    return this.push(4, (view) => view.setUint32(0, value));
  }
  u64(value: number | bigint): this {
    return this.push(8, (view) => view.setBigUint64(0, BigInt(value)));
  }
  bytes(data: Uint8Array): this {
    this.parts.push(data);
    this.size += data.length;
    return this;
  }
  /** A UTF-8 string preceded by its 32-bit length. */
  string(text: string): this {
    const data = new TextEncoder().encode(text);
    return this.u32(data.length).bytes(data);
  }

  toBytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  private push(size: number, write: (view: DataView) => void): this {
    const part = new Uint8Array(size);
    write(new DataView(part.buffer));
    return this.bytes(part);
  }
}

/** An option reply of the handshake. */
export function optionReply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  return new Message().u64(OPTION_REPLY_MAGIC).u32(option).u32(type).u32(data.length).bytes(data).toBytes();
}

/** The header of a simple reply (the data of a successful read follows it). */
export function simpleReply(cookie: Uint8Array, error: number): Uint8Array {
  return new Message().u32(SIMPLE_REPLY_MAGIC).u32(error).bytes(cookie).toBytes();
}

/** The header of a structured reply chunk (its payload follows it). */
export function chunkHeader(cookie: Uint8Array, flags: number, type: number, length: number): Uint8Array {
  return new Message().u32(STRUCTURED_REPLY_MAGIC).u16(flags).u16(type).bytes(cookie).u32(length).toBytes();
}

/** Reads big-endian fields from a received buffer; running past its end throws. */
export class Fields {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get remaining(): number {
    return this.data.length - this.at;
  }
  u16(): number {
    return this.take(2, () => this.view.getUint16(this.at));
  }
  u32(): number {
    return this.take(4, () => this.view.getUint32(this.at));
  }
  u64(): bigint {
    return this.take(8, () => this.view.getBigUint64(this.at));
  }
  bytes(length: number): Uint8Array {
    return this.take(length, () => this.data.subarray(this.at, this.at + length));
  }
  /** A UTF-8 string preceded by its 32-bit length. */
  string(): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes(this.u32()));
  }

  private take<T>(size: number, read: () => T): T {
    if (this.at + size > this.data.length) throw new RangeError("message too short");
    const value = read();
    this.at += size;
    return value;
  }
}

/** A connection read in exact lengths and written in whole messages, one at a time, in call order. */
export class Wire {
  private readonly buffer = new Uint8Array(256 * 1024);
  private start = 0;
  private end = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(public conn: Deno.Conn) {}

  /** True when bytes were received but not read yet. */
  get buffered(): boolean {
    return this.end > this.start;
  }

  /** Exactly `length` bytes; throws {@link ClosedError} when the connection ends first. */
  async read(length: number): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(length);
    let filled = this.takeBuffered(out, 0);
    while (filled < length) {
      if (length - filled >= this.buffer.length) {
        filled += await this.receive(out.subarray(filled));
        continue;
      }
      this.start = 0;
      this.end = await this.receive(this.buffer);
      filled = this.takeBuffered(out, filled);
    }
    return out;
  }

  /** Sends `parts` back to back, after everything sent before. */
  send(...parts: Uint8Array[]): Promise<void> {
    const sent = this.writing.then(async () => {
      for (const part of parts) {
        for (let done = 0; done < part.length;) done += await this.conn.write(part.subarray(done));
      }
    });
    this.writing = sent.catch(() => {});
    return sent;
  }

  /** Resolves once everything queued so far was sent (or failed). */
  drained(): Promise<void> {
    return this.writing;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  private takeBuffered(out: Uint8Array, filled: number): number {
    const take = Math.min(out.length - filled, this.end - this.start);
    out.set(this.buffer.subarray(this.start, this.start + take), filled);
    this.start += take;
    return filled + take;
  }

  private async receive(into: Uint8Array): Promise<number> {
    const n = await this.conn.read(into);
    if (n === null || n === 0) throw new ClosedError();
    return n;
  }
}
