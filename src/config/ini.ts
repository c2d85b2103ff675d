/**
 * INI reading with the semantics of Python's `configparser.ConfigParser`.
 *
 * Owns: splitting a file into sections and options, comment and continuation-line handling, the
 * per-file duplicate checks, layering several files over each other, and `%(name)s` interpolation on
 * the layered view. Every value remembers the file and line it came from so errors can name them.
 */

import { BackyError, Exit } from "../util/errors.ts";

/** ConfigParser's special section whose options every other section inherits. */
export const DEFAULT_SECTION = "DEFAULT";

/** Nesting limit of `%(name)s` references, as in Python (stops reference cycles). */
const MAX_INTERPOLATION_DEPTH = 10;

export interface IniValue {
  value: string;
  file: string;
  line: number;
}

export type IniSection = Map<string, IniValue>;

export interface IniFile {
  fileName: string;
  /** Sections in file order; option names lower-cased. The `DEFAULT` section is kept here too. */
  sections: Map<string, IniSection>;
}

/** A configuration error: one line, exit code 1, no `Backy failed.` trailer. */
export function configError(message: string): BackyError {
  return new BackyError(message, { exitCode: Exit.config, bare: true });
}

/** `Configuration error in FILE, section [S], key K: PROBLEM` */
export function keyMessage(file: string, section: string, key: string, problem: string): string {
  return `Configuration error in ${file}, section [${section}], key ${key}: ${problem}`;
}

/** A configuration error about one key (see {@link keyMessage}). */
export function keyError(file: string, section: string, key: string, problem: string): BackyError {
  return configError(keyMessage(file, section, key, problem));
}

/** Option lines being read, kept as lists of lines until the file ends (Python joins them at the end). */
interface PendingOption {
  lines: string[];
  line: number;
}

class IniReader {
  readonly sections = new Map<string, Map<string, PendingOption>>();
  private readonly sectionsSeen = new Set<string>();
  private readonly optionsSeen = new Set<string>();
  private section: Map<string, PendingOption> | null = null;
  private sectionName = "";
  private option: PendingOption | null = null;
  private indentLevel = 0;

  constructor(private readonly fileName: string) {}

  readLine(raw: string, lineNo: number): void {
    const stripped = raw.trim();
    if (stripped.startsWith("#") || stripped.startsWith(";")) return;
    if (stripped === "") {
      // configparser's empty_lines_in_values: an empty line joins the value being read.
      this.option?.lines.push("");
      return;
    }
    const indent = raw.search(/\S/);
    if (this.option && indent > this.indentLevel) {
      this.option.lines.push(stripped);
      return;
    }
    this.indentLevel = indent;
    const header = /^\[(.+)\]/.exec(stripped);
    if (header) this.openSection(header[1], lineNo);
    else if (!this.section) throw this.noSectionHeader(raw, lineNo);
    else this.readOption(stripped, raw, lineNo);
  }

  private openSection(name: string, lineNo: number): void {
    if (name !== DEFAULT_SECTION && this.sectionsSeen.has(name)) {
      throw configError(
        `While reading from '${this.fileName}' [line ${pad2(lineNo)}]: section '${name}' already exists`,
      );
    }
    this.sectionsSeen.add(name);
    let section = this.sections.get(name);
    if (!section) {
      section = new Map();
      this.sections.set(name, section);
    }
    this.section = section;
    this.sectionName = name;
    this.option = null;
  }

  private readOption(stripped: string, raw: string, lineNo: number): void {
    const match = /^(.*?)\s*[=:]\s*(.*)$/.exec(stripped);
    if (!match || match[1].trim() === "") throw this.parsingError(raw, lineNo);
    const name = match[1].trimEnd().toLowerCase();
    const seenKey = `${this.sectionName}\u0000${name}`;
    if (this.optionsSeen.has(seenKey)) {
      throw configError(
        `While reading from '${this.fileName}' [line ${pad2(lineNo)}]: option '${name}' in section ` +
          `'${this.sectionName}' already exists`,
      );
    }
    this.optionsSeen.add(seenKey);
    this.option = { lines: [match[2].trim()], line: lineNo };
    this.section!.set(name, this.option);
  }

  private noSectionHeader(raw: string, lineNo: number): BackyError {
    return configError(
      `File contains no section headers. file: '${this.fileName}', line: ${lineNo}: ${pythonRepr(raw)}`,
    );
  }

  private parsingError(raw: string, lineNo: number): BackyError {
    return configError(
      `Source contains parsing errors: '${this.fileName}' [line ${pad2(lineNo)}]: ${pythonRepr(raw)}`,
    );
  }
}

function pad2(n: number): string {
  return String(n).padStart(2, " ");
}

/** Close enough to Python's `repr()` of a str for error messages. */
function pythonRepr(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** Parses one INI text. `fileName` is used in error messages and recorded on every value. */
export function parseIni(text: string, fileName: string): IniFile {
  const reader = new IniReader(fileName);
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  lines.forEach((line, index) => reader.readLine(line, index + 1));
  const sections = new Map<string, IniSection>();
  for (const [name, options] of reader.sections) {
    const section: IniSection = new Map();
    for (const [key, pending] of options) {
      section.set(key, { value: pending.lines.join("\n").trimEnd(), file: fileName, line: pending.line });
    }
    sections.set(name, section);
  }
  return { fileName, sections };
}

/** Several INI files read over each other: later files override earlier ones option by option. */
export class IniLayered {
  private readonly merged = new Map<string, IniSection>();

  constructor(readonly layers: IniFile[]) {
    for (const layer of layers) {
      for (const [name, options] of layer.sections) {
        const section = this.merged.get(name) ?? new Map<string, IniValue>();
        for (const [key, value] of options) section.set(key, value);
        this.merged.set(name, section);
      }
    }
  }

  /** Like Python's `has_section`: true for sections read from some layer, never for `DEFAULT`. */
  hasSection(name: string): boolean {
    return name !== DEFAULT_SECTION && this.merged.has(name);
  }

  /** Section names in first-seen order, without `DEFAULT`. */
  sectionNames(): string[] {
    return [...this.merged.keys()].filter((name) => name !== DEFAULT_SECTION);
  }

  /** Option names visible in a section, including those inherited from `DEFAULT`. */
  keys(section: string): string[] {
    const own = [...(this.merged.get(section)?.keys() ?? [])];
    const inherited = [...(this.merged.get(DEFAULT_SECTION)?.keys() ?? [])];
    return [...new Set([...own, ...inherited])];
  }

  /** The uninterpolated value, falling back to `DEFAULT` like Python. */
  raw(section: string, key: string): IniValue | undefined {
    const name = key.toLowerCase();
    return this.merged.get(section)?.get(name) ?? this.merged.get(DEFAULT_SECTION)?.get(name);
  }

  /** The value with `%(name)s` and `%%` resolved against the same section. */
  get(section: string, key: string): IniValue | undefined {
    const raw = this.raw(section, key);
    if (!raw) return undefined;
    const value = this.interpolate(section, key.toLowerCase(), raw, raw.value, 1);
    return { ...raw, value };
  }

  private interpolate(section: string, key: string, origin: IniValue, text: string, depth: number): string {
    if (depth > MAX_INTERPOLATION_DEPTH) {
      throw keyError(origin.file, section, key, "interpolation nests too deeply (is there a reference loop?).");
    }
    let result = "";
    let rest = text;
    while (rest !== "") {
      const percent = rest.indexOf("%");
      if (percent < 0) return result + rest;
      result += rest.slice(0, percent);
      rest = rest.slice(percent);
      if (rest.startsWith("%%")) {
        result += "%";
        rest = rest.slice(2);
        continue;
      }
      const reference = /^%\(([^)]+)\)s/.exec(rest);
      if (!reference) {
        throw keyError(origin.file, section, key, "'%' must be followed by '%' or '(' (write a literal % as %%).");
      }
      rest = rest.slice(reference[0].length);
      const target = this.raw(section, reference[1]);
      if (!target) {
        throw keyError(origin.file, section, key, `'%(${reference[1]})s' refers to no option of this section.`);
      }
      result += target.value.includes("%")
        ? this.interpolate(section, key, origin, target.value, depth + 1)
        : target.value;
    }
    return result;
  }
}

/** Layers `layers` in order; later layers override earlier ones per option. */
export function mergeIni(layers: IniFile[]): IniLayered {
  return new IniLayered(layers);
}
