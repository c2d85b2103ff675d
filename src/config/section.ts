/**
 * Typed access to one section of the layered configuration.
 *
 * Owns: turning raw option strings into integers, booleans and paths, applying code defaults for
 * optional keys, and phrasing the one-line errors that name the file, section and key at fault.
 */

import { isAbsolute, join, resolve } from "../util/paths.ts";
import type { BackyError } from "../util/errors.ts";
import { type IniLayered, keyError } from "./ini.ts";

/** Read access to one configuration section; values are interpolated. */
export interface ConfigSection {
  readonly name: string;
  /** The value, or undefined when no layer sets it. */
  get(key: string): string | undefined;
  /** The file the value came from, or undefined when no layer sets it. */
  file(key: string): string | undefined;
  /** The value; a config error when absent. */
  require(key: string): string;
  /** An integer from `min` to `max`; `fallback` when absent (absent without fallback is an error). */
  integer(key: string, rule: IntegerRule): number;
  /** A ConfigParser boolean (1/yes/true/on, 0/no/false/off); `fallback` when absent. */
  boolean(key: string, fallback: boolean): boolean;
  /** A path with `~` expanded and made absolute against the working directory; empty stays empty. */
  path(key: string, fallback?: string): string;
  /** A config error about `key`, naming the file that set it (or should have). */
  error(key: string, problem: string): BackyError;
}

export interface IntegerRule {
  min: number;
  max?: number;
  fallback?: number;
}

/** Where relative and `~` paths point. */
export interface PathBase {
  home: string;
  cwd: string;
}

const BOOLEAN_WORDS = new Map<string, boolean>([
  ["1", true],
  ["yes", true],
  ["true", true],
  ["on", true],
  ["0", false],
  ["no", false],
  ["false", false],
  ["off", false],
]);

/** Expands a leading `~` and resolves against `base.cwd`; the empty string stays empty. */
export function expandPath(value: string, base: PathBase): string {
  if (value === "") return value;
  let path = value;
  if (path === "~") path = base.home;
  else if (path.startsWith("~/")) path = join(base.home, path.slice(2));
  return isAbsolute(path) ? path : resolve(base.cwd, path);
}

/** Parses a Python-`int()`-like decimal; undefined when it is not one. */
export function parseInteger(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text.trim())) return undefined;
  const value = Number(text.trim());
  return Number.isSafeInteger(value) ? value : undefined;
}

export class LayeredSection implements ConfigSection {
  constructor(
    readonly name: string,
    private readonly ini: IniLayered,
    /** Named in "missing" errors: the file where the key should have been. */
    private readonly missingFile: string,
    private readonly base: PathBase,
  ) {}

  get(key: string): string | undefined {
    return this.ini.get(this.name, key)?.value;
  }

  file(key: string): string | undefined {
    return this.ini.raw(this.name, key)?.file;
  }

  require(key: string): string {
    const value = this.get(key);
    if (value === undefined) throw this.error(key, "missing.");
    return value;
  }

  integer(key: string, rule: IntegerRule): number {
    const text = this.get(key);
    if (text === undefined && rule.fallback !== undefined) return rule.fallback;
    const raw = this.require(key);
    const value = parseInteger(raw);
    if (value === undefined) throw this.error(key, `'${raw}' is not an integer.`);
    if (value < rule.min) throw this.error(key, `'${raw}' must be at least ${rule.min}.`);
    if (rule.max !== undefined && value > rule.max) throw this.error(key, `'${raw}' must be at most ${rule.max}.`);
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const text = this.get(key);
    if (text === undefined) return fallback;
    const value = BOOLEAN_WORDS.get(text.toLowerCase());
    if (value === undefined) {
      throw this.error(key, `'${text}' is not a boolean (use 1/yes/true/on or 0/no/false/off).`);
    }
    return value;
  }

  path(key: string, fallback?: string): string {
    const text = this.get(key) ?? fallback;
    return expandPath(text ?? this.require(key), this.base);
  }

  error(key: string, problem: string): BackyError {
    return keyError(this.file(key) ?? this.missingFile, this.name, key, problem);
  }
}
