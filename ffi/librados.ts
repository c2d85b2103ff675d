/**
 * librados (`librados.so.2`, Debian `librados2`) through `Deno.dlopen`: just enough to connect to a cluster and
 * open a pool for librbd. Needs only `--allow-ffi`; the library is loaded on first use.
 *
 * Calls that wait on the network (`rados_connect`, `rados_ioctx_create`, `rados_shutdown`) are `nonblocking`:
 * they run on Deno's blocking-thread pool, so the event loop (and other reads) go on meanwhile. Errors come
 * back as negative errno values and are thrown as {@link CephError}. Handles are plain pointers; whoever gets
 * one closes it ({@link Cluster.shutdown}, {@link Ioctx.destroy}), on every path.
 */

const symbols = {
  rados_create2: { parameters: ["buffer", "buffer", "buffer", "u64"], result: "i32" },
  rados_conf_read_file: { parameters: ["pointer", "buffer"], result: "i32" },
  rados_conf_set: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  rados_conf_get: { parameters: ["pointer", "buffer", "buffer", "usize"], result: "i32" },
  rados_connect: { parameters: ["pointer"], result: "i32", nonblocking: true },
  rados_shutdown: { parameters: ["pointer"], result: "void", nonblocking: true },
  rados_ioctx_create: { parameters: ["pointer", "buffer", "buffer"], result: "i32", nonblocking: true },
  rados_ioctx_destroy: { parameters: ["pointer"], result: "void" },
} as const;

let library: Deno.DynamicLibrary<typeof symbols> | null = null;

function rados(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  if (!library) {
    try {
      library = Deno.dlopen("librados.so.2", symbols);
    } catch (error) {
      throw new Error(`Cannot load librados.so.2 (install the Debian package librados2): ${(error as Error).message}`);
    }
  }
  return library.symbols;
}

/** Text of the errno values librados and librbd return; others print as `errno N`. */
const ERRNO_TEXT: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  5: "Input/output error",
  11: "Resource temporarily unavailable",
  12: "Cannot allocate memory",
  13: "Permission denied",
  16: "Device or resource busy",
  17: "File exists",
  22: "Invalid argument",
  28: "No space left on device",
  30: "Read-only file system",
  34: "Numerical result out of range",
  38: "Function not implemented",
  39: "Directory not empty",
  95: "Operation not supported",
  108: "Cannot send after transport endpoint shutdown",
  110: "Connection timed out",
  111: "Connection refused",
};

export const ENOENT = 2;
export const EEXIST = 17;
export const ERANGE = 34;

/** A failed librados/librbd call: `code` is the positive errno. */
export class CephError extends Error {
  constructor(readonly call: string, readonly code: number) {
    super(`${call} failed: ${ERRNO_TEXT[code] ?? `errno ${code}`}`);
    this.name = "CephError";
  }

  /** The errno's text alone, e.g. `Connection timed out`. */
  get reason(): string {
    return ERRNO_TEXT[this.code] ?? `errno ${this.code}`;
  }
}

/** Throws a {@link CephError} when a call returned a negative errno; returns the result otherwise. */
export function check(call: string, result: number | bigint): number {
  const value = Number(result);
  if (value < 0) throw new CephError(call, -value);
  return value;
}

/** A NUL-terminated C string. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/** The pointer an out-parameter (`T **`) received. */
export function outPointer(slot: BigUint64Array): Deno.PointerObject {
  const pointer = Deno.UnsafePointer.create(slot[0]);
  if (pointer === null) throw new Error("librados returned a null handle");
  return pointer;
}

export interface ConnectOptions {
  /** `ceph.conf`; the cluster's monitors and keyring come from it. */
  conffile: string;
  /** `ceph` unless the cluster has another name. */
  clusterName: string;
  /** The client's full name, e.g. `client.admin`. */
  radosName: string;
  /** Settings applied after the file unless the file set them (e.g. a short `client_mount_timeout`). */
  fallbacks?: Record<string, { unless: string; value: string }>;
}

/** A connected cluster handle (`rados_t`). */
export class Cluster {
  private constructor(readonly handle: Deno.PointerObject) {}

  /**
   * Creates the handle, reads the config, applies the fallbacks and connects. Connecting gives up after the
   * config's `client_mount_timeout` (`rados_connect` returns -ETIMEDOUT), so an unreachable cluster fails.
   */
  static async connect(options: ConnectOptions): Promise<Cluster> {
    const slot = new BigUint64Array(1);
    check("rados_create2", rados().rados_create2(slot, cString(options.clusterName), cString(options.radosName), 0n));
    const cluster = new Cluster(outPointer(slot));
    try {
      check("rados_conf_read_file", rados().rados_conf_read_file(cluster.handle, cString(options.conffile)));
      for (const [option, fallback] of Object.entries(options.fallbacks ?? {})) {
        if (cluster.get(option) === fallback.unless) cluster.set(option, fallback.value);
      }
      check("rados_connect", await rados().rados_connect(cluster.handle));
      return cluster;
    } catch (error) {
      await cluster.shutdown();
      throw error;
    }
  }

  /** A config value as text (`rados_conf_get`). */
  get(option: string): string {
    const out = new Uint8Array(256);
    check("rados_conf_get", rados().rados_conf_get(this.handle, cString(option), out, BigInt(out.length)));
    return new TextDecoder().decode(out.subarray(0, out.indexOf(0)));
  }

  set(option: string, value: string): void {
    check("rados_conf_set", rados().rados_conf_set(this.handle, cString(option), cString(value)));
  }

  /** Opens a pool; a missing pool fails with code ENOENT. */
  async openIoctx(pool: string): Promise<Ioctx> {
    const slot = new BigUint64Array(1);
    check("rados_ioctx_create", await rados().rados_ioctx_create(this.handle, cString(pool), slot));
    return new Ioctx(outPointer(slot), pool);
  }

  async shutdown(): Promise<void> {
    await rados().rados_shutdown(this.handle);
  }
}

/** An open pool (`rados_ioctx_t`). */
export class Ioctx {
  constructor(readonly handle: Deno.PointerObject, readonly pool: string) {}

  destroy(): void {
    rados().rados_ioctx_destroy(this.handle);
  }
}
