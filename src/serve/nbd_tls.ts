/**
 * TLS for the NBD server. NBD clients ask for it inside the handshake (NBD_OPT_STARTTLS, `nbds://`) and then
 * expect the server's side of a TLS handshake on the same connection. Deno can only start a *server* TLS
 * session on a connection it accepts from `Deno.listenTls`, so the upgrade goes through a one-shot TLS
 * listener on 127.0.0.1: the server connects to it, relays bytes between the client's connection and that
 * one, and serves the client on the TLS connection the listener accepted. Only the connection whose source
 * port is the relay's own is accepted, so no other local process can take the client's place.
 */

/** The PEM texts of `--tls-cert` and `--tls-key`. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** How long the relay may take to reach its own listener. */
const ACCEPT_TIMEOUT_MS = 10_000;

/** Reads and checks the certificate and key files; throws a one-line error naming what is wrong. */
export async function loadTlsFiles(certPath: string, keyPath: string): Promise<TlsFiles> {
  const read = async (path: string, what: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new Error(`Cannot read the TLS ${what} ${path}: ${(error as Error).message}`);
    }
  };
  const files = { cert: await read(certPath, "certificate"), key: await read(keyPath, "key") };
  try {
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...files }).close();
  } catch (error) {
    throw new Error(`Cannot use ${certPath} and ${keyPath} for TLS: ${(error as Error).message}`);
  }
  return files;
}

/** The server side of a TLS session on `raw`, whose client has just been told to start TLS. */
export async function startTls(raw: Deno.Conn, files: TlsFiles): Promise<Deno.Conn> {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...files });
  let relay: Deno.TcpConn | null = null;
  try {
    relay = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const accepted = await acceptFrom(listener, relay.localAddr.port);
    pipe(raw, relay);
    pipe(relay, raw);
    await accepted.handshake();
    return accepted;
  } catch (error) {
    relay?.close();
    throw error;
  } finally {
    listener.close();
  }
}

/** The next connection from 127.0.0.1:`port`; others are closed. */
async function acceptFrom(listener: Deno.TlsListener, port: number): Promise<Deno.TlsConn> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("TLS relay did not connect")), ACCEPT_TIMEOUT_MS);
  });
  try {
    for (;;) {
      const conn = await Promise.race([listener.accept(), timeout]);
      if ((conn.remoteAddr as Deno.NetAddr).port === port) return conn;
      conn.close();
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Copies `from` to `to` until either ends, then closes both. */
function pipe(from: Deno.Conn, to: Deno.Conn): void {
  (async () => {
    const buffer = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        for (let done = 0; done < n;) done += await to.write(buffer.subarray(done, n));
      }
    } catch {
      // either side went away
    } finally {
      for (const conn of [from, to]) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    }
  })();
}
