/**
 * Tests for the `du` computation: hand-computed cases, and every version of the backy2 2.13.8 fixture catalog
 * against the reference's captured `du` output.
 */
import { DatabaseSync } from "node:sqlite";
import assert from "node:assert/strict";
import { type Usage, type UsageBlock, versionUsage } from "./usage.ts";
import { fixtureDir } from "../../tests/fixture_path.ts";

const counts = (table: Record<string, number>) => (uid: string) => table[uid] ?? 0;

function usage(
  real: number,
  nul: number,
  dedupOwn: number,
  dedupOthers: number,
  individual: number,
  estSpace: number,
  estSpaceFreed: number,
): Usage {
  // Without stored sizes, a blob counts its plain size in the stored columns too.
  const stored = { stored: real, estStored: estSpace, estStoredFreed: estSpaceFreed };
  return { real, null: nul, dedupOwn, dedupOthers, individual, estSpace, estSpaceFreed, ...stored };
}

Deno.test("du of a version without blocks is all zero", () => {
  assert.deepEqual(versionUsage([], counts({})), usage(0, 0, 0, 0, 0, 0, 0));
});

Deno.test("du counts sparse blocks as Null only", () => {
  const blocks: UsageBlock[] = [{ uid: null, size: 4096 }, { uid: null, size: 100 }];
  assert.deepEqual(versionUsage(blocks, counts({})), usage(0, 4196, 0, 0, 0, 0, 0));
});

Deno.test("du splits blobs into individual, own duplicates and shared ones", () => {
  const blocks: UsageBlock[] = [
    { uid: "a", size: 4096 }, // only here: Individual, freed
    { uid: "b", size: 4096 }, // twice here, nowhere else: Dedup Own once, freed once
    { uid: "b", size: 4096 },
    { uid: "c", size: 4096 }, // once here, twice elsewhere: Dedup Others
    { uid: "d", size: 1000 }, // twice here, once elsewhere: Dedup Others twice
    { uid: "d", size: 1000 },
    { uid: null, size: 4096 },
  ];
  const result = versionUsage(blocks, counts({ a: 1, b: 2, c: 3, d: 3 }));
  // Est. Space counts each (blob, size) group once: 4096/1 + 4096/2 + 4096/3 + 1000/3 = 7842.67 → 7843
  assert.deepEqual(result, usage(4096 * 4 + 2000, 4096, 4096, 4096 + 2000, 4096, 7843, 8192));
});

Deno.test("du's stored columns count each blob's stored size like Real, Est. Space and Est. Space freed", () => {
  const blocks: UsageBlock[] = [
    { uid: "a", size: 4096, storedSize: 1000 }, // only here, once
    { uid: "b", size: 4096, storedSize: 3000 }, // twice here, once elsewhere
    { uid: "b", size: 4096, storedSize: 3000 },
    { uid: "c", size: 4096, storedSize: null }, // unknown: its plain size
    { uid: null, size: 4096, storedSize: null },
  ];
  const result = versionUsage(blocks, counts({ a: 1, b: 3, c: 1 }));
  assert.deepEqual([result.stored, result.estStored, result.estStoredFreed], [
    1000 + 6000 + 4096,
    1000 + 1000 + 4096,
    5096,
  ]);
  assert.deepEqual([result.real, result.estSpace, result.estSpaceFreed], [4 * 4096, 4096 + 1365 + 4096, 8192]);
});

Deno.test("du rounds Est. Space half to even at the end", () => {
  // 1/2 + 2/2 = 1.5 → 2; 5/2 = 2.5 → 2
  assert.equal(versionUsage([{ uid: "a", size: 1 }, { uid: "b", size: 2 }], counts({ a: 2, b: 2 })).estSpace, 2);
  assert.equal(versionUsage([{ uid: "a", size: 5 }], counts({ a: 2 })).estSpace, 2);
});

Deno.test("du groups by blob uid and size", () => {
  // The same uid with two sizes forms two groups, each compared with the uid's total use.
  const result = versionUsage([{ uid: "a", size: 10 }, { uid: "a", size: 20 }], counts({ a: 2 }));
  assert.deepEqual(result, usage(30, 0, 0, 30, 0, 15, 0));
});

Deno.test({
  name: "du of every fixture version equals the reference's output",
  fn() {
    const fixture = fixtureDir();
    const db = new DatabaseSync(`${fixture}/backy.sqlite`, { readOnly: true });
    try {
      const uses = new Map(
        (db.prepare("SELECT uid, count(*) AS n FROM blocks WHERE uid IS NOT NULL GROUP BY uid").all() as {
          uid: string;
          n: number;
        }[]).map((row) => [row.uid, row.n]),
      );
      const versions = db.prepare("SELECT uid FROM versions ORDER BY name, date").all() as { uid: string }[];
      const blocksOf = db.prepare("SELECT uid, size FROM blocks WHERE version_uid = ? ORDER BY id");
      const lines = versions.map(({ uid }) => {
        const u = versionUsage(blocksOf.all(uid) as unknown as UsageBlock[], (blob) => uses.get(blob) ?? 0);
        return [u.real, u.null, u.dedupOwn, u.dedupOthers, u.individual, u.estSpace, u.estSpaceFreed].join("|");
      });
      assert.deepEqual(lines.join("\n") + "\n", Deno.readTextFileSync(`${fixture}/golden/du_ms_all.stdout`));
    } finally {
      db.close();
    }
  },
});
