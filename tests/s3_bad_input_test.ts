/**
 * CLI tests of unusable S3 settings against the real RADOS Gateway: a missing bucket, a wrong secret or
 * access key, an endpoint that refuses connections or never answers (the command ends after retry_deadline,
 * plus at most one request_timeout, instead of hanging), a bad addressing_style and key files that cannot
 * be read. Each gives one clear line on stderr and changes nothing: the catalog lists the same versions, the
 * bucket holds the same objects, and no restore target appears.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  describeRun,
  error,
  escapeRegExp,
  expectRun,
  FAILED,
  type RunResult,
  type Sandbox,
} from "./helpers.ts";
import {
  bucketKeys,
  createBucket,
  gatewayOrFailingTest,
  metaKeys,
  removeBucket,
  replaceDataBackend,
  s3DataBackend,
  s3Sandbox,
} from "./s3_helpers.ts";

const gateway = gatewayOrFailingTest("s3_bad_input_test");

/** A TCP port on 127.0.0.1 that nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

if (gateway) {
  Deno.test("S3 bad input: one clear line, and nothing changes", async (t) => {
    const bucket = await createBucket(gateway, "bad");
    const good = s3DataBackend(gateway, bucket);
    const sb = await s3Sandbox(good, { blockSize: 4096 });
    const blackHole = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of blackHole) held.push(conn); // accepted, never answered
    })().catch(() => {});
    try {
      await Deno.writeFile(sb.path("img"), crypto.getRandomValues(new Uint8Array(20000)));
      const uid = await sb.backup([sb.url("img"), "vm"]);
      const before = await state(sb, bucket);

      /** With [DataBackend] replaced by `dataBackend`, each blob command fails as `check` says. */
      const step = (name: string, dataBackend: string[], check: (result: RunResult, seconds: number) => void) =>
        t.step(name, async () => {
          await replaceDataBackend(sb, dataBackend);
          const commands = [
            ["backup", sb.url("img"), "vm"],
            ["restore", uid, sb.url("restored.img")],
            ["scrub", uid],
            ["cleanup", "-f"],
          ];
          for (const args of commands) {
            const started = performance.now();
            const result = await sb.run(args);
            check(result, (performance.now() - started) / 1000);
            await replaceDataBackend(sb, good);
            assertEquals(await state(sb, bucket), before, `nothing changed after ${args[0]}`);
            await replaceDataBackend(sb, dataBackend);
          }
          await replaceDataBackend(sb, good);
        });
      const failsWith = (line: RegExp) => (result: RunResult) => {
        assertEquals(result.code, 100, describeRun(result));
        assertMatch(
          result.stderr,
          new RegExp(`^${escapeRegExp(error("").trimEnd())} ${line.source}\n${escapeRegExp(FAILED)}$`),
        );
      };
      const configError = (key: string, problem: RegExp) => (result: RunResult) => {
        expectRun(result, { code: 1, stdout: "" });
        const prefix = `Configuration error in ${sb.config}, section [DataBackend], key ${key}: `;
        assertMatch(result.stderr, new RegExp(`^${escapeRegExp(prefix)}${problem.source}\n$`));
      };

      await step(
        "a missing bucket",
        s3DataBackend(gateway, `${bucket}-gone`),
        failsWith(/S3 GET \S+-gone at \S+: HTTP 404 NoSuchBucket: the bucket does not exist \(bucket_name\)/),
      );
      await step(
        "a wrong secret",
        s3DataBackend({ ...gateway, secret: "not-the-secret" }, bucket),
        failsWith(
          /S3 GET .*: HTTP 403 SignatureDoesNotMatch: the signature does not match: is aws_secret_access_key right\?/,
        ),
      );
      await step(
        "an unknown access key",
        s3DataBackend({ ...gateway, key: "NOSUCHACCESSKEY" }, bucket),
        failsWith(
          /S3 GET .*: HTTP 403 InvalidAccessKeyId: the server does not know this access key \(aws_access_key_id\)/,
        ),
      );
      const refused = `http://127.0.0.1:${closedPort()}`;
      await step(
        "an endpoint that refuses connections ends after retry_deadline",
        s3DataBackend(gateway, bucket, ["retry_deadline: 2", "request_timeout: 1"], refused),
        (result, seconds) => {
          failsWith(
            /Gave up on the check of bucket \S+ at \S+ after \d+ attempts in 2\.\d s \(retry_deadline 2 s\): S3 GET .*: .*[Cc]onnection refused.*/,
          )(result);
          assertMatch(result.stdout, /WARNING: .*The check of bucket .* failed: .*retrying in/);
          assert(seconds >= 2 && seconds < 10, `took ${seconds} s`);
        },
      );
      const silent = `http://127.0.0.1:${blackHole.addr.port}`;
      await step(
        "an endpoint that never answers ends after retry_deadline plus one request_timeout",
        s3DataBackend(gateway, bucket, ["retry_deadline: 2", "request_timeout: 1"], silent),
        (result, seconds) => {
          failsWith(
            /Gave up on the check of bucket .* \(retry_deadline 2 s\): S3 GET .*: no complete answer within 1 s \(request_timeout\)/,
          )(result);
          assert(seconds >= 2 && seconds < 12, `took ${seconds} s`);
        },
      );
      await step(
        "a bad addressing_style",
        s3DataBackend(gateway, bucket, []).map((line) =>
          line.replace("addressing_style: path", "addressing_style: dns")
        ),
        configError("addressing_style", /'dns' is not an addressing style \(path, virtual or auto\)\./),
      );
      const withKeyFile = (path: string) =>
        s3DataBackend(gateway, bucket).filter((line) => !line.startsWith("aws_secret_access_key"))
          .concat([`aws_secret_access_key_file: ${path}`]);
      await step(
        "a key file that does not exist",
        withKeyFile(sb.path("no-such-secret")),
        configError(
          "aws_secret_access_key_file",
          new RegExp(`cannot read ${escapeRegExp(sb.path("no-such-secret"))}: no such file\\.`),
        ),
      );
      await Deno.mkdir(sb.path("secret-dir"));
      await step(
        "a key file that is a directory",
        withKeyFile(sb.path("secret-dir")),
        configError("aws_secret_access_key_file", /cannot read \S+: it is a directory\./),
      );
    } finally {
      blackHole.close();
      await accepting;
      held.forEach((conn) => conn.close());
      await sb.remove();
      await removeBucket(gateway, bucket);
    }
  });
}

/** What must not change: the versions as `ls` lists them, the bucket's objects (blobs and metadata), no restore target. */
async function state(sb: Sandbox, bucket: string): Promise<unknown> {
  const ls = await sb.run(["-m", "ls"]);
  expectRun(ls, { code: 0, stderr: "" });
  const restored = await Deno.stat(sb.path("restored.img")).then(() => true, () => false);
  const meta = [await metaKeys(gateway!, bucket), await metaKeys(gateway!, bucket, "pages")];
  return { ls: ls.stdout, keys: await bucketKeys(gateway!, bucket), meta, restored };
}
