/**
 * librbd (`librbd.so.1`, Debian `librbd1`) through `Deno.dlopen`: open, create, read, write and diff RBD images.
 * Needs only `--allow-ffi`; the library is loaded on first use.
 *
 * Everything that talks to the OSDs is `nonblocking` (runs on Deno's blocking-thread pool), so that several
 * `rbd_read2`/`rbd_write2` calls on one image are in flight at once — librbd image handles are thread-safe.
 * `rbd_diff_iterate2` calls back from that thread into JavaScript through a `Deno.UnsafeCallback.threadSafe`.
 * Structs (measured on x86-64): `rbd_snap_info_t` is `{u64 id, u64 size, char *name}` (24 bytes).
 */
import { CephError, check, cString, ERANGE, type Ioctx, outPointer } from "./librados.ts";

const symbols = {
  rbd_open: { parameters: ["pointer", "buffer", "buffer", "buffer"], result: "i32", nonblocking: true },
  rbd_open_read_only: { parameters: ["pointer", "buffer", "buffer", "buffer"], result: "i32", nonblocking: true },
  rbd_close: { parameters: ["pointer"], result: "i32", nonblocking: true },
  rbd_get_size: { parameters: ["pointer", "buffer"], result: "i32" },
  rbd_read2: { parameters: ["pointer", "u64", "usize", "buffer", "i32"], result: "isize", nonblocking: true },
  rbd_write2: { parameters: ["pointer", "u64", "usize", "buffer", "i32"], result: "isize", nonblocking: true },
  rbd_write_zeroes: { parameters: ["pointer", "u64", "usize", "i32", "i32"], result: "isize", nonblocking: true },
  rbd_flush: { parameters: ["pointer"], result: "i32", nonblocking: true },
  rbd_image_options_create: { parameters: ["buffer"], result: "void" },
  rbd_image_options_destroy: { parameters: ["pointer"], result: "void" },
  rbd_image_options_set_uint64: { parameters: ["pointer", "i32", "u64"], result: "i32" },
  rbd_create4: { parameters: ["pointer", "buffer", "u64", "pointer"], result: "i32", nonblocking: true },
  rbd_snap_list: { parameters: ["pointer", "buffer", "buffer"], result: "i32", nonblocking: true },
  rbd_snap_list_end: { parameters: ["buffer"], result: "void" },
  rbd_diff_iterate2: {
    parameters: ["pointer", "buffer", "u64", "u64", "u8", "u8", "function", "pointer"],
    result: "i32",
    nonblocking: true,
  },
} as const;

let library: Deno.DynamicLibrary<typeof symbols> | null = null;

function rbd(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  if (!library) {
    try {
      library = Deno.dlopen("librbd.so.1", symbols);
    } catch (error) {
      throw new Error(`Cannot load librbd.so.1 (install the Debian package librbd1): ${(error as Error).message}`);
    }
  }
  return library.symbols;
}

/** `LIBRADOS_OP_FLAG_FADVISE_DONTNEED`: backups read each block once (the reference passes it too). */
const FADVISE_DONTNEED = 0x20;
const RBD_IMAGE_OPTION_FORMAT = 0;
const RBD_IMAGE_OPTION_FEATURES = 1;
const SNAP_INFO_BYTES = 24;

/** The `RBD_FEATURE_*` constants of `rbd/features.h`, for `new_image_features`. */
export const RBD_FEATURES: Readonly<Record<string, bigint>> = {
  RBD_FEATURE_LAYERING: 1n << 0n,
  RBD_FEATURE_STRIPINGV2: 1n << 1n,
  RBD_FEATURE_EXCLUSIVE_LOCK: 1n << 2n,
  RBD_FEATURE_OBJECT_MAP: 1n << 3n,
  RBD_FEATURE_FAST_DIFF: 1n << 4n,
  RBD_FEATURE_DEEP_FLATTEN: 1n << 5n,
  RBD_FEATURE_JOURNALING: 1n << 6n,
  RBD_FEATURE_DATA_POOL: 1n << 7n,
};

/** ORs feature names together; an unknown name throws. */
export function featureBits(names: readonly string[]): bigint {
  let bits = 0n;
  for (const name of names) {
    const bit = RBD_FEATURES[name];
    if (bit === undefined) throw new Error(`Unknown RBD feature: ${name}`);
    bits |= bit;
  }
  return bits;
}

/** One extent of `rbd diff`: `exists` false means it was discarded (reads as zeros). */
export interface DiffExtent {
  offset: number;
  length: number;
  exists: boolean;
}

export interface SnapInfo {
  id: bigint;
  size: number;
  name: string;
}

/** Creates a format-2 image of `size` bytes with the given feature bits (`rbd_create4`). */
export async function createImage(ioctx: Ioctx, name: string, size: number, features: bigint): Promise<void> {
  const slot = new BigUint64Array(1);
  rbd().rbd_image_options_create(slot);
  const options = outPointer(slot);
  try {
    check("rbd_image_options_set_uint64", rbd().rbd_image_options_set_uint64(options, RBD_IMAGE_OPTION_FORMAT, 2n));
    check(
      "rbd_image_options_set_uint64",
      rbd().rbd_image_options_set_uint64(options, RBD_IMAGE_OPTION_FEATURES, features),
    );
    check("rbd_create4", await rbd().rbd_create4(ioctx.handle, cString(name), BigInt(size), options));
  } finally {
    rbd().rbd_image_options_destroy(options);
  }
}

/** An open image (`rbd_image_t`), at its head or at a snapshot. */
export class Image {
  private constructor(readonly handle: Deno.PointerObject, readonly name: string, readonly snapshot: string | null) {}

  /** Opens `name` (at `snapshot` if given); a missing image or snapshot fails with code ENOENT. */
  static async open(ioctx: Ioctx, name: string, snapshot: string | null, readOnly: boolean): Promise<Image> {
    const slot = new BigUint64Array(1);
    const snap = snapshot === null ? null : cString(snapshot);
    const call = readOnly ? "rbd_open_read_only" : "rbd_open";
    const result = readOnly
      ? await rbd().rbd_open_read_only(ioctx.handle, cString(name), slot, snap)
      : await rbd().rbd_open(ioctx.handle, cString(name), slot, snap);
    check(call, result);
    return new Image(outPointer(slot), name, snapshot);
  }

  size(): number {
    const slot = new BigUint64Array(1);
    check("rbd_get_size", rbd().rbd_get_size(this.handle, slot));
    return Number(slot[0]);
  }

  /** Reads up to `into.length` bytes at `offset`; returns how many (fewer only at the end of the image). */
  async read(offset: number, into: Uint8Array): Promise<number> {
    const n = await rbd().rbd_read2(this.handle, BigInt(offset), BigInt(into.length), into, FADVISE_DONTNEED);
    return check("rbd_read2", n);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    const n = await rbd().rbd_write2(this.handle, BigInt(offset), BigInt(data.length), data, FADVISE_DONTNEED);
    if (check("rbd_write2", n) !== data.length) throw new CephError("rbd_write2 (short write)", 5);
  }

  /** Zeroes a range; unlike a discard, partial objects are zeroed too. */
  async writeZeroes(offset: number, length: number): Promise<void> {
    check("rbd_write_zeroes", await rbd().rbd_write_zeroes(this.handle, BigInt(offset), BigInt(length), 0, 0));
  }

  async flush(): Promise<void> {
    check("rbd_flush", await rbd().rbd_flush(this.handle));
  }

  /** The image's snapshots (`rbd_snap_list`, growing the array while librbd answers -ERANGE). */
  async snapshots(): Promise<SnapInfo[]> {
    let capacity = 16;
    for (;;) {
      const infos = new Uint8Array(SNAP_INFO_BYTES * capacity);
      const max = new Int32Array([capacity]);
      const count = Number(await rbd().rbd_snap_list(this.handle, infos, max));
      if (count === -ERANGE) {
        capacity = Math.max(max[0], capacity * 2);
        continue;
      }
      check("rbd_snap_list", count);
      try {
        return readSnapInfos(infos, count);
      } finally {
        rbd().rbd_snap_list_end(infos);
      }
    }
  }

  /**
   * The extents that differ between snapshot `fromSnapshot` and this image's opened state, object-aligned
   * (`whole_object`), parent included: what `rbd diff --from-snap S --whole-object` prints.
   */
  async diff(fromSnapshot: string, length: number): Promise<DiffExtent[]> {
    const extents: DiffExtent[] = [];
    const callback = Deno.UnsafeCallback.threadSafe(
      { parameters: ["u64", "usize", "i32", "pointer"], result: "i32" } as const,
      (offset, len, exists) => {
        extents.push({ offset: Number(offset), length: Number(len), exists: exists !== 0 });
        return 0;
      },
    );
    try {
      const result = await rbd().rbd_diff_iterate2(
        this.handle,
        cString(fromSnapshot),
        0n,
        BigInt(length),
        1,
        1,
        callback.pointer,
        null,
      );
      check("rbd_diff_iterate2", result);
    } finally {
      callback.close();
    }
    return extents;
  }

  async close(): Promise<void> {
    check("rbd_close", await rbd().rbd_close(this.handle));
  }
}

function readSnapInfos(infos: Uint8Array<ArrayBuffer>, count: number): SnapInfo[] {
  const view = new DataView(infos.buffer);
  const snaps: SnapInfo[] = [];
  for (let i = 0; i < count; i++) {
    const base = i * SNAP_INFO_BYTES;
    const namePointer = Deno.UnsafePointer.create(view.getBigUint64(base + 16, true));
    snaps.push({
      id: view.getBigUint64(base, true),
      size: Number(view.getBigUint64(base + 8, true)),
      name: namePointer === null ? "" : Deno.UnsafePointerView.getCString(namePointer),
    });
  }
  return snaps;
}
