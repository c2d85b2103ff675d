/**
 * A catalog that is opened on its first call: commands build their engine at once, but only those that
 * use the catalog open it (a PostgreSQL catalog connects then, and its client is loaded only then).
 */
import type { Catalog, CatalogRoles } from "./catalog.ts";

export class LazyCatalog {
  private opening: Promise<Catalog> | null = null;
  private opened: Catalog | null = null;
  /** The catalog whose every call waits for the opening first. */
  readonly catalog: Catalog;

  constructor(kind: string, private readonly open: () => Promise<Catalog>) {
    const target = { kind } as Catalog;
    target.withTransaction = async (work) => (await this.get()).withTransaction(work);
    target.close = () => this.close();
    this.catalog = new Proxy(target, {
      get: (object, name) => {
        // Not a promise: `then` stays undefined, so that awaiting the catalog gives the catalog.
        if (name in object || typeof name !== "string" || name === "then") return Reflect.get(object, name);
        return async (...args: unknown[]) => {
          const catalog = await this.get() as unknown as Record<string, (...args: unknown[]) => unknown>;
          return await catalog[name as keyof CatalogRoles](...args);
        };
      },
    });
  }

  /** The catalog if something opened it. */
  get current(): Catalog | null {
    return this.opened;
  }

  /** Opens the catalog now (a failure to open is reported before the command changes anything). */
  async get(): Promise<Catalog> {
    this.opening ??= this.open().then((catalog) => this.opened = catalog);
    return await this.opening;
  }

  async close(): Promise<void> {
    if (!this.opening) return;
    const catalog = await this.opening.catch(() => null);
    await catalog?.close();
  }
}
