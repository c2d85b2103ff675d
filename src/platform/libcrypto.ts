/**
 * OpenSSL's one-shot `EVP_Digest` through FFI. Called with `nonblocking: true`, each digest runs on one of
 * Deno's blocking threads, so several blocks hash in parallel on every core without workers or copies, at
 * OpenSSL's assembly speed (about 1.5x what `node:crypto` reaches inside Deno for sha512 on this hardware).
 */

const symbols = {
  EVP_get_digestbyname: { parameters: ["buffer"], result: "pointer" },
  EVP_Digest: {
    parameters: ["buffer", "usize", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
    nonblocking: true,
  },
} as const;

const LIBRARY_NAMES = ["libcrypto.so.3", "libcrypto.so"];

export interface OpenSslDigest {
  /** Digest length in bytes. */
  readonly length: number;
  digest(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array>;
}

/** The digest `name` (OpenSSL spelling, e.g. `sha512`), or null when libcrypto or the digest is missing. */
export function openSslDigest(name: string, length: number): OpenSslDigest | null {
  const found = findDigest(name);
  if (!found) return null;
  const { library, algorithm } = found;
  return {
    length,
    async digest(data) {
      const out = new Uint8Array(length);
      const ok = await library.symbols.EVP_Digest(data, BigInt(data.length), out, null, algorithm, null);
      if (ok !== 1) throw new Error(`OpenSSL EVP_Digest(${name}) failed`);
      return out;
    },
  };
}

function findDigest(
  name: string,
): { library: Deno.DynamicLibrary<typeof symbols>; algorithm: Deno.PointerObject } | null {
  const library = load();
  const algorithm = library?.symbols.EVP_get_digestbyname(new TextEncoder().encode(`${name}\0`)) ?? null;
  return library && algorithm ? { library, algorithm } : null;
}

let loaded: Deno.DynamicLibrary<typeof symbols> | null | undefined;

function load(): Deno.DynamicLibrary<typeof symbols> | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  for (const name of LIBRARY_NAMES) {
    try {
      loaded = Deno.dlopen(name, symbols);
      break;
    } catch {
      // Try the next name; without libcrypto the node:crypto workers hash instead.
    }
  }
  return loaded;
}
