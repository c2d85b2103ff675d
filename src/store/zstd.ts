/**
 * zstd frames of single blocks, made and read off the event loop: by libzstd through FFI when it is installed
 * (about 1.5 times node's speed here, and it decodes straight into the caller's buffer), else by the
 * asynchronous `node:zlib` calls. Either way a frame records its content size and is a standard frame that
 * the `zstd` tool, libzstd and backy2's Python reader all decode.
 *
 * Decoding is bounded by the room the caller gives: a frame that claims or produces more bytes fails with
 * {@link ZstdError} instead of allocating what a damaged or hostile frame asks for.
 */
import { type LibZstd, libzstd, ZstdError } from "../platform/libzstd.ts";

export { ZstdError } from "../platform/libzstd.ts";

/** One implementation of the two calls the codecs need. */
export type ZstdCalls = Pick<LibZstd, "compress" | "decompress">;

let chosen: ZstdCalls | undefined;

/** libzstd when it loads, else node:zlib. */
export function zstd(): ZstdCalls {
  chosen ??= libzstd() ?? nodeZstd;
  return chosen;
}

/** zstd's ZSTD_COMPRESSBOUND: the largest frame of `size` input bytes (node needs it as its output chunk). */
export function compressBound(size: number): number {
  const small = 128 << 10;
  return size + (size >>> 8) + (size < small ? (small - size) >>> 11 : 0);
}

interface ZlibZstd {
  zstdCompress(data: Uint8Array, options: object, done: (error: Error | null, result: Uint8Array) => void): void;
  zstdDecompress(data: Uint8Array, options: object, done: (error: Error | null, result: Uint8Array) => void): void;
  constants: Record<string, number>;
}

let zlib: Promise<ZlibZstd> | undefined;

/** node:zlib loads only when it is used (libzstd is missing). */
function nodeZlib(): Promise<ZlibZstd> {
  zlib ??= import("node:zlib") as unknown as Promise<ZlibZstd>;
  return zlib;
}

function call(
  run: (done: (error: Error | null, result: Uint8Array) => void) => void,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => run((error, result) => error ? reject(error) : resolve(result)));
}

/** The `node:zlib` implementation (zlib's thread pool keeps it off the event loop). */
export const nodeZstd: ZstdCalls = {
  async compress(data, level) {
    const zlib = await nodeZlib();
    const { ZSTD_c_compressionLevel, ZSTD_c_contentSizeFlag } = zlib.constants;
    // pledgedSrcSize makes the frame record its content size; node's type definitions do not list it yet.
    const options = {
      params: { [ZSTD_c_compressionLevel]: level, [ZSTD_c_contentSizeFlag]: 1 },
      pledgedSrcSize: data.length,
      chunkSize: Math.max(compressBound(data.length), 64),
    };
    const frame = await call((done) => zlib.zstdCompress(data, options, done));
    return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  },
  async decompress(frame, into) {
    const zlib = await nodeZlib();
    let plain: Uint8Array;
    try {
      // A chunk larger than the block doubles node's speed; maxOutputLength bounds what a frame can claim.
      const options = { chunkSize: Math.max(into.length + 1, 64), maxOutputLength: Math.max(into.length, 1) };
      plain = await call((done) => zlib.zstdDecompress(frame, options, done));
    } catch (error) {
      throw new ZstdError((error as Error).message);
    }
    // node returns what it decoded of a frame that is cut short, without an error.
    const declared = frameContentSize(frame);
    if (declared !== null && declared !== plain.length) throw new ZstdError("Src size is incorrect");
    into.set(plain);
    return into.subarray(0, plain.length);
  },
};

const FRAME_MAGIC = 0xfd2fb528;

/**
 * The content size a zstd frame's header declares (RFC 8878 §3.1.1.1), or null when the bytes do not start
 * with a frame header that declares one. Read without decoding anything, to size or refuse the output first.
 */
export function frameContentSize(frame: Uint8Array): number | null {
  if (frame.length < 6) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint32(0, true) !== FRAME_MAGIC) return null;
  const descriptor = frame[4];
  const singleSegment = (descriptor & 0x20) !== 0;
  const sizeFlag = descriptor >>> 6;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 0x03];
  const at = 5 + (singleSegment ? 0 : 1) + dictionaryBytes;
  const sizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][sizeFlag];
  if (sizeBytes === 0 || frame.length < at + sizeBytes) return null;
  switch (sizeBytes) {
    case 1:
      return frame[at];
    case 2:
      return view.getUint16(at, true) + 256;
    case 4:
      return view.getUint32(at, true);
    default: {
      const size = view.getBigUint64(at, true);
      return size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(size) : Number.MAX_SAFE_INTEGER;
    }
  }
}
