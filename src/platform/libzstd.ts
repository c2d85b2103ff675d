/**
 * libzstd's one-shot calls through FFI (Debian `libzstd1`). Compression and decompression are called with
 * `nonblocking: true`, so each runs on one of Deno's blocking threads while the event loop goes on hashing and
 * writing other blocks. Contexts are kept in a pool (one per call in flight) instead of being created per call.
 * Both calls can work in the caller's buffers, so that a block's compression leaves no block-sized garbage.
 * The frames are standard zstd frames, the same as the `zstd` command line tool writes and reads.
 *
 * {@link libzstd} is null when the library cannot be loaded; callers then use `node:zlib` instead.
 */

const symbols = {
  ZSTD_createCCtx: { parameters: [], result: "pointer" },
  ZSTD_createDCtx: { parameters: [], result: "pointer" },
  ZSTD_compressCCtx: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "i32"],
    result: "usize",
    nonblocking: true,
  },
  ZSTD_decompressDCtx: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize"],
    result: "usize",
    nonblocking: true,
  },
  ZSTD_compressBound: { parameters: ["usize"], result: "usize" },
  ZSTD_isError: { parameters: ["usize"], result: "u32" },
  ZSTD_getErrorName: { parameters: ["usize"], result: "pointer" },
} as const;

const LIBRARY_NAMES = ["libzstd.so.1", "libzstd.so"];

type Symbols = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** A libzstd failure (a damaged frame, or a frame bigger than the room given for it). */
export class ZstdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ZstdError";
  }
}

export interface LibZstd {
  /** The largest frame `compress` can produce for `size` input bytes. */
  compressBound(size: number): number;
  /**
   * One frame (with the content size in its header) of `data` at `level`: in `into` when given (it must hold
   * {@link compressBound} bytes), else in an array of its own size.
   */
  compress(data: Uint8Array, level: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * Decodes `frame` into `into` (at most its length); returns the view of `into` that holds the bytes. Throws
   * {@link ZstdError} when the frame is damaged or decodes to more than `into` can hold.
   */
  decompress(frame: Uint8Array, into: Uint8Array): Promise<Uint8Array>;
}

let loaded: LibZstd | null | undefined;

/** The library, loaded on first use; null when it is not installed. */
export function libzstd(): LibZstd | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  for (const name of LIBRARY_NAMES) {
    try {
      loaded = bind(Deno.dlopen(name, symbols).symbols);
      break;
    } catch {
      // Try the next name; without libzstd, node:zlib compresses instead.
    }
  }
  return loaded;
}

function bind(zstd: Symbols): LibZstd {
  const compressors = new ContextPool(() => zstd.ZSTD_createCCtx());
  const decompressors = new ContextPool(() => zstd.ZSTD_createDCtx());
  const check = (result: number | bigint): number => {
    const code = BigInt(result);
    if (zstd.ZSTD_isError(code) !== 0) throw new ZstdError(errorName(zstd, code));
    return Number(code);
  };
  const size = (bytes: number) => BigInt(bytes);
  return {
    compressBound: (bytes) => Number(zstd.ZSTD_compressBound(size(bytes))),
    async compress(data, level, into) {
      const bound = Number(zstd.ZSTD_compressBound(size(data.length)));
      if (into && into.length < bound) throw new RangeError(`a frame of ${data.length} bytes needs ${bound} bytes`);
      const out = bufferOf(into ?? new Uint8Array(bound));
      const length = check(
        await compressors.use((context) =>
          zstd.ZSTD_compressCCtx(context, out, size(out.length), bufferOf(data), size(data.length), level)
        ),
      );
      return into ? out.subarray(0, length) : out.slice(0, length);
    },
    async decompress(frame, into) {
      const target = bufferOf(into);
      const length = await decompressors.use((context) =>
        zstd.ZSTD_decompressDCtx(context, target, size(into.length), bufferOf(frame), size(frame.length))
      );
      return target.subarray(0, check(length));
    },
  };
}

function errorName(zstd: Symbols, code: bigint): string {
  const name = zstd.ZSTD_getErrorName(code);
  return name === null ? "unknown zstd error" : new Deno.UnsafePointerView(name).getCString();
}

/** A view FFI accepts (a `Uint8Array` over a plain `ArrayBuffer`); copied only when it is not one. */
function bufferOf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : new Uint8Array(bytes);
}

/**
 * Contexts for calls in flight: a call takes a free one (or creates one) and gives it back afterwards, so there
 * are never more contexts than calls ever ran at once. They live as long as the process.
 */
class ContextPool {
  private readonly free: Deno.PointerObject[] = [];

  constructor(private readonly create: () => Deno.PointerValue) {}

  async use<R>(work: (context: Deno.PointerObject) => Promise<R>): Promise<R> {
    const context = this.free.pop() ?? this.created();
    try {
      return await work(context);
    } finally {
      this.free.push(context);
    }
  }

  private created(): Deno.PointerObject {
    const context = this.create();
    if (context === null) throw new Error("libzstd could not allocate a context");
    return context;
  }
}
