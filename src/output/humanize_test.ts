/** Tests for `-r` sizes: backy2's own examples and Python `%.0f` rounding corner cases. */

import assert from "node:assert/strict";
import { formatFixed0, humanize, roundHalfEven } from "./humanize.ts";

Deno.test("humanize matches the reference examples", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [1, "1 B"],
    [700, "700 B"],
    [1023, "1023 B"],
    [1024, "1 KiB"],
    [1536, "2 KiB"],
    [2560, "2 KiB"],
    [3584, "4 KiB"],
    [21480, "21 KiB"],
    [147456, "144 KiB"],
    [94908, "93 KiB"],
    [1048575, "1024 KiB"],
    [1048576, "1 MiB"],
    [1024 ** 3 * 5, "5 GiB"],
    [1024 ** 8, "1 YiB"],
    [1024 ** 9, "1024 YiB"],
  ];
  for (const [n, text] of cases) assert.deepEqual(humanize(n), text, String(n));
});

Deno.test("humanize of negative values keeps the sign", () => {
  assert.equal(humanize(-1536), "-2 KiB");
  assert.equal(humanize(-5), "-5 B");
});

Deno.test("roundHalfEven rounds ties to even", () => {
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(1.5), 2);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(2.5000000001), 3);
  assert.equal(roundHalfEven(-2.5), -2);
  assert.equal(roundHalfEven(-0.4), -0);
  assert.equal(roundHalfEven(1e20), 1e20);
});

Deno.test("formatFixed0 prints like Python %.0f", () => {
  assert.equal(formatFixed0(1e21), "1000000000000000000000");
  assert.equal(formatFixed0(-0.4), "-0");
  assert.equal(formatFixed0(Infinity), "inf");
  assert.equal(formatFixed0(-Infinity), "-inf");
  assert.equal(formatFixed0(NaN), "nan");
  assert.equal(formatFixed0(1023.5), "1024");
});
