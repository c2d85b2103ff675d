/**
 * `backy2 nbd [--bind HOST:PORT | --socket PATH] [--cow] [--tls-cert FILE --tls-key FILE]`: serves every
 * finished version as an NBD export named by its uid (`nbd://127.0.0.1:10809/UID`) until SIGINT or SIGTERM.
 * Read-only unless `--cow`, which keeps writes in a temporary overlay per version; with a certificate and key,
 * clients must use TLS (`nbds://`).
 */
import type { CommandContext } from "./context.ts";
import { BackyError, Exit } from "../util/errors.ts";
import { ServedVersions } from "../serve/served_versions.ts";
import { type Endpoint, NbdServer } from "../serve/nbd_server.ts";
import { loadTlsFiles, type TlsFiles } from "../serve/nbd_tls.ts";
import { untilStopped } from "../serve/until_stopped.ts";
import { requireDirectory } from "./cmd_fuse.ts";

const DEFAULT_BIND = "127.0.0.1:10809";

export async function nbd(ctx: CommandContext): Promise<number> {
  const endpoint = endpointOf(ctx.string("bind"), ctx.string("socket"));
  const tls = await tlsOf(ctx.string("tlsCert"), ctx.string("tlsKey"));
  const cow = ctx.flag("cow");
  if (cow) await requireDirectory(ctx.config.defaults.cachedir, "The cache directory (cachedir)");
  const { log } = ctx;
  const served = new ServedVersions(ctx.engine, { cow, cacheDir: ctx.config.defaults.cachedir });
  try {
    let server: NbdServer;
    try {
      server = await NbdServer.listen(endpoint, served, tls, log);
    } catch (error) {
      throw new BackyError(`Cannot listen on ${describe(endpoint)}: ${(error as Error).message}`);
    }
    log.info(
      `Serving ${(await served.list()).length} versions over NBD at ${server.urlOf("UID")} ` +
        `(${cow ? "writes go to a temporary overlay" : "read-only"}); stop with Ctrl+C or SIGTERM.`,
    );
    const serving = server.serve();
    await untilStopped(ctx.interruption, serving);
    await server.close();
    await serving;
    log.info("NBD server stopped.");
  } finally {
    await served.close();
  }
  return Exit.ok;
}

function endpointOf(bind: string | undefined, socket: string | undefined): Endpoint {
  if (bind !== undefined && socket !== undefined) {
    throw new BackyError("Use either --bind or --socket, not both.", { exitCode: Exit.usage });
  }
  if (socket !== undefined) {
    if (socket === "") throw new BackyError("--socket needs a path.", { exitCode: Exit.usage });
    return { transport: "unix", path: socket };
  }
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(bind ?? DEFAULT_BIND);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new BackyError(`--bind wants HOST:PORT (e.g. ${DEFAULT_BIND}), not ${bind}.`, { exitCode: Exit.usage });
  }
  return { transport: "tcp", hostname: match[1] ?? match[2], port };
}

async function tlsOf(cert: string | undefined, key: string | undefined): Promise<TlsFiles | null> {
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined || key === undefined) {
    throw new BackyError("--tls-cert and --tls-key go together.", { exitCode: Exit.usage });
  }
  try {
    return await loadTlsFiles(cert, key);
  } catch (error) {
    throw new BackyError((error as Error).message);
  }
}

function describe(endpoint: Endpoint): string {
  return endpoint.transport === "unix" ? endpoint.path : `${endpoint.hostname}:${endpoint.port}`;
}
