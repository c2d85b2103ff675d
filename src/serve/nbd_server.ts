/**
 * The NBD server of `backy2 nbd`: listens on a TCP address or a unix socket, and serves each client on its own
 * connection (handshake, then transmission) until it disconnects or the server closes. Any number of clients
 * at once; a client's failure is logged and ends only its connection.
 */
import type { Logger } from "../log/logger.ts";
import { negotiate } from "./nbd_handshake.ts";
import { ClosedError, Wire } from "./nbd_protocol.ts";
import { transmit } from "./nbd_transmission.ts";
import type { TlsFiles } from "./nbd_tls.ts";
import type { VersionSource } from "./served_versions.ts";

export type Endpoint = { transport: "tcp"; hostname: string; port: number } | { transport: "unix"; path: string };

export class NbdServer {
  private readonly wires = new Set<Wire>();
  private readonly clients = new Set<Promise<void>>();
  private closing = false;

  private constructor(
    private readonly listener: Deno.Listener,
    private readonly endpoint: Endpoint,
    private readonly served: VersionSource,
    private readonly tls: TlsFiles | null,
    private readonly log: Logger,
  ) {}

  /** Starts listening (a stale unix socket nobody listens on is replaced). */
  static async listen(
    endpoint: Endpoint,
    served: VersionSource,
    tls: TlsFiles | null,
    log: Logger,
  ): Promise<NbdServer> {
    if (endpoint.transport === "unix") await removeStaleSocket(endpoint.path);
    const listener = endpoint.transport === "tcp"
      ? Deno.listen({ transport: "tcp", hostname: endpoint.hostname, port: endpoint.port })
      : Deno.listen({ transport: "unix", path: endpoint.path });
    return new NbdServer(listener, endpoint, served, tls, log);
  }

  /** The URL of export UID without the UID: `nbd://HOST:PORT/`, `nbds://…` with TLS, or `nbd+unix:///`. */
  urlOf(uid: string): string {
    const scheme = this.tls ? "nbds" : "nbd";
    if (this.endpoint.transport === "unix") return `${scheme}+unix:///${uid}?socket=${this.endpoint.path}`;
    const { hostname, port } = this.listener.addr as Deno.NetAddr;
    return `${scheme}://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/${uid}`;
  }

  /** Accepts clients until {@link close}. */
  async serve(): Promise<void> {
    try {
      for await (const conn of this.listener) this.accept(conn);
    } catch (error) {
      if (!this.closing) throw error;
    }
  }

  /** Stops listening, disconnects every client and waits for their connections to end. */
  async close(): Promise<void> {
    this.closing = true;
    try {
      this.listener.close();
    } catch {
      // already closed
    }
    for (const wire of this.wires) wire.close();
    await Promise.allSettled(this.clients);
    if (this.endpoint.transport === "unix") await Deno.remove(this.endpoint.path).catch(() => {});
  }

  private accept(conn: Deno.Conn): void {
    if (this.closing) return conn.close();
    if (this.endpoint.transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
    const wire = new Wire(conn);
    this.wires.add(wire);
    const client: Promise<void> = this.client(wire, peerOf(conn)).finally(() => {
      wire.close();
      this.wires.delete(wire);
      this.clients.delete(client);
    });
    this.clients.add(client);
  }

  private async client(wire: Wire, peer: string): Promise<void> {
    try {
      const negotiated = await negotiate(wire, { served: this.served, tls: this.tls, log: this.log, peer });
      if (negotiated) await transmit(wire, negotiated, this.log);
    } catch (error) {
      if (!this.closing && !isDisconnect(error)) this.log.error(`NBD client ${peer}: ${(error as Error).message}`);
    }
  }
}

function peerOf(conn: Deno.Conn): string {
  if (conn.remoteAddr.transport === "unix") return "(unix socket)";
  const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
  return `${hostname}:${port}`;
}

/** A client that went away (or a connection closed by the server): not worth an error line. */
function isDisconnect(error: unknown): boolean {
  return error instanceof ClosedError || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted || error instanceof Deno.errors.UnexpectedEof;
}

/** Removes a unix socket at `path` that no server listens on; throws when one does, or when it is no socket. */
async function removeStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return;
  }
  if (!info.isSocket) throw new Error(`${path} exists and is not a socket.`);
  try {
    (await Deno.connect({ transport: "unix", path })).close();
  } catch {
    await Deno.remove(path);
    return;
  }
  throw new Error(`Another server is listening on ${path}.`);
}
