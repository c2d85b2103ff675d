/** Unit tests of the PostgreSQL engine URLs backy2 (SQLAlchemy) accepts. */
import assert from "node:assert/strict";
import { hidePassword, parsePgUrl } from "./url.ts";

Deno.test("postgresql URLs: SQLAlchemy's schemes, credentials, ports and unix sockets", () => {
  const tcp = parsePgUrl("postgresql://backy:s%40cret@db.example:5433/backy2");
  assert.deepEqual(
    [tcp.host, tcp.port, tcp.socket, tcp.database, tcp.user, tcp.password, tcp.connectTimeout],
    ["db.example", 5433, null, "backy2", "backy", "s@cret", 10],
  );
  assert.equal(tcp.shown, "postgresql://backy:***@db.example:5433/backy2");
  assert.equal(parsePgUrl("postgresql+psycopg2://u:p@h/d").host, "h");
  assert.equal(parsePgUrl("postgres://u@h/d").port, 5432);
  const socket = parsePgUrl("postgresql://backy@/backy2?host=/tmp/pg&connect_timeout=3");
  assert.deepEqual([socket.host, socket.socket, socket.connectTimeout], [null, "/tmp/pg/.s.PGSQL.5432", 3]);
  assert.equal(parsePgUrl("postgresql:///backy2").socket, "/var/run/postgresql/.s.PGSQL.5432");
  assert.equal(parsePgUrl("postgresql://u@[::1]:6000/d").host, "::1");
  assert.throws(() => parsePgUrl("postgresql://u@h"), /names no database/);
  assert.throws(() => parsePgUrl("postgresql://u:pw@h/d?connect_timeout=x"), /connect_timeout/);
  assert.equal(hidePassword("postgresql://u:pw@h/d"), "postgresql://u:***@h/d");
});
