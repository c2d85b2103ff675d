/**
 * A version's layout: the block size that cut it into blocks and the hash function that checksummed them.
 *
 * Both are recorded per version when it is made, so that changing `block_size` or `hash_function` in the
 * configuration never restores, scrubs, continues or bases a backup on a version with the wrong ones (which
 * would write blocks at wrong offsets, or find every checksum wrong and invalidate every shared blob).
 * Versions recorded before the catalog kept them (imported from dumps or migrated from backy2) were made
 * with the configured values; their block count is checked against the configured block size, so a wrong
 * one is an error instead of a wrong image.
 */
import type { Version } from "../catalog/catalog.ts";
import { BackyError } from "../util/errors.ts";
import type { Engine, EngineSettings } from "./engine.ts";

export interface Layout {
  blockSize: number;
  hashFunction: string;
}

/** The layout `version` was made with. Throws when its block count does not fit the block size. */
export function layoutOf(version: Version, settings: EngineSettings): Layout {
  const layout = {
    blockSize: version.blockSize ?? settings.blockSize,
    hashFunction: version.hashFunction ?? settings.hashFunction,
  };
  if (version.size !== Math.ceil(version.sizeBytes / layout.blockSize)) {
    const origin = version.blockSize === null ? "the configured block_size" : "its recorded block size";
    throw new BackyError(
      `Version ${version.uid} has ${version.size} blocks for ${version.sizeBytes} bytes, which does not fit ` +
        `${origin} of ${layout.blockSize} bytes; set block_size to the one it was made with.`,
    );
  }
  return layout;
}

/** True when the configuration makes versions with this layout. */
export function isConfiguredLayout(layout: Layout, settings: EngineSettings): boolean {
  return layout.blockSize === settings.blockSize && layout.hashFunction === settings.hashFunction;
}

/** The engine as it must work on `version`: with its block size and hash function. */
export function engineFor<E extends Pick<Engine, "settings" | "hasher">>(engine: E, version: Version): E {
  const layout = layoutOf(version, engine.settings);
  if (isConfiguredLayout(layout, engine.settings)) return engine;
  return {
    ...engine,
    settings: { ...engine.settings, ...layout },
    hasher: () => engine.hasher(layout.hashFunction),
  };
}
