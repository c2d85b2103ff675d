/**
 * SQLite versions and tags.
 */
import type { Version, VersionFilter, VersionRole } from "../catalog.ts";
import { versionNotFound } from "../../util/errors.ts";
import { catalogTime, now } from "../../util/clock.ts";
import { newVersionUid } from "../../util/ids.ts";
import { unpackIds } from "../block_pages.ts";
import type { SqliteConnection, SqliteScope } from "./scope.ts";
import { toVersion, VERSION_COLUMNS, type VersionRow } from "../rows.ts";
import { releasePages } from "./block_maps.ts";
import { recordDeleteCandidates } from "./cleanup.ts";

export function versionRole(scope: SqliteScope): VersionRole {
  return {
    listVersions: (filter = {}) => scope.read((conn) => listVersionsSync(conn, filter)),
    getVersion: (uid) => scope.read((conn) => getVersionSync(conn, uid)),
    createVersion: (version) =>
      scope.write((conn) => {
        const date = now();
        const uid = newVersionUid(date);
        conn.stmt(
          "INSERT INTO versions (uid, date, expire, name, snapshot_name, size, size_bytes, valid, protected, " +
            "draft, block_size, hash_function) VALUES (?, ?, NULL, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
        ).run(
          uid,
          catalogTime(date),
          version.name,
          version.snapshotName,
          version.size,
          version.sizeBytes,
          new Uint8Array(0),
          version.blockSize,
          version.hashFunction,
        );
        return getVersionSync(conn, uid);
      }),
    setVersionValid: (uid, valid) => update(scope, "UPDATE versions SET valid = ? WHERE uid = ?", valid ? 1 : 0, uid),
    setExpire: (uid, expire) =>
      scope.write((conn) => {
        getVersionSync(conn, uid);
        conn.stmt("UPDATE versions SET expire = ? WHERE uid = ?").run(expire, uid);
      }),
    setProtected: (uid, value) => update(scope, "UPDATE versions SET protected = ? WHERE uid = ?", value ? 1 : 0, uid),
    addTags: (uid, tags) =>
      scope.write((conn) => {
        const insert = conn.stmt("INSERT OR IGNORE INTO tags (version_uid, name) VALUES (?, ?)");
        for (const tag of tags) insert.run(uid, tag);
      }),
    removeTags: (uid, tags) =>
      scope.write((conn) => {
        const remove = conn.stmt("DELETE FROM tags WHERE version_uid = ? AND name = ?");
        for (const tag of tags) remove.run(uid, tag);
      }),
    removeVersion: (uid) => scope.write((conn) => removeVersionSync(conn, uid)),
  };
}

function update(scope: SqliteScope, sql: string, ...params: (string | number)[]): Promise<void> {
  return scope.write((conn) => {
    conn.stmt(sql).run(...params);
  });
}

function listVersionsSync(conn: SqliteConnection, filter: VersionFilter): Version[] {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (filter.name !== undefined) where.push("name = ?"), params.push(filter.name);
  if (filter.snapshotName !== undefined) where.push("snapshot_name = ?"), params.push(filter.snapshotName);
  if (filter.tag !== undefined) {
    where.push("uid IN (SELECT version_uid FROM tags WHERE name = ?)"), params.push(filter.tag);
  }
  if (filter.expiredBefore !== undefined) {
    where.push("expire IS NOT NULL AND expire < ?"), params.push(filter.expiredBefore);
  }
  const sql = `SELECT ${VERSION_COLUMNS} FROM versions ${where.length ? "WHERE " + where.join(" AND ") : ""} ` +
    "ORDER BY name, date";
  const rows = conn.stmt(sql).all(...params) as unknown as VersionRow[];
  const tags = allTags(conn);
  return rows.map((row) => toVersion(row, tags.get(row.uid) ?? []));
}

function allTags(conn: SqliteConnection): Map<string, string[]> {
  const tags = new Map<string, string[]>();
  const rows = conn.stmt("SELECT version_uid, name FROM tags ORDER BY name").all() as {
    version_uid: string;
    name: string;
  }[];
  for (const row of rows) {
    const list = tags.get(row.version_uid) ?? [];
    list.push(row.name);
    tags.set(row.version_uid, list);
  }
  return tags;
}

export function getVersionSync(conn: SqliteConnection, uid: string): Version {
  const row = conn.stmt(`SELECT ${VERSION_COLUMNS} FROM versions WHERE uid = ?`).get(uid) as VersionRow | undefined;
  if (!row) throw versionNotFound(uid);
  const tags = (conn.stmt("SELECT name FROM tags WHERE version_uid = ? ORDER BY name").all(uid) as {
    name: string;
  }[]).map((r) => r.name);
  return toVersion(row, tags);
}

function removeVersionSync(conn: SqliteConnection, uid: string): number {
  const row = conn.stmt("SELECT pages, draft FROM versions WHERE uid = ?").get(uid) as
    | { pages: Uint8Array | null; draft: Uint8Array | null }
    | undefined;
  if (!row) throw versionNotFound(uid);
  const draft = row.draft ? unpackIds(row.draft) : new Uint32Array(0);
  const { released, blocks } = releasePages(conn, row.pages ? unpackIds(row.pages) : new Uint32Array(0));
  const claimed = (conn.stmt("SELECT ref_id FROM claims WHERE version_uid = ?").all(uid) as { ref_id: number }[])
    .map((claim) => claim.ref_id);
  conn.stmt("DELETE FROM claims WHERE version_uid = ?").run(uid);
  recordDeleteCandidates(conn, [...released.keys(), ...claimed, ...draft]);
  conn.stmt("DELETE FROM versions WHERE uid = ?").run(uid);
  return blocks + draft.filter((id) => id !== 0).length;
}
