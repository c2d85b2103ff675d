/**
 * Connections to a PostgreSQL catalog through the npm `postgres` client, and its failures as one line each:
 * an unreachable server (after the connect timeout), a wrong password, a missing database.
 */
import postgres from "postgres";
import { BackyError } from "../../util/errors.ts";
import type { PgSettings } from "./url.ts";

export type Sql = postgres.Sql<Record<string, unknown>>;
/** A connection or transaction that runs statements. */
export type Runner = Sql | postgres.TransactionSql<Record<string, unknown>>;

/** int8 as a JavaScript number: every count and size of ours is far below 2^53. */
const INT8_AS_NUMBER = {
  to: 20,
  from: [20],
  serialize: (value: number) => String(value),
  parse: (text: string) => Number(text),
};

/** A pool of `max` connections (1: a dedicated connection, as the lease locks need). */
export function pgClient(settings: PgSettings, options: { max: number; onclose?: () => void }): Sql {
  return postgres({
    host: settings.host ?? undefined,
    port: settings.port,
    path: settings.socket ?? undefined,
    database: settings.database,
    user: settings.user,
    pass: settings.password,
    max: options.max,
    connect_timeout: settings.connectTimeout,
    idle_timeout: 0,
    max_lifetime: 0,
    prepare: true,
    onnotice: () => {},
    onclose: options.onclose,
    connection: { application_name: "backy2" },
    types: { bigint: INT8_AS_NUMBER },
  }) as unknown as Sql;
}

/** Runs a statement with positional parameters ($1, $2, ...). */
export async function run<T>(sql: Runner, text: string, params: unknown[] = []): Promise<T[]> {
  return [...await sql.unsafe(text, params as never[])] as T[];
}

/**
 * Opens a pool and checks that the server answers; failures to reach or log in are one clear line. With
 * `createMissing` (the commands that create a catalog), a missing database is created first.
 */
export async function connect(settings: PgSettings, max: number, createMissing = false): Promise<Sql> {
  const sql = pgClient(settings, { max });
  try {
    await run(sql, "SELECT 1");
    return sql;
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    if (!createMissing || codeOf(error) !== MISSING_DATABASE) throw connectError(settings, error);
  }
  await createDatabase(settings);
  return await connect(settings, max);
}

/** Creates the database when it is missing (see {@link connect}). */
export async function ensureDatabase(settings: PgSettings): Promise<void> {
  await (await connect(settings, 1, true)).end({ timeout: 5 });
}

const MISSING_DATABASE = "3D000";
const DUPLICATE_DATABASE = "42P04";

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

/**
 * Creates the database through the server's maintenance database `postgres`, as the catalog's user (who
 * then owns it). Another host creating it at the same moment is fine.
 */
async function createDatabase(settings: PgSettings): Promise<void> {
  const admin = pgClient({ ...settings, database: "postgres" }, { max: 1 });
  try {
    await run(admin, `CREATE DATABASE "${settings.database.replaceAll('"', '""')}"`);
  } catch (error) {
    if (codeOf(error) === DUPLICATE_DATABASE) return;
    const why = (error as { message?: string } | null)?.message ?? String(error);
    throw new BackyError(
      `PostgreSQL catalog ${settings.shown}: database ${settings.database} does not exist and could not be ` +
        `created (${why}); create it first (CREATE DATABASE).`,
      { exitCode: 1, bare: true },
    );
  } finally {
    await admin.end({ timeout: 0 }).catch(() => {});
  }
}

/** The one-line error for a failed connection attempt (other errors as they are). */
export function connectError(settings: PgSettings, error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  const where = `PostgreSQL catalog ${settings.shown}`;
  const line = (text: string) => new BackyError(`${where}: ${text}`, { exitCode: 1, bare: true });
  switch (code) {
    case "28P01":
    case "28000":
      return line(`cannot log in as ${settings.user} (${message}).`);
    case MISSING_DATABASE:
      return line(`database ${settings.database} does not exist; create it first (CREATE DATABASE).`);
    case "CONNECT_TIMEOUT":
      return line(`no answer within ${settings.connectTimeout} s (connect_timeout); is the server reachable?`);
    case "ECONNREFUSED":
    case "ENOENT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return line(`cannot connect (${message}).`);
  }
  if (error instanceof Error && /ECONNREFUSED|ENOENT|getaddrinfo|os error/.test(error.message)) {
    return line(`cannot connect (${error.message}).`);
  }
  return error;
}

/** A statement failed because another transaction got in the way: worth running the transaction again. */
export function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  return code === "40001" || code === "40P01";
}
