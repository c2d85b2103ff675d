/** Tests for date texts; every expected error text was produced by CPython 3.11's strptime. */

import assert from "node:assert/strict";
import { BackyError } from "../util/errors.ts";
import {
  displayCatalogDateTime,
  formatCatalogDateTime,
  formatDate,
  formatDateTime,
  parseCatalogDateTime,
  parseExpire,
  strptime,
  utcDate,
} from "./dates.ts";

Deno.test("formatDateTime and formatDate use the UTC fields", () => {
  const d = new Date(Date.UTC(2026, 10, 26, 15, 4, 52, 82));
  assert.equal(formatDateTime(d), "2026-11-26 15:04:52");
  assert.equal(formatDate(d), "2026-11-26");
});

Deno.test("formatDateTime leaves early years unpadded like glibc strftime", () => {
  assert.equal(formatDateTime(utcDate(1, 2, 3, 4, 5, 6)), "1-02-03 04:05:06");
  assert.equal(formatDate(utcDate(999, 1, 1)), "999-01-01");
});

Deno.test("parseExpire accepts the three formats as UTC", () => {
  assert.deepEqual(parseExpire("2021-03-04 05:06:07"), utcDate(2021, 3, 4, 5, 6, 7));
  assert.deepEqual(parseExpire("2021-03-04T05:06:07"), utcDate(2021, 3, 4, 5, 6, 7));
  assert.deepEqual(parseExpire("2021-03-04"), utcDate(2021, 3, 4));
});

Deno.test("parseExpire accepts what Python's strptime accepts", () => {
  assert.deepEqual(parseExpire("2020-1-1"), utcDate(2020, 1, 1));
  assert.deepEqual(parseExpire("2020-01- 1"), utcDate(2020, 1, 1));
  assert.deepEqual(parseExpire("2020-1-1 1:2:3"), utcDate(2020, 1, 1, 1, 2, 3));
  assert.deepEqual(parseExpire("2020-01-01t10:00:00"), utcDate(2020, 1, 1, 10));
  assert.deepEqual(parseExpire("2020-01-01   10:00:00"), utcDate(2020, 1, 1, 10));
  assert.deepEqual(parseExpire("2020-01-01\x0b10:00:00"), utcDate(2020, 1, 1, 10));
  assert.deepEqual(parseExpire("2020-01-01\x1c10:00:00"), utcDate(2020, 1, 1, 10));
  assert.deepEqual(parseExpire("2020-02-29"), utcDate(2020, 2, 29));
  assert.deepEqual(parseExpire("0001-01-01"), utcDate(1, 1, 1));
});

Deno.test("parseExpire reads any Unicode decimal digit where Python's \\d is used", () => {
  assert.deepEqual(parseExpire("\u0662\u0660\u0662\u0660-01-01"), utcDate(2020, 1, 1));
  assert.deepEqual(parseExpire("\u{1D7D0}\u{1D7CE}\u{1D7D0}\u{1D7CE}-01-01"), utcDate(2020, 1, 1));
  assert.deepEqual(parseExpire("\u{1D7E4}\u{1D7E2}\u{1D7E4}\u{1D7E9}-01-01"), utcDate(2027, 1, 1));
  assert.deepEqual(parseExpire("2020-01-01T10:0\u0669:00"), utcDate(2020, 1, 1, 10, 9));
});

/** The message parseExpire refuses `input` with; it must be a bare BackyError with exit code 1. */
function expireError(input: string): string {
  try {
    parseExpire(input);
  } catch (error) {
    assert.ok(error instanceof BackyError, String(error));
    assert.deepEqual([error.exitCode, error.bare, error.quoted], [1, true, false]);
    return error.message;
  }
  assert.fail(`parseExpire accepted ${JSON.stringify(input)}`);
}

Deno.test("parseExpire reports a non-date with the last format's text", () => {
  assert.equal(expireError("foo"), "time data 'foo' does not match format '%Y-%m-%d'");
  assert.equal(expireError(""), "time data '' does not match format '%Y-%m-%d'");
  assert.equal(expireError(" 2020-01-01"), "time data ' 2020-01-01' does not match format '%Y-%m-%d'");
  assert.equal(expireError("2020-13-01"), "time data '2020-13-01' does not match format '%Y-%m-%d'");
  assert.equal(expireError("it's"), `time data "it's" does not match format '%Y-%m-%d'`);
  assert.equal(expireError("\x1c2020-01-01"), "time data '\\x1c2020-01-01' does not match format '%Y-%m-%d'");
  assert.equal(
    expireError("\u0662\u0660\u0662\u0660-\u0660\u0661-\u0660\u0661"),
    "time data '\u0662\u0660\u0662\u0660-\u0660\u0661-\u0660\u0661' does not match format '%Y-%m-%d'",
  );
});

Deno.test("parseExpire reports trailing text as unconverted data", () => {
  assert.equal(expireError("2020-01-01x"), "unconverted data remains: x");
  assert.equal(expireError("2020-01-01 10:00"), "unconverted data remains:  10:00");
  assert.equal(expireError("2020-01-01 "), "unconverted data remains:  ");
  assert.equal(expireError("2020-01-32"), "unconverted data remains: 2");
  assert.equal(expireError("2020-01-01 10:00:60"), "unconverted data remains:  10:00:60");
  assert.equal(expireError("2020-01-01 24:00:00"), "unconverted data remains:  24:00:00");
  assert.equal(expireError("2020-01-01T10:00:61"), "unconverted data remains: T10:00:61");
  assert.equal(expireError("2020-01-01 10:00:00\n"), "unconverted data remains:  10:00:00\n");
  assert.equal(expireError("2020-01-01\ufeff10:00:00"), "unconverted data remains: \ufeff10:00:00");
  assert.equal(expireError("2020-01-01\u3000\u200a10:00"), "unconverted data remains: \u3000\u200a10:00");
});

Deno.test("parseExpire reports impossible dates like Python's date()", () => {
  assert.equal(expireError("2020-02-30"), "day is out of range for month");
  assert.equal(expireError("2019-02-29"), "day is out of range for month");
  assert.equal(expireError("2100-02-29"), "day is out of range for month");
  assert.equal(expireError("0000-01-01"), "year 0 is out of range");
  assert.equal(expireError("0000-02-30"), "year 0 is out of range");
});

Deno.test("strptime reports every error of a single format", () => {
  assert.equal(strptime("2020-01-01 10:00:61", "%Y-%m-%d %H:%M:%S"), "second must be in 0..59");
  assert.equal(
    strptime("2020-01-01", "%Y-%m-%dT%H:%M:%S"),
    "time data '2020-01-01' does not match format '%Y-%m-%dT%H:%M:%S'",
  );
  assert.equal(strptime("2020-01-01 10:00:00\n", "%Y-%m-%d %H:%M:%S"), "unconverted data remains: \n");
});

Deno.test("parseCatalogDateTime reads SQLite DATETIME texts", () => {
  assert.deepEqual(parseCatalogDateTime("2026-11-26 15:04:52.082034"), new Date(Date.UTC(2026, 10, 26, 15, 4, 52, 82)));
  assert.deepEqual(parseCatalogDateTime("2026-11-26 15:04:52"), new Date(Date.UTC(2026, 10, 26, 15, 4, 52)));
  assert.deepEqual(parseCatalogDateTime("2020-01-02 03:04:05.000000"), utcDate(2020, 1, 2, 3, 4, 5));
  assert.deepEqual(parseCatalogDateTime("2020-01-02 03:04:05.5"), utcDate(2020, 1, 2, 3, 4, 5, 500));
  assert.deepEqual(parseCatalogDateTime("2020-01-02"), utcDate(2020, 1, 2));
  assert.deepEqual(parseCatalogDateTime("0001-01-01 00:00:00.000000"), utcDate(1, 1, 1));
});

Deno.test("parseCatalogDateTime rejects other texts like SQLAlchemy", () => {
  assert.throws(() => parseCatalogDateTime("yesterday"), {
    name: "BackyError",
    message: "Couldn't parse datetime string: 'yesterday'",
  });
});

Deno.test("formatCatalogDateTime writes six fractional digits", () => {
  assert.equal(formatCatalogDateTime(new Date(Date.UTC(2026, 10, 26, 15, 4, 52, 82))), "2026-11-26 15:04:52.082000");
  assert.equal(formatCatalogDateTime(utcDate(2020, 1, 2, 3, 4, 5)), "2020-01-02 03:04:05.000000");
  assert.equal(formatCatalogDateTime(utcDate(1, 1, 1)), "0001-01-01 00:00:00.000000");
});

Deno.test("displayCatalogDateTime drops the microseconds", () => {
  assert.equal(displayCatalogDateTime("2026-11-26 15:04:52.082034"), "2026-11-26 15:04:52");
  assert.equal(displayCatalogDateTime("2021-03-04 05:06:07.000000"), "2021-03-04 05:06:07");
});
