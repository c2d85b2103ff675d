/**
 * Deduplication lookups in windows: the blocks that want a lookup while one is on its way to the catalog
 * wait and then go together, so a backup costs one catalog round trip per window of blocks instead of one per
 * block (which would be fatal over a network). With nothing in flight a lookup goes at once, so a local
 * catalog adds no delay.
 */
import type { BlobRef, BlobRole, DedupKey } from "../catalog/catalog.ts";

/** Most keys per lookup. */
const WINDOW = 512;

interface Waiting {
  key: DedupKey;
  resolve: (ref: BlobRef | null) => void;
  reject: (error: unknown) => void;
}

export class DedupWindow {
  private queue: Waiting[] = [];
  private inFlight = false;

  constructor(
    private readonly catalog: Pick<BlobRole, "findDedup">,
    private readonly codecs: readonly number[],
    /** The in-progress version that claims what is found. */
    private readonly claimFor: string,
  ) {}

  /** A valid blob with this content that the version has claimed, or null. */
  find(key: DedupKey): Promise<BlobRef | null> {
    const found = new Promise<BlobRef | null>((resolve, reject) => this.queue.push({ key, resolve, reject }));
    if (!this.inFlight) this.send();
    return found;
  }

  private send(): void {
    const batch = this.queue.splice(0, WINDOW);
    if (batch.length === 0) return;
    this.inFlight = true;
    this.catalog.findDedup(batch.map((waiting) => waiting.key), this.codecs, this.claimFor).then(
      (refs) => batch.forEach((waiting, i) => waiting.resolve(refs[i])),
      (error) => batch.forEach((waiting) => waiting.reject(error)),
    ).finally(() => {
      this.inFlight = false;
      this.send();
    });
  }
}
