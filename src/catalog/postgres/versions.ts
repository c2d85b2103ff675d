/**
 * PostgreSQL versions and tags.
 */
import type { Version, VersionFilter, VersionRole } from "../catalog.ts";
import { versionNotFound } from "../../util/errors.ts";
import { catalogTime, now } from "../../util/clock.ts";
import { newVersionUid } from "../../util/ids.ts";
import { unpackIds } from "../block_pages.ts";
import { run, type Runner } from "./connect.ts";
import type { PgScope } from "./scope.ts";
import { toVersion, VERSION_COLUMNS, type VersionRow } from "../rows.ts";

/** Byte-wise order, as SQLite sorts text. */
const BY_NAME_DATE = 'ORDER BY name COLLATE "C", date COLLATE "C"';
import { releasePages } from "./block_maps.ts";
import { recordDeleteCandidates } from "./cleanup.ts";

export function versionRole(scope: PgScope): VersionRole {
  const update = (text: string, ...params: unknown[]) =>
    scope.write(async (sql) => {
      await run(sql, text, params);
    });
  return {
    listVersions: (filter = {}) => scope.read((sql) => listVersions(sql, filter)),
    getVersion: (uid) => scope.read((sql) => getVersion(sql, uid)),
    createVersion: (version) =>
      scope.write(async (sql) => {
        const date = now();
        const uid = newVersionUid(date);
        await run(
          sql,
          "INSERT INTO versions (uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, draft, " +
            "block_size, hash_function) VALUES ($1, $2, NULL, $3, $4, $5, $6, false, false, '\\x'::bytea, $7, $8)",
          [
            uid,
            catalogTime(date),
            version.name,
            version.snapshotName,
            version.size,
            version.sizeBytes,
            version.blockSize,
            version.hashFunction,
          ],
        );
        return await getVersion(sql, uid);
      }),
    setVersionValid: (uid, valid) => update("UPDATE versions SET valid = $1 WHERE uid = $2", valid, uid),
    setExpire: (uid, expire) =>
      scope.write(async (sql) => {
        await getVersion(sql, uid);
        await run(sql, "UPDATE versions SET expire = $1 WHERE uid = $2", [expire, uid]);
      }),
    setProtected: (uid, value) => update("UPDATE versions SET protected = $1 WHERE uid = $2", value, uid),
    addTags: (uid, tags) =>
      update(
        "INSERT INTO tags (version_uid, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
        uid,
        tags,
      ),
    removeTags: (uid, tags) => update("DELETE FROM tags WHERE version_uid = $1 AND name = ANY($2::text[])", uid, tags),
    removeVersion: (uid) => scope.write((sql) => removeVersion(sql, uid)),
  };
}

async function listVersions(sql: Runner, filter: VersionFilter): Promise<Version[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (condition: string, value: unknown) => {
    params.push(value);
    where.push(condition.replace("?", `$${params.length}`));
  };
  if (filter.name !== undefined) add("name = ?", filter.name);
  if (filter.snapshotName !== undefined) add("snapshot_name = ?", filter.snapshotName);
  if (filter.tag !== undefined) add("uid IN (SELECT version_uid FROM tags WHERE name = ?)", filter.tag);
  if (filter.expiredBefore !== undefined) add('expire IS NOT NULL AND expire COLLATE "C" < ?', filter.expiredBefore);
  const rows = await run<VersionRow>(
    sql,
    `SELECT ${VERSION_COLUMNS} FROM versions ${where.length ? "WHERE " + where.join(" AND ") : ""} ${BY_NAME_DATE}`,
    params,
  );
  const tags = new Map<string, string[]>();
  for (
    const row of await run<{ version_uid: string; name: string }>(
      sql,
      'SELECT version_uid, name FROM tags ORDER BY name COLLATE "C"',
    )
  ) {
    const list = tags.get(row.version_uid) ?? [];
    list.push(row.name);
    tags.set(row.version_uid, list);
  }
  return rows.map((row) => toVersion(row, tags.get(row.uid) ?? []));
}

export async function getVersion(sql: Runner, uid: string): Promise<Version> {
  const [row] = await run<VersionRow>(sql, `SELECT ${VERSION_COLUMNS} FROM versions WHERE uid = $1`, [uid]);
  if (!row) throw versionNotFound(uid);
  const tags = await run<{ name: string }>(
    sql,
    'SELECT name FROM tags WHERE version_uid = $1 ORDER BY name COLLATE "C"',
    [uid],
  );
  return toVersion(row, tags.map((tag) => tag.name));
}

async function removeVersion(sql: Runner, uid: string): Promise<number> {
  const [row] = await run<{ pages: Uint8Array | null; draft: Uint8Array | null }>(
    sql,
    "SELECT pages, draft FROM versions WHERE uid = $1 FOR UPDATE",
    [uid],
  );
  if (!row) throw versionNotFound(uid);
  const draft = row.draft ? unpackIds(row.draft) : new Uint32Array(0);
  const { released, blocks } = await releasePages(sql, row.pages ? unpackIds(row.pages) : new Uint32Array(0));
  const claimed = await run<{ ref_id: number }>(sql, "DELETE FROM claims WHERE version_uid = $1 RETURNING ref_id", [
    uid,
  ]);
  await run(sql, "DELETE FROM versions WHERE uid = $1", [uid]);
  await recordDeleteCandidates(sql, [...released.keys(), ...claimed.map((claim) => claim.ref_id), ...draft]);
  return blocks + draft.filter((id) => id !== 0).length;
}
