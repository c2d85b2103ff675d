/**
 * Human readable byte counts for `-r`, identical to the reference's `"%.0f %s%s" % (num, unit,
 * "B")` loop, including Python's round-half-to-even of `%.0f`.
 */

const UNITS = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi"];

/** `0` → `0`; otherwise e.g. 1536 → `2 KiB`, 2560 → `2 KiB`, 1048575 → `1024 KiB`. */
export function humanize(n: number): string {
  if (n === 0) return "0";
  let num = n;
  for (const unit of UNITS) {
    if (Math.abs(num) < 1024) return `${formatFixed0(num)} ${unit}B`;
    num /= 1024;
  }
  return `${formatFixed0(num)} YiB`;
}

/**
 * Rounds to an integer, ties to even, on the exact binary value (as C's printf does). Keeps the
 * sign of a negative value that rounds to zero (`-0`), as `%.0f` prints `-0`.
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const magnitude = Math.abs(x);
  const floor = Math.floor(magnitude);
  // Exact for non-negative doubles: floor and magnitude share the binade or floor is 0.
  const fraction = magnitude - floor;
  let rounded = floor;
  if (fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1)) rounded = floor + 1;
  return x < 0 || Object.is(x, -0) ? -rounded : rounded;
}

/** Python `"%.0f" % x`: full decimal expansion, no exponent; `inf`, `-inf`, `nan`. */
export function formatFixed0(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const rounded = roundHalfEven(x);
  if (Object.is(rounded, -0)) return "-0";
  return BigInt(rounded).toString();
}
