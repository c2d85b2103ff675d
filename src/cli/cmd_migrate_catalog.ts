/**
 * `backy2 migrate-catalog ENGINE`: copies every version (tags, expire with its time, valid and protected
 * flags, per-block dates and encryption fields) and every stats row of another catalog into this tool's
 * configured catalog, in one transaction: a backy2 2.13.8 catalog (`sqlite:////abs/path`,
 * `sqlite:///relative/path` or a `postgresql://` URL), or a catalog of this tool in an SQLite file (to move it
 * into PostgreSQL). The old catalog is only read and stays untouched; the blobs stay where they are (point
 * the DataBackend path at the old data directory). Each version's metadata objects are written to the block
 * store before it is added.
 *
 * Versions this catalog has already are skipped with a WARNING, and so are their stats rows, so the command
 * can be run again after new backy2 backups.
 */
import type { CommandContext } from "./context.ts";
import type { ImportedVersion, StatsRole, StatsRow, VersionRole } from "../catalog/catalog.ts";
import { type MigrationSource, openMigrationSource } from "../catalog/migration_sources.ts";
import { type ImportTarget, importWithMeta } from "../meta/sync.ts";

type MigrationTarget = VersionRole & ImportTarget & StatsRole;

interface Migrated {
  versions: number;
  blocks: number;
}

export async function migrateCatalog(ctx: CommandContext): Promise<number> {
  const engine = ctx.string("engine")!;
  const source = await openMigrationSource(engine);
  try {
    // Filling a new catalog is what this command is for (README: point the engine at a new file first).
    ctx.createsCatalog = true;
    const catalog = await ctx.openCatalog();
    const migrated = await catalog.withTransaction((tx) => migrate(ctx, source, tx, engine));
    ctx.log.info(`Migrated ${migrated.versions} versions (${migrated.blocks} blocks) from ${engine}.`);
  } finally {
    await source.close();
  }
  return 0;
}

async function migrate(
  ctx: CommandContext,
  source: MigrationSource,
  catalog: MigrationTarget,
  engine: string,
): Promise<Migrated> {
  const existing = new Set((await catalog.listVersions()).map((version) => version.uid));
  const versions = await source.versions();
  const skipped = new Set<string>();
  const migrated: Migrated = { versions: 0, blocks: 0 };
  for (const version of versions) {
    if (existing.has(version.uid)) {
      ctx.log.warning(`Version ${version.uid} is in this catalog already; not migrated again.`);
      skipped.add(version.uid);
      continue;
    }
    const blocks = await source.blocks(version, ctx.config.defaults.blockSize);
    if (!blocksFit(ctx, version, blocks, engine)) {
      skipped.add(version.uid);
      continue;
    }
    await importWithMeta(ctx.engine.store, catalog, version, blocks);
    migrated.versions++;
    migrated.blocks += blocks.length;
  }
  await catalog.importStats(
    await newStats(catalog, await source.stats(), new Set(versions.map((v) => v.uid)), skipped),
  );
  return migrated;
}

/** backy2's primary key keeps block ids unique; one beyond the version's size cannot be migrated. */
function blocksFit(
  ctx: CommandContext,
  version: ImportedVersion,
  blocks: { id: number }[],
  engine: string,
): boolean {
  const outside = blocks.filter((block) => block.id >= version.size).length;
  if (outside === 0) return true;
  ctx.log.warning(
    `Version ${version.uid} in ${engine} has ${outside} block rows beyond its ${version.size} blocks; not migrated.`,
  );
  return false;
}

/**
 * The stats rows to add: those of the versions migrated now, and those of versions backy2 no longer has
 * unless this catalog holds the same row already (from an earlier run).
 */
async function newStats(
  catalog: StatsRole,
  rows: StatsRow[],
  versions: Set<string>,
  skipped: Set<string>,
): Promise<StatsRow[]> {
  const added: StatsRow[] = [];
  for (const row of rows) {
    const keep = versions.has(row.versionUid)
      ? !skipped.has(row.versionUid)
      : !(await catalog.listStats({ versionUid: row.versionUid })).some((other) => sameStats(row, other));
    if (keep) added.push(row);
  }
  return added;
}

function sameStats(a: StatsRow, b: StatsRow): boolean {
  return (Object.keys(a) as (keyof StatsRow)[]).every((key) => a[key] === b[key]);
}
