/**
 * `check-store`: the differences between the catalog and the metadata in the block store, both ways, one
 * finding per version:
 *
 * - `missing`: a committed version without its header, or whose header names a page object the store lacks (a
 *   store made before metadata existed, brought over from backy2 by `migrate-catalog` before this tool wrote
 *   it, or a write that failed);
 * - `stale`: a header that says something else than the catalog (which fields differ is named), or page
 *   objects the catalog records that no longer match its blobs;
 * - `damaged`, `foreign`, `unreadable`: a header or page object that cannot be used (see load.ts), named;
 * - `orphan`: a header whose version the catalog does not have (a failed `rm`, or a catalog that lost it:
 *   `rebuild-catalog` brings it back);
 * - `ahead`: a version still in progress whose header describes it complete (a backup killed between writing
 *   its header and its commit; `backup -c` writes it again). Not a fault.
 *
 * Each distinct page object is read and checked once, however many versions share it. With `repair`, the
 * metadata of a version of the first three kinds (all but `unreadable`, which may mean the wrong key is
 * configured) is written again from the catalog: its missing or damaged page objects, then its header.
 */
import type { Version, VersionRole } from "../catalog/catalog.ts";
import { type Page, toPages } from "../catalog/block_pages.ts";
import type { BlockStore } from "../store/block_store.ts";
import { fromHex, toHex } from "./binary.ts";
import { encodeHeader, type VersionHeader } from "./header_format.ts";
import { encodePage } from "./page_format.ts";
import { headerFields, pageFromCatalog } from "./from_catalog.ts";
import { loadHeader, loadPage, type Unusable, UnusableMeta } from "./load.ts";
import { type MetaCatalog, writeObject } from "./sync.ts";

export type State = "missing" | "stale" | "damaged" | "foreign" | "unreadable" | "orphan" | "ahead";

export interface Finding {
  uid: string;
  /** The version's name (from the catalog, else from the header; empty when neither says). */
  name: string;
  state: State;
  detail: string;
  repaired: boolean;
}

/** States that are faults (`ahead` is not). */
export const FAULTS: ReadonlySet<State> = new Set(["missing", "stale", "damaged", "foreign", "unreadable", "orphan"]);
const REPAIRABLE: ReadonlySet<State> = new Set(["missing", "stale", "damaged", "foreign"]);

type CheckCatalog = MetaCatalog & Pick<VersionRole, "listVersions">;
type Parts = { catalog: CheckCatalog; store: BlockStore };

/** A problem found, most serious first when a version has several. */
interface Problem {
  state: State;
  text: string;
}

export async function checkStore(engine: Parts, repair: boolean): Promise<Finding[]> {
  const headers = new Set((await engine.store.listMeta("versions")).map((meta) => meta.name));
  const checker = new VersionChecker(engine, new Set((await engine.store.listMeta("pages")).map((meta) => meta.name)));
  const versions = await engine.catalog.listVersions();
  const findings: Finding[] = [];
  for (const version of versions) {
    const finding = await checker.check(version, headers.has(version.uid), repair);
    if (finding) findings.push(finding);
  }
  const known = new Set(versions.map((version) => version.uid));
  for (const uid of [...headers].filter((uid) => !known.has(uid)).sort()) findings.push(await orphan(engine, uid));
  return findings;
}

/** A version's metadata as the catalog says it should be. */
interface Expected {
  header: VersionHeader;
  pages: Page[];
  /** The page objects the catalog records for those pages (null: none). */
  recorded: (Uint8Array | null)[];
}

class VersionChecker {
  /** Page object name by catalog page hash (hex), computed once per distinct page. */
  private readonly names = new Map<string, string>();
  /** What is wrong with a page object (null: nothing), checked once per name. */
  private readonly pageProblems = new Map<string, Problem | null>();

  constructor(private readonly engine: Parts, private readonly storedPages: Set<string>) {}

  async check(version: Version, hasHeader: boolean, repair: boolean): Promise<Finding | null> {
    const finding = (problems: Problem[]): Finding => ({
      uid: version.uid,
      name: version.name,
      state: problems[0].state,
      detail: problems.map((problem) => problem.text).join("; "),
      repaired: false,
    });
    if (version.inProgress) {
      const text = "in progress: its header was written for a commit that did not happen";
      return hasHeader ? finding([{ state: "ahead", text }]) : null;
    }
    const expected = await this.expected(version);
    const problems = [...await this.headerProblems(version.uid, hasHeader, expected.header)];
    problems.push(...await this.pagesProblems(expected.header.pages));
    if (expected.recorded.some((object, i) => object && toHex(object) !== expected.header.pages[i])) {
      problems.push({ state: "stale", text: "the catalog records page objects that differ from its blobs" });
    }
    if (problems.length === 0) return null;
    problems.sort((a, b) => SEVERITY.indexOf(a.state) - SEVERITY.indexOf(b.state));
    const result = finding(problems);
    if (repair && problems.every((problem) => REPAIRABLE.has(problem.state))) {
      await this.repair(expected);
      result.repaired = true;
    }
    return result;
  }

  private async expected(version: Version): Promise<Expected> {
    const { catalog } = this.engine;
    const map = await catalog.blockMap(version.uid);
    const pages = await toPages(map);
    const names: string[] = [];
    for (const page of pages) {
      const key = toHex(page.hash);
      let name = this.names.get(key);
      if (name === undefined) this.names.set(key, name = encodePage(await pageFromCatalog(catalog, page.ids)).name);
      names.push(name);
    }
    const header = { ...await headerFields(catalog, version, map), pages: names };
    return { header, pages, recorded: await catalog.pageObjects(pages.map((page) => page.hash)) };
  }

  private async headerProblems(uid: string, hasHeader: boolean, expected: VersionHeader): Promise<Problem[]> {
    if (!hasHeader) return [{ state: "missing", text: `no header versions/${uid} in the data backend` }];
    let stored: VersionHeader;
    try {
      stored = await loadHeader(this.engine.store, uid);
    } catch (error) {
      if (!(error instanceof UnusableMeta)) throw error;
      return [{ state: error.kind === "missing" ? "missing" : error.kind, text: error.message }];
    }
    if (toHex(encodeHeader(expected)) === toHex(encodeHeader(stored))) return [];
    return [{
      state: "stale",
      text: `its header differs from the catalog in ${differences(expected, stored).join(", ")}`,
    }];
  }

  private async pagesProblems(names: string[]): Promise<Problem[]> {
    const problems: Problem[] = [];
    for (const name of new Set(names)) {
      if (!this.pageProblems.has(name)) this.pageProblems.set(name, await this.pageProblem(name));
      const problem = this.pageProblems.get(name);
      if (problem) problems.push(problem);
    }
    return problems;
  }

  private async pageProblem(name: string): Promise<Problem | null> {
    if (!this.storedPages.has(name)) {
      return { state: "missing", text: `no page object pages/${name} in the data backend` };
    }
    try {
      await loadPage(this.engine.store, name);
      return null;
    } catch (error) {
      if (!(error instanceof UnusableMeta)) throw error;
      return { state: error.kind as Unusable, text: error.message };
    }
  }

  /** Writes the version's missing or damaged page objects, then its header; the catalog records the pages. */
  private async repair({ header, pages }: Expected): Promise<void> {
    const { catalog, store } = this.engine;
    const written = new Set<string>();
    for (const [i, page] of pages.entries()) {
      const name = header.pages[i];
      if (this.pageProblems.get(name) === null || written.has(name)) continue;
      const encoded = encodePage(await pageFromCatalog(catalog, page.ids));
      await writeObject(store, "pages", encoded.name, encoded.bytes);
      this.pageProblems.set(name, null);
      written.add(name);
    }
    await writeObject(store, "versions", header.version.uid, encodeHeader(header));
    await catalog.setPageObjects(pages.map((page, i) => ({ hash: page.hash, object: fromHex(header.pages[i]) })));
  }
}

/** Which state a finding is named by when a version has several problems. */
const SEVERITY: State[] = ["unreadable", "foreign", "damaged", "missing", "stale"];

/** What differs between two headers of one version, by field name. */
function differences(current: VersionHeader, stored: VersionHeader): string[] {
  const fields: string[] = (Object.keys(current.version) as (keyof VersionHeader["version"])[])
    .filter((key) => JSON.stringify(current.version[key]) !== JSON.stringify(stored.version[key]));
  if (JSON.stringify(current.invalidBlobs) !== JSON.stringify(stored.invalidBlobs)) fields.push("invalid blobs");
  if (JSON.stringify(current.blockDates) !== JSON.stringify(stored.blockDates)) fields.push("block dates");
  if (JSON.stringify(current.pages) !== JSON.stringify(stored.pages)) fields.push("page objects");
  return fields;
}

async function orphan(engine: Parts, uid: string): Promise<Finding> {
  const detail = "no version in the catalog (rebuild-catalog brings it back; rm of it may have failed)";
  try {
    const header = await loadHeader(engine.store, uid);
    return { uid, name: header.version.name, state: "orphan", detail, repaired: false };
  } catch (error) {
    if (!(error instanceof UnusableMeta)) throw error;
    return { uid, name: "", state: "orphan", detail: `${detail}; ${error.message}`, repaired: false };
  }
}
