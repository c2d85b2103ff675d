/**
 * `backy2 rekey OLDKEY`: after `encryption_key` was changed in the configuration, rewraps the data key of
 * every encryption-version-1 blob from OLDKEY to the configured key. Blobs are not touched; only the catalog's
 * envkeys change, all in one transaction, under the global lock held exclusively; then the versions' metadata
 * objects are written again with the new envkeys.
 *
 * Fixed against the reference: with `encryption_version: 0` configured it stops with a clear message instead
 * of crashing, a wrong OLDKEY stops it before anything changed, and the closing line has no stray `)`.
 */
import type { CommandContext } from "./context.ts";
import type { RekeyCounts } from "../catalog/catalog.ts";
import { fromHex, KeyUnwrapError, rewrapEnvkey } from "../store/crypto_v1.ts";
import { BackyError, Exit, heldBy } from "../util/errors.ts";
import { formatFixed0 } from "../output/humanize.ts";
import type { Logger } from "../log/logger.ts";
import { markStale } from "../meta/stale.ts";

const PROGRESS_EVERY = 1000;

export async function rekey(ctx: CommandContext): Promise<number> {
  const oldKey = fromHex(ctx.string("oldkey")!, 32);
  if (!oldKey) throw new BackyError("OLDKEY must be 64 hexadecimal characters (the 32-byte key as in encryption_key).");
  const { encryptionVersion, encryptionKey } = ctx.config.defaults;
  if (encryptionVersion === 0 || encryptionKey === null) {
    throw new BackyError(
      "rekey rewraps the keys of encryption version 1 under the configured encryption_key; set " +
        "encryption_version: 1 and the new encryption_key in the configuration first.",
    );
  }
  const { catalog, locks, log } = ctx.engine;
  await using _lease = await locks.acquire(
    "backy",
    "exclusive",
    (holder) => new BackyError(heldBy("Other backy instances are running.", holder), { quoted: true }),
  );
  const started = performance.now();
  const counts = await catalog.rewrapEnvkeys(
    encryptionVersion,
    (envkey, uid) => rewrap(envkey, uid, oldKey, encryptionKey),
    (counts) => reportProgress(log, counts, started),
  );
  log.info(`Rekeying successful: ${summary(counts)}.`);
  // Every object that names a rekeyed blob carries its old envkey: written again before the command ends.
  if (counts.rekeyed > 0) markStale(ctx.engine, (await catalog.listVersions()).map((version) => version.uid));
  return Exit.ok;
}

function rewrap(envkey: string | null, uid: string, oldKey: Uint8Array, newKey: Uint8Array): string {
  try {
    return rewrapEnvkey(envkey, oldKey, newKey);
  } catch (error) {
    if (!(error instanceof KeyUnwrapError)) throw error;
    throw new BackyError(
      `Rekeying failed: OLDKEY does not unwrap the key of blob ${uid} (${error.message}). Nothing was changed.`,
    );
  }
}

function summary(counts: RekeyCounts): string {
  return `${counts.rekeyed} rekeyed, ${counts.sparse} sparse/ignored, ${counts.otherVersion} unable to rekey ` +
    "(wrong encryption version)";
}

function reportProgress(log: Logger, counts: RekeyCounts, started: number): void {
  const done = counts.rekeyed + counts.sparse + counts.otherVersion;
  if (done % PROGRESS_EVERY !== 0 || done === counts.total) return;
  const left = counts.total - done;
  const rate = done / Math.max((performance.now() - started) / 1000, 1e-9);
  log.info(
    `Rekeying in progress: ${summary(counts)}. ${left} to go (${formatFixed0(rate)} blocks/s, ` +
      `ETA ${formatFixed0(left / rate)}s)`,
  );
}
