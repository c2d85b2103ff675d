/**
 * backy2's PostgreSQL engine URLs (SQLAlchemy's forms) as connection settings: `postgresql://`,
 * `postgres://` and `postgresql+DRIVER://` (psycopg2, pg8000, ...), `user:password@host:port/database`,
 * percent-encoded parts, and unix sockets as `?host=/run/postgresql` (or an empty host, which is libpq's
 * default socket directory). `connect_timeout` in the query is honoured (seconds, default 10).
 */
import { BackyError } from "../../util/errors.ts";

export interface PgSettings {
  /** A TCP host name or address; null with a unix socket. */
  host: string | null;
  port: number;
  /** The socket file (`DIR/.s.PGSQL.PORT`) for a unix socket. */
  socket: string | null;
  database: string;
  user: string;
  password: string;
  /** Seconds until an unreachable server is given up on. */
  connectTimeout: number;
  /** The URL with its password hidden, for messages. */
  shown: string;
}

const DEFAULT_SOCKET_DIR = "/var/run/postgresql";
const DEFAULT_TIMEOUT_SECONDS = 10;

export function parsePgUrl(engine: string): PgSettings {
  const match = /^postgres(?:ql)?(?:\+[A-Za-z0-9_]+)?:\/\/([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i.exec(engine);
  if (!match) throw badUrl(engine, "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE");
  const [, authority, path = "", query = ""] = match;
  const at = authority.lastIndexOf("@");
  const [credentials, hostPort] = at < 0 ? ["", authority] : [authority.slice(0, at), authority.slice(at + 1)];
  const colon = credentials.indexOf(":");
  const user = decode(engine, colon < 0 ? credentials : credentials.slice(0, colon));
  const password = colon < 0 ? "" : decode(engine, credentials.slice(colon + 1));
  const params = new URLSearchParams(query);
  const portMatch = /^(.*?)(?::(\d+))?$/.exec(hostPort)!;
  const port = Number(portMatch[2] ?? params.get("port") ?? 5432);
  const hostText = decode(engine, portMatch[1].replace(/^\[(.*)\]$/, "$1")) || params.get("host") || "";
  const socketDir = hostText === "" ? DEFAULT_SOCKET_DIR : hostText.startsWith("/") ? hostText : null;
  const database = decode(engine, path);
  if (database === "") throw badUrl(engine, "it names no database");
  const timeout = Number(params.get("connect_timeout") ?? DEFAULT_TIMEOUT_SECONDS);
  if (!Number.isFinite(timeout) || timeout <= 0) throw badUrl(engine, "connect_timeout must be a positive number");
  return {
    host: socketDir === null ? hostText : null,
    port,
    socket: socketDir === null ? null : `${socketDir}/.s.PGSQL.${port}`,
    database,
    user: user || "postgres",
    password,
    connectTimeout: timeout,
    shown: password === "" ? engine : engine.replace(`:${credentials.slice(colon + 1)}@`, ":***@"),
  };
}

function decode(engine: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badUrl(engine, `'${text}' is not percent-encoded correctly`);
  }
}

function badUrl(engine: string, why: string): BackyError {
  return new BackyError(`[MetaBackend] engine ${hidePassword(engine)} is not a usable PostgreSQL URL: ${why}.`, {
    exitCode: 1,
    bare: true,
  });
}

/** The URL with any password replaced by `***`. */
export function hidePassword(engine: string): string {
  return engine.replace(/^([^:]+:\/\/[^:/@]*):[^@/]*@/, "$1:***@");
}
