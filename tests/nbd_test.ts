/**
 * CLI tests of `backy2 nbd` with the real NBD clients of Debian (libnbd-bin: nbdinfo, nbdcopy; qemu-utils:
 * qemu-img, qemu-io): the exports are listed, every export's bytes equal the restore of its version, writes
 * are refused without `--cow` and read back with it (and vanish with the server), a served version cannot be
 * removed, block status shows the sparse blocks, a damaged blob fails its range with EIO and a log line, eight
 * clients at once agree, TLS works and is required once configured, a unix socket works, encrypted versions read
 * through the store stack, and bad options are refused with one line.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  type BlockKind,
  buildImage,
  expectRun,
  lockRefusal,
  Rng,
  type Sandbox,
  testSeed,
  withSandbox,
} from "./helpers.ts";
import { blobOfBlock, flipByte, ServerProcess, sha256, storeAndCatalog, tool } from "./serve_helpers.ts";

const BS = 65536;
/** The blocks of the first version that are zeros (sparse in the backup). */
const ZERO_BLOCKS = [3, 10, 17, 24, 31, 38, 45];
const SERVING = /Serving (\d+) versions over NBD at (\S+) \(/;

interface Versions {
  restored: Map<string, string>;
  first: string;
  second: string;
}

/** Two versions of one image (the second with changed and newly zeroed blocks), both restored. */
async function makeVersions(sb: Sandbox): Promise<Versions> {
  const rng = new Rng(testSeed());
  const kinds: BlockKind[] = Array.from({ length: 48 }, (_, i) => ZERO_BLOCKS.includes(i) ? "zero" : "random");
  const image = buildImage(rng, BS, kinds, 48 * BS - 512);
  await Deno.writeFile(sb.path("disk.img"), image);
  const first = await sb.backup([sb.url("disk.img"), "vm"]);
  rng.fill(image.subarray(10 * BS, 12 * BS));
  image.fill(0, 20 * BS, 22 * BS);
  await Deno.writeFile(sb.path("disk.img"), image);
  const second = await sb.backup(["-f", first, sb.url("disk.img"), "vm"]);
  const restored = new Map<string, string>();
  for (const uid of [first, second]) {
    await sb.restore(uid, `${uid}.raw`);
    restored.set(uid, sb.path(`${uid}.raw`));
  }
  return { restored, first, second };
}

async function withNbdSandbox(fn: (sb: Sandbox) => Promise<void>): Promise<void> {
  await withSandbox({ blockSize: BS, extraDefaults: ["cachedir: CACHE"] }, async (sb) => {
    const config = await Deno.readTextFile(sb.config);
    await Deno.writeTextFile(sb.config, config.replace("cachedir: CACHE", `cachedir: ${sb.path("cache")}`));
    await Deno.mkdir(sb.path("cache"));
    await fn(sb);
  });
}

/** Starts `backy2 nbd ARGS` (on a free port unless given a socket); returns it and the URL of an export. */
async function serve(
  sb: Sandbox,
  args: string[] = [],
): Promise<{ server: ServerProcess; url: (uid: string) => string }> {
  const bind = args.includes("--socket") ? [] : ["--bind", "127.0.0.1:0"];
  const { server, match } = await ServerProcess.start(sb, ["nbd", ...bind, ...args], SERVING);
  return { server, url: (uid) => match[2].replace("UID", uid) };
}

async function nbdcopyHash(url: string): Promise<string> {
  const copy = await tool("nbdcopy", [url, "-"]);
  assertEquals(copy.code, 0, `nbdcopy ${url}: ${copy.stderr}`);
  return sha256(copy.stdout);
}

Deno.test("nbd: nbdinfo lists the exports; nbdcopy and qemu-img compare match the restores; read-only; rm refused", async () => {
  await withNbdSandbox(async (sb) => {
    const v = await makeVersions(sb);
    const before = await storeAndCatalog(sb);
    const { server, url } = await serve(sb);
    try {
      assertMatch(url(""), /^nbd:\/\/127\.0\.0\.1:\d+\/$/);
      const list = await tool("nbdinfo", ["--list", "--json", url("")]);
      assertEquals(list.code, 0, list.stderr);
      const exports = JSON.parse(list.text).exports as { "export-name": string; "export-size": number }[];
      assertEquals(
        exports.map((e) => [e["export-name"], e["export-size"]]).sort(),
        [[v.first, 48 * BS - 512], [v.second, 48 * BS - 512]].sort(),
      );
      for (const [uid, restored] of v.restored) {
        assertEquals(await nbdcopyHash(url(uid)), sha256(await Deno.readFile(restored)), `nbdcopy of ${uid}`);
        const compare = await tool("qemu-img", ["compare", "-f", "raw", "-F", "raw", restored, url(uid)]);
        assertEquals(compare.code, 0, `qemu-img compare ${uid}: ${compare.text}${compare.stderr}`);
      }
      // Block status (base:allocation): the zero blocks of the first version are holes, the rest data.
      const map = await tool("nbdinfo", ["--map", "--json", url(v.first)]);
      assertEquals(map.code, 0, map.stderr);
      const holes = (JSON.parse(map.text) as { offset: number; length: number; type: number }[])
        .filter((extent) => extent.type === 3).map((extent) => [extent.offset / BS, extent.length / BS]);
      assertEquals(holes, ZERO_BLOCKS.map((id) => [id, 1]));
      const info = await tool("nbdinfo", ["--json", url(v.second)]);
      assertEquals(JSON.parse(info.text).exports[0]["is_read_only"], true);

      // Without --cow every write is refused; the export stays the backup.
      const write = await tool("qemu-io", ["-f", "raw", url(v.second), "-c", "write -P 0xcd 0 4096"]);
      assert(write.code !== 0, `qemu-io write must be refused:\n${write.text}${write.stderr}`);
      assertMatch(write.stderr + write.text, /Permission denied|read-only|Operation not permitted/i);
      const unknown = await tool("nbdinfo", [url("no-such-version")]);
      assert(unknown.code !== 0, "an unknown export is refused");

      // A served version is locked against rm until the server ends.
      expectRun(await sb.run(["rm", "-f", v.first]), {
        code: 100,
        stderr: new RegExp(lockRefusal(`Version ${v.first} is locked.`)),
      });
      const stopped = await server.stop("SIGTERM");
      expectRun(stopped, { code: 0, stderr: "" });
      assertMatch(stopped.stdout, /NBD server stopped\.\n.*Backy complete\./);
    } finally {
      await server.kill();
    }
    assertEquals(await storeAndCatalog(sb), before, "blobs, ls and dumps are unchanged");
  });
});

Deno.test("nbd --cow: qemu-io writes and reads back across connections; the backup is untouched; writes vanish", async () => {
  await withNbdSandbox(async (sb) => {
    const v = await makeVersions(sb);
    const before = await storeAndCatalog(sb);
    const socket = sb.path("nbd.sock");
    const { server, url } = await serve(sb, ["--cow", "--socket", socket]);
    try {
      const exportUrl = url(v.second);
      assertEquals(exportUrl, `nbd+unix:///${v.second}?socket=${socket}`);
      const io = await tool("qemu-io", [
        "-f",
        "raw",
        exportUrl,
        "-c",
        `write -P 0xcd ${3 * BS - 1000} 130000`,
        "-c",
        `read -P 0xcd ${3 * BS - 1000} 130000`,
      ]);
      assertEquals(io.code, 0, `${exportUrl}: ${io.text}${io.stderr}`);
      assert(!/Pattern verification failed|failed/.test(io.text + io.stderr), io.text + io.stderr);
      // A new connection sees the write, and the rest is still the backup.
      const expected = await Deno.readFile(v.restored.get(v.second)!);
      expected.fill(0xcd, 3 * BS - 1000, 3 * BS - 1000 + 130000);
      assertEquals(await nbdcopyHash(exportUrl), sha256(expected));
      assertEquals(
        await nbdcopyHash(url(v.first)),
        sha256(await Deno.readFile(v.restored.get(v.first)!)),
      );
      expectRun(await server.stop("SIGINT"), { code: 0, stderr: "" });
    } finally {
      await server.kill();
    }
    assertEquals(await Array.fromAsync(Deno.readDir(sb.path("cache"))), [], "no overlay file is left");
    assertEquals(await storeAndCatalog(sb), before, "the store and the catalog are unchanged");
    const again = await serve(sb);
    try {
      assertEquals(
        await nbdcopyHash(again.url(v.second)),
        sha256(await Deno.readFile(v.restored.get(v.second)!)),
        "a new server serves the backup again",
      );
      expectRun(await again.server.stop(), { code: 0, stderr: "" });
    } finally {
      await again.server.kill();
    }
  });
});

Deno.test("nbd: a damaged blob fails its range with EIO and a log line, never wrong data; 8 clients at once agree", async () => {
  await withNbdSandbox(async (sb) => {
    const v = await makeVersions(sb);
    // Block 11 changed in the second version: only the first uses this blob.
    await flipByte(await blobOfBlock(sb, v.first, 11), 17);
    const { server, url } = await serve(sb);
    try {
      const bad = await tool("qemu-io", ["-f", "raw", "-r", url(v.first), "-c", `read ${11 * BS + 4096} 4096`]);
      assertMatch(bad.text + bad.stderr, /Input\/output error/, "the damaged block's range fails");
      const restored = await Deno.readFile(v.restored.get(v.first)!);
      for (const block of [10, 12]) {
        const out = sb.path(`block${block}`);
        const dd = await tool("qemu-img", [
          "dd",
          "-f",
          "raw",
          "-O",
          "raw",
          `if=${url(v.first)}`,
          `of=${out}`,
          `bs=${BS}`,
          `skip=${block}`,
          `count=${block + 1}`, // qemu-img dd counts from the start of the input, skipped blocks included
        ]);
        assertEquals(dd.code, 0, `block ${block}: ${dd.stderr}`);
        assertEquals(sha256(await Deno.readFile(out)), sha256(restored.subarray(block * BS, (block + 1) * BS)));
      }
      const copy = await tool("nbdcopy", [url(v.first), "-"]);
      assert(copy.code !== 0, "copying the whole export fails instead of giving wrong data");
      await server.waitForLog(new RegExp(`Checksum mismatch reading block 11 of version ${v.first} `));

      const expected = sha256(await Deno.readFile(v.restored.get(v.second)!));
      const clients = await Promise.all(Array.from({ length: 8 }, () => nbdcopyHash(url(v.second))));
      assertEquals(clients, Array(8).fill(expected));
      expectRun(await server.stop(), { code: 0, stderr: new RegExp(`Checksum mismatch reading block 11 of version`) });
    } finally {
      await server.kill();
    }
  });
});

Deno.test("nbd with --tls-cert/--tls-key: nbds:// clients read the exports; plain clients are refused", async () => {
  await withNbdSandbox(async (sb) => {
    const v = await makeVersions(sb);
    const pki = sb.path("pki");
    await Deno.mkdir(pki);
    const cert = await tool("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${pki}/key.pem`,
      "-out",
      `${pki}/ca-cert.pem`,
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ]);
    assertEquals(cert.code, 0, cert.stderr);
    const { server, url } = await serve(sb, ["--tls-cert", `${pki}/ca-cert.pem`, "--tls-key", `${pki}/key.pem`]);
    try {
      assertMatch(url(""), /^nbds:\/\/127\.0\.0\.1:\d+\/$/);
      const secure = `${url(v.first)}?tls-certificates=${pki}`;
      const info = await tool("nbdinfo", [secure]);
      assertEquals(info.code, 0, info.stderr);
      assertMatch(info.text, /with TLS/);
      assertEquals(await nbdcopyHash(secure), sha256(await Deno.readFile(v.restored.get(v.first)!)));
      const plain = await tool("nbdinfo", [url(v.first).replace("nbds:", "nbd:")]);
      assert(plain.code !== 0, "a client without TLS is refused");
      expectRun(await server.stop(), { code: 0, stderr: "" });
    } finally {
      await server.kill();
    }
  });
});

Deno.test("nbd refuses bad options with one line and changes nothing", async () => {
  await withNbdSandbox(async (sb) => {
    const cases: [string[], number, string][] = [
      [["--bind", "127.0.0.1:1", "--socket", sb.path("s")], 1, "Use either --bind or --socket, not both."],
      [["--bind", "localhost"], 1, "--bind wants HOST:PORT (e.g. 127.0.0.1:10809), not localhost."],
      [["--tls-cert", sb.path("c.pem")], 1, "--tls-cert and --tls-key go together."],
      [
        ["--tls-cert", sb.path("c.pem"), "--tls-key", sb.path("k.pem")],
        100,
        `Cannot read the TLS certificate ${sb.path("c.pem")}: `,
      ],
    ];
    for (const [args, code, message] of cases) {
      const result = await sb.run(["nbd", ...args]);
      expectRun(result, { code, stdout: new RegExp(`nbd`) }, args.join(" "));
      assert(result.stderr.startsWith(`   ERROR: [backy2.logging] ${message}`), `${args.join(" ")}:\n${result.stderr}`);
    }
    await Deno.writeTextFile(sb.path("file"), "x");
    const notSocket = await sb.run(["nbd", "--socket", sb.path("file")]);
    expectRun(notSocket, { code: 100, stderr: new RegExp(`Cannot listen on ${sb.path("file")}: .* is not a socket`) });
  });
});

Deno.test("nbd reads encrypted versions through the store stack (encryption_version 1)", async () => {
  await withNbdSandbox(async (sb) => {
    const config = await Deno.readTextFile(sb.config);
    await Deno.writeTextFile(
      sb.config,
      config.replace("encryption_version: 0", `encryption_version: 1\nencryption_key: ${"ab".repeat(32)}`),
    );
    const v = await makeVersions(sb);
    const blob = await Deno.readFile(await blobOfBlock(sb, v.first, 0));
    const plain = await Deno.readFile(v.restored.get(v.first)!);
    assert(sha256(blob) !== sha256(plain.subarray(0, BS)), "the blobs are stored encrypted");
    const { server, url } = await serve(sb);
    try {
      for (const [uid, restored] of v.restored) {
        assertEquals(await nbdcopyHash(url(uid)), sha256(await Deno.readFile(restored)), uid);
      }
      expectRun(await server.stop(), { code: 0, stderr: "" });
    } finally {
      await server.kill();
    }
  });
});
