/**
 * Minimal assertions for the `src/output` unit tests (the project uses no JSR packages, so there is
 * no `@std/assert`). Test-only; nothing outside tests imports it.
 */

/** Structural equality for primitives, arrays, Dates and plain objects. */
function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => equal(item, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  return false;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Date);
}

function show(x: unknown): string {
  if (x instanceof Date) return `Date(${x.toISOString()})`;
  if (Object.is(x, -0)) return "-0";
  return typeof x === "string" ? JSON.stringify(x) : JSON.stringify(x, null, 1) ?? String(x);
}

export function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  if (equal(actual, expected)) return;
  throw new Error(
    `${message ? message + ": " : ""}values differ\nactual:   ${show(actual)}\nexpected: ${show(expected)}`,
  );
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

/** Runs `fn`, requires it to throw an instance of `errorClass`, and returns that error. */
export function assertThrows<E extends Error>(fn: () => unknown, errorClass: new (...args: never[]) => E): E {
  try {
    fn();
  } catch (error) {
    if (error instanceof errorClass) return error;
    throw new Error(`expected ${errorClass.name}, got ${String(error)}`);
  }
  throw new Error(`expected ${errorClass.name}, nothing was thrown`);
}

/** Awaits `fn`, requires it to reject with an instance of `errorClass`, and returns that error. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  errorClass: new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof errorClass) return error;
    throw new Error(`expected ${errorClass.name}, got ${String(error)}`);
  }
  throw new Error(`expected ${errorClass.name}, nothing was thrown`);
}
