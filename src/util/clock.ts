/**
 * The current time, as every command sees it.
 *
 * Tests of time-dependent behavior (auto tags, `due`, `sla`, `ls -e`, cleanup grace periods) set
 * `BACKY2_FAKE_NOW` to an ISO-8601 UTC time; production runs never set it.
 */

export function now(): Date {
  const fake = Deno.env.get("BACKY2_FAKE_NOW");
  if (!fake) return new Date();
  const parsed = new Date(fake.endsWith("Z") ? fake : `${fake}Z`);
  if (Number.isNaN(parsed.getTime())) throw new Error(`BACKY2_FAKE_NOW is not an ISO time: ${fake}`);
  return parsed;
}

/** backy2's catalog text for a naive-UTC time: `YYYY-MM-DD HH:MM:SS.ffffff`. */
export function catalogTime(d: Date): string {
  return d.toISOString().replace("T", " ").replace("Z", "000");
}

/** Parses catalog text (`YYYY-MM-DD HH:MM:SS[.ffffff]`, naive UTC) into a Date. */
export function parseCatalogTime(text: string): Date {
  const [date, time = "00:00:00"] = text.trim().split(/[ T]/);
  const [hms, fraction = "0"] = time.split(".");
  const ms = Math.floor(Number(`0.${fraction}`) * 1000);
  return new Date(`${date}T${hms}.${String(ms).padStart(3, "0")}Z`);
}

/**
 * `%Y-%m-%d %H:%M:%S` of catalog text, as every table and dump prints dates (microseconds dropped). The year
 * is not zero-padded, as Python's strftime on Linux prints it: year 1 is `1-01-01 00:00:00`.
 */
export function displayTime(text: string): string {
  return text.slice(0, 19).replace(/^0+(?=\d)/, "");
}
