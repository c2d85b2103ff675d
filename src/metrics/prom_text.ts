/**
 * The Prometheus text exposition format, as far as `backy2.prom` needs it: gauge families with at most one
 * label, written with HELP and TYPE lines and no timestamps, and read back (only what this module writes) so
 * that a command keeps the series other commands wrote.
 */

/** One gauge family: its series by label value (`""` for a family without a label). */
export interface Family {
  name: string;
  help: string;
  /** The label name, or null for a family of one unlabelled series. */
  label: string | null;
  series: Map<string, number>;
}

/** `\`, `"` and line feeds escaped, as label values must be. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** `\` and line feeds escaped, as HELP texts must be. */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** A sample value as Go's ParseFloat reads it. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(value);
}

/** The text of `families` (those without series left out), series sorted by label value, ending in `\n`. */
export function formatFamilies(families: Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.series.size === 0) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} gauge`);
    for (const key of [...family.series.keys()].sort()) {
      const labels = family.label === null ? "" : `{${family.label}="${escapeLabelValue(key)}"}`;
      lines.push(`${family.name}${labels} ${formatValue(family.series.get(key)!)}`);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\})? (\S+)$/;

/**
 * The samples of a file this module wrote: family name → label value → value. Lines it would not write
 * (other labels, timestamps) are skipped, so a hand-edited file costs only what cannot be read.
 */
export function parseSamples(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const value = Number(match[4].replace(/^\+?Inf$/, "Infinity").replace(/^-Inf$/, "-Infinity"));
    if (Number.isNaN(value) && match[4] !== "NaN") continue;
    const key = match[3] === undefined ? "" : unescapeLabelValue(match[3]);
    let series = out.get(match[1]);
    if (!series) out.set(match[1], series = new Map());
    series.set(key, value);
  }
  return out;
}

function unescapeLabelValue(text: string): string {
  return text.replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
}
