/**
 * The process title `ps` shows: `backy2 [Backing up (2/2: Data) … (11.5% 93.0MB/s ETA 59s)]`.
 *
 * Linux shows a process's command line from the memory its arguments were passed in. Deno has no API to
 * change it, so this writes the title over that memory through libc (found via /proc/self/stat's arg_start
 * and arg_end), cut to the space the original arguments had, and sets the thread name `ps -o comm` shows.
 * Anything that does not work leaves the title as it was: a title is never worth an error.
 */

const PR_SET_NAME = 15;

const symbols = {
  memcpy: { parameters: ["pointer", "buffer", "usize"], result: "pointer" },
  prctl: { parameters: ["i32", "buffer", "u64", "u64", "u64"], result: "i32" },
} as const;

interface ArgvArea {
  start: bigint;
  length: number;
  libc: Deno.DynamicLibrary<typeof symbols>;
}

let area: ArgvArea | null | undefined;
let current = "";

function argvArea(): ArgvArea | null {
  if (area !== undefined) return area;
  area = null;
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after the parenthesised command name start with field 3 (state); arg_start is field 48.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = BigInt(fields[48 - 3]);
    const end = BigInt(fields[49 - 3]);
    const length = Number(end - start);
    if (start > 0n && length > 1) area = { start, length, libc: Deno.dlopen("libc.so.6", symbols) };
  } catch {
    area = null;
  }
  return area;
}

/** Sets the title; repeated calls with the same text cost nothing. */
export function setProcessTitle(title: string): void {
  if (title === current) return;
  current = title;
  const target = argvArea();
  if (!target) return;
  try {
    const bytes = new Uint8Array(target.length);
    const encoded = new TextEncoder().encode(title.replaceAll("\n", " "));
    bytes.set(encoded.subarray(0, target.length - 1));
    const pointer = Deno.UnsafePointer.create(target.start);
    target.libc.symbols.memcpy(pointer, bytes, BigInt(bytes.length));
    const name = new TextEncoder().encode(`${title.split(" ")[0].slice(0, 15)}\0`);
    target.libc.symbols.prctl(PR_SET_NAME, name, 0n, 0n, 0n);
  } catch {
    // Degrade silently: the title is cosmetic.
  }
}
