/**
 * `check-store`: the differences between the catalog and the metadata objects in the block store, both ways.
 *
 * - `missing`: a committed version without an object (a store made before objects existed, or brought over
 *   from backy2 by `migrate-catalog` before this tool wrote them, or a write that failed);
 * - `stale`: an object that says something else than the catalog (which fields differ is named);
 * - `damaged`, `foreign`, `unreadable`: an object at a version's name that cannot be used (see load.ts);
 * - `orphan`: an object whose version the catalog does not have (a failed `rm`, or a catalog that lost it:
 *   `rebuild-catalog` brings it back);
 * - `ahead`: a version still in progress whose object describes it complete (a backup killed between writing
 *   the object and its commit; `backup -c` writes it again). Not a fault.
 *
 * With `repair`, the objects of the first three kinds of a version (all but `unreadable`, which may mean the
 * wrong key is configured) are written again from the catalog.
 */
import { Buffer } from "node:buffer";
import type { Engine } from "../engine/engine.ts";
import type { Version } from "../catalog/catalog.ts";
import { encodeMeta, type VersionMeta } from "./format.ts";
import { metaOfVersion } from "./from_catalog.ts";
import { loadMeta, UnusableMeta } from "./load.ts";
import { storeMeta } from "./sync.ts";

export type State = "missing" | "stale" | "damaged" | "foreign" | "unreadable" | "orphan" | "ahead";

export interface Finding {
  uid: string;
  /** The version's name (from the catalog, else from the object; empty when neither says). */
  name: string;
  state: State;
  detail: string;
  repaired: boolean;
}

/** States that are faults (`ahead` is not). */
export const FAULTS: ReadonlySet<State> = new Set(["missing", "stale", "damaged", "foreign", "unreadable", "orphan"]);
const REPAIRABLE: ReadonlySet<State> = new Set(["missing", "stale", "damaged", "foreign"]);

type Parts = Pick<Engine, "catalog" | "store">;

export async function checkStore(engine: Parts, repair: boolean): Promise<Finding[]> {
  const objects = new Set(await engine.store.listMeta());
  const versions = engine.catalog.listVersions();
  const findings: Finding[] = [];
  for (const version of versions) {
    const finding = await checkVersion(engine, version, objects.has(version.uid));
    if (!finding) continue;
    if (repair && REPAIRABLE.has(finding.state)) {
      await storeMeta(engine.store, metaOfVersion(engine.catalog, version.uid));
      finding.repaired = true;
    }
    findings.push(finding);
  }
  const known = new Set(versions.map((version) => version.uid));
  for (const name of [...objects].filter((name) => !known.has(name)).sort()) findings.push(await orphan(engine, name));
  return findings;
}

async function checkVersion(engine: Parts, version: Version, hasObject: boolean): Promise<Finding | null> {
  const finding = (state: State, detail: string): Finding => ({
    uid: version.uid,
    name: version.name,
    state,
    detail,
    repaired: false,
  });
  if (version.inProgress) {
    return hasObject ? finding("ahead", "in progress: its object was written for a commit that did not happen") : null;
  }
  if (!hasObject) return finding("missing", "no metadata object in the data backend");
  let stored: VersionMeta;
  try {
    stored = await loadMeta(engine.store, version.uid);
  } catch (error) {
    if (!(error instanceof UnusableMeta)) throw error;
    return finding(error.kind === "missing" ? "missing" : error.kind, error.message);
  }
  const current = metaOfVersion(engine.catalog, version.uid);
  if (Buffer.compare(await encodeMeta(current), await encodeMeta(stored)) === 0) return null;
  return finding("stale", `differs from the catalog in ${differences(current, stored).join(", ")}`);
}

/** What differs between two objects of one version, by field name. */
function differences(current: VersionMeta, stored: VersionMeta): string[] {
  const fields: string[] = (Object.keys(current.version) as (keyof VersionMeta["version"])[])
    .filter((key) => JSON.stringify(current.version[key]) !== JSON.stringify(stored.version[key]));
  if (JSON.stringify(current.blobs) !== JSON.stringify(stored.blobs)) fields.push("blobs");
  if (Buffer.compare(bytesOf(current.map), bytesOf(stored.map)) !== 0) fields.push("block map");
  if (JSON.stringify(current.blockDates) !== JSON.stringify(stored.blockDates)) fields.push("block dates");
  return fields;
}

function bytesOf(map: Uint32Array): Buffer {
  return Buffer.from(map.buffer, map.byteOffset, map.byteLength);
}

async function orphan(engine: Parts, name: string): Promise<Finding> {
  const detail = "no version in the catalog (rebuild-catalog brings it back; rm of it may have failed)";
  try {
    const meta = await loadMeta(engine.store, name);
    return { uid: name, name: meta.version.name, state: "orphan", detail, repaired: false };
  } catch (error) {
    if (!(error instanceof UnusableMeta)) throw error;
    return { uid: name, name: "", state: "orphan", detail: `${detail}; ${error.message}`, repaired: false };
  }
}
