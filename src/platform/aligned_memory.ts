/**
 * Page-aligned block buffers, so that blocks can go to and from disk with direct IO (posix_io.ts). V8 takes
 * an ArrayBuffer's memory from malloc, 16 bytes past a page boundary, and offers no way to ask for more
 * alignment; a resizable ArrayBuffer is page-aligned, but Deno refuses it in nonblocking FFI calls. So the
 * memory is mapped here (anonymous mmap, always page-aligned) and wrapped as an ordinary ArrayBuffer, which
 * transfers to workers and passes to FFI like any other.
 *
 * Mapped memory is never unmapped: an ArrayBuffer over it may still be in use anywhere (transferred to a
 * worker, held by a pending call), so returning it to the system could never be proven safe. Buffers are
 * recycled instead: {@link releaseAligned} gives them back for the next {@link alignedBuffer} of the same size,
 * so a process holds at most the most it ever had in use at once. Without libc (no FFI), buffers are plain.
 */

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;

const symbols = {
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
} as const;

let library: Deno.DynamicLibrary<typeof symbols> | null | undefined;

function libc(): Deno.DynamicLibrary<typeof symbols> | null {
  if (library === undefined) {
    try {
      library = Deno.dlopen("libc.so.6", symbols);
    } catch {
      library = null;
    }
  }
  return library;
}

/** Free mapped buffers by size. */
const recycled = new Map<number, ArrayBuffer[]>();

/** An ArrayBuffer of `size` bytes whose memory starts on a page boundary (zeroed when newly mapped). */
export function alignedBuffer(size: number): ArrayBuffer {
  const reused = recycled.get(size)?.pop();
  if (reused) return reused;
  const mapped = size > 0
    ? libc()?.symbols.mmap(null, BigInt(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n)
    : null;
  // MAP_FAILED is (void*)-1.
  if (!mapped || Deno.UnsafePointer.value(mapped) === -1n || Deno.UnsafePointer.value(mapped) === 2n ** 64n - 1n) {
    return new ArrayBuffer(size);
  }
  return Deno.UnsafePointerView.getArrayBuffer(mapped, size);
}

/** Gives buffers back for reuse; detached ones (transferred away) are left alone. */
export function releaseAligned(buffers: Iterable<ArrayBuffer>): void {
  for (const buffer of buffers) {
    if (buffer.detached || buffer.byteLength === 0) continue;
    let free = recycled.get(buffer.byteLength);
    if (!free) recycled.set(buffer.byteLength, free = []);
    if (!free.includes(buffer)) free.push(buffer);
  }
}
