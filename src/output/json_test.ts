import assert from "node:assert/strict";
import { isoFromCatalog, isoFromDate, renderJsonRows } from "./json.ts";
import type { FieldSpecs } from "./fields.ts";
import { BackyError } from "../util/errors.ts";

Deno.test("dates are ISO-8601 UTC with six fraction digits, whatever precision they had", () => {
  assert.equal(isoFromCatalog("2026-12-01 04:05:06.123456"), "2026-12-01T04:05:06.123456Z");
  assert.equal(isoFromCatalog("2026-12-01 04:05:06"), "2026-12-01T04:05:06.000000Z");
  assert.equal(isoFromCatalog("2026-12-01 04:05:06.5"), "2026-12-01T04:05:06.500000Z");
  assert.equal(isoFromDate(new Date(Date.UTC(2026, 11, 1, 4, 5, 6, 123))), "2026-12-01T04:05:06.123000Z");
});

Deno.test("a JSON listing has the requested fields in order, typed, one row per line", () => {
  const specs: FieldSpecs<{ n: number; ok: boolean }> = {
    n: { align: "r", value: (row) => row.n },
    ok: { align: "c", value: (row) => (row.ok ? 1 : 0), json: (row) => row.ok },
  };
  assert.equal(
    renderJsonRows(["ok", "n"], specs, [{ n: 1, ok: true }, { n: 2, ok: false }]),
    '[\n{"ok":true,"n":1},\n{"ok":false,"n":2}\n]\n',
  );
  assert.equal(renderJsonRows(["bogus"], specs, []), "[]\n");
  assert.throws(
    () => renderJsonRows(["bogus"], specs, [{ n: 1, ok: true }]),
    (e: unknown) => e instanceof BackyError && e.render() === "'bogus'",
  );
});
