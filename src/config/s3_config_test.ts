/** Tests of the S3 and MinIO [DataBackend] keys: defaults, credential files, and one-line errors. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BackyError } from "../util/errors.ts";
import { type Config, loadConfig } from "./config.ts";

const BASE = `[DEFAULTS]
logfile = /var/log/backy.log
block_size = 4194304
lock_dir = /run
encryption_version = 0
[MetaBackend]
type = backy2.meta_backends.sql
engine = sqlite:////var/lib/backy2/backy.sqlite
[DataBackend]
`;

const S3 = {
  type: "backy2.data_backends.s3",
  endpoint_url: "http://127.0.0.1:7480/",
  bucket_name: "backups",
  aws_access_key_id: "AK",
  aws_secret_access_key: "SK",
};

type Keys = Record<string, string | null>;

/** Loads a config whose [DataBackend] holds `keys` (null drops a key); returns it with its directory. */
async function load(keys: Keys): Promise<{ config: Config; dir: string; file: string }> {
  const dir = await Deno.makeTempDir({ prefix: "backy-s3-config-test-" });
  const file = join(dir, "backy.cfg");
  const lines = Object.entries(keys).filter(([, v]) => v !== null).map(([k, v]) => `${k} = ${v}`);
  await Deno.writeTextFile(file, BASE + lines.join("\n") + "\n");
  return { config: loadConfig({ configFile: file, cwd: dir, home: dir, env: {} }), dir, file };
}

async function loadError(keys: Keys, prepare?: (dir: string) => Promise<void>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "backy-s3-config-test-" });
  await prepare?.(dir);
  const file = join(dir, "backy.cfg");
  const lines = Object.entries(keys).filter(([, v]) => v !== null).map(([k, v]) => `${k} = ${v}`);
  await Deno.writeTextFile(file, BASE + lines.join("\n") + "\n");
  try {
    loadConfig({ configFile: file, cwd: dir, home: dir, env: {} });
  } catch (error) {
    assert.ok(error instanceof BackyError, `not a BackyError: ${error}`);
    assert.equal(error.exitCode, 1);
    assert.ok(!error.message.includes("\n"), "one line");
    return error.message.replace(file, "CFG").replaceAll(dir, "DIR");
  }
  throw new Error("the config loaded");
}

const PREFIX = "Configuration error in CFG, section [DataBackend], key";

Deno.test("s3 config: the keys of a RADOS Gateway setup, with the defaults", async () => {
  const { config } = await load(S3);
  assert.equal(config.data.type, "s3");
  assert.deepEqual(config.data.s3, {
    endpoint: "http://127.0.0.1:7480",
    region: "us-east-1",
    bucket: "backups",
    addressingStyle: "path",
    accessKeyId: "AK",
    secretAccessKey: "SK",
    urlEncodedListing: true,
    requestTimeout: 60,
    retryDeadline: 300,
  });
  assert.equal(config.data.cleanupGraceSeconds, 24 * 3600);
  assert.equal(config.data.simultaneousWrites, 1);
  assert.equal(config.data.simultaneousReads, 1);
});

Deno.test("s3 config: backy2's empty values mean unset; options parse as real values", async () => {
  const { config } = await load({
    ...S3,
    endpoint_url: "",
    region_name: "eu-west-1",
    use_ssl: "",
    addressing_style: "",
    signature_version: "s3v4",
    disable_encoding_type: "",
  });
  assert.equal(config.data.s3!.endpoint, "https://s3.eu-west-1.amazonaws.com");
  assert.equal(config.data.s3!.addressingStyle, "virtual");
  assert.equal(config.data.s3!.urlEncodedListing, true);
  const plain = await load({ ...S3, endpoint_url: null, use_ssl: "false", disable_encoding_type: "false" });
  assert.equal(plain.config.data.s3!.endpoint, "http://s3.amazonaws.com");
  assert.equal(plain.config.data.s3!.urlEncodedListing, true, "'false' means false, not 'any non-empty value'");
  const tuned = await load({
    ...S3,
    endpoint_url: "https://gw.example/s3/",
    addressing_style: "virtual",
    disable_encoding_type: "yes",
    request_timeout: "2.5",
    retry_deadline: "30",
    cleanup_grace_hours: "0",
  });
  assert.equal(tuned.config.data.s3!.endpoint, "https://gw.example/s3");
  assert.equal(tuned.config.data.s3!.addressingStyle, "virtual");
  assert.equal(tuned.config.data.s3!.urlEncodedListing, false);
  assert.equal(tuned.config.data.s3!.requestTimeout, 2.5);
  assert.equal(tuned.config.data.s3!.retryDeadline, 30);
  assert.equal(tuned.config.data.cleanupGraceSeconds, 0);
});

Deno.test("s3 config: credentials from files, trailing whitespace stripped, paths relative to the cwd", async () => {
  const dir = await Deno.makeTempDir({ prefix: "backy-s3-config-test-" });
  await Deno.writeTextFile(join(dir, "id"), "AKFILE  \n\n");
  await Deno.writeTextFile(join(dir, "secret"), " S K\t\n");
  const { config } = await load({
    ...S3,
    aws_access_key_id: null,
    aws_secret_access_key: null,
    aws_access_key_id_file: join(dir, "id"),
    aws_secret_access_key_file: join(dir, "secret"),
  });
  assert.equal(config.data.s3!.accessKeyId, "AKFILE");
  assert.equal(config.data.s3!.secretAccessKey, " S K");
});

Deno.test("s3 config: credential problems are one line naming the key", async () => {
  const files = { ...S3, aws_access_key_id: null, aws_access_key_id_file: "id" };
  assert.equal(await loadError(files), `${PREFIX} aws_access_key_id_file: cannot read DIR/id: no such file.`);
  assert.equal(
    await loadError(files, (dir) => Deno.mkdir(join(dir, "id"))),
    `${PREFIX} aws_access_key_id_file: cannot read DIR/id: it is a directory.`,
  );
  assert.equal(
    await loadError(files, (dir) => Deno.writeTextFile(join(dir, "id"), " \n")),
    `${PREFIX} aws_access_key_id_file: DIR/id is empty.`,
  );
  if (Deno.uid() !== 0) {
    assert.equal(
      await loadError(files, async (dir) => {
        await Deno.writeTextFile(join(dir, "id"), "AK");
        await Deno.chmod(join(dir, "id"), 0);
      }),
      `${PREFIX} aws_access_key_id_file: cannot read DIR/id: permission denied.`,
    );
  }
  assert.equal(
    await loadError({ ...S3, aws_secret_access_key_file: "s" }),
    `${PREFIX} aws_secret_access_key_file: set either aws_secret_access_key or aws_secret_access_key_file, not both.`,
  );
  assert.equal(
    await loadError({ ...S3, aws_secret_access_key: null }),
    `${PREFIX} aws_secret_access_key: missing (or name a file holding it with aws_secret_access_key_file).`,
  );
});

Deno.test("s3 config: bad values are one line naming the key", async () => {
  const cases: [Keys, string][] = [
    [{ addressing_style: "dns" }, "addressing_style: 'dns' is not an addressing style (path, virtual or auto)."],
    [{ signature_version: "s3" }, "signature_version: 's3' is not supported (only s3v4)."],
    [{ use_ssl: "maybe" }, "use_ssl: 'maybe' is not a boolean (use 1/yes/true/on or 0/no/false/off)."],
    [{ bucket_name: null }, "bucket_name: missing."],
    [{ bucket_name: "a/b" }, "bucket_name: 'a/b' is not a bucket name (letters, digits, '.', '-', '_')."],
    [
      { endpoint_url: "ftp://x" },
      "endpoint_url: 'ftp://x' is not an http:// or https:// URL without query, fragment or user.",
    ],
    [
      { endpoint_url: "127.0.0.1:80" },
      "endpoint_url: '127.0.0.1:80' is not a URL (expected http://HOST:PORT or https://HOST).",
    ],
    [{ request_timeout: "0" }, "request_timeout: '0' is not a number of at least 0.001."],
    [{ retry_deadline: "soon" }, "retry_deadline: 'soon' is not a number of at least 0.001."],
    [{ cleanup_grace_hours: "-1" }, "cleanup_grace_hours: '-1' is not a number of at least 0."],
  ];
  for (const [keys, problem] of cases) assert.equal(await loadError({ ...S3, ...keys }), `${PREFIX} ${problem}`);
});

Deno.test("minio config: host and secure map onto the S3 store, path-style", async () => {
  const minio = {
    type: "backy2.data_backends.minio",
    bucket_name: "b",
    aws_access_key_id: "A",
    aws_secret_access_key: "S",
  };
  const { config } = await load({ ...minio, host: "minio.lan:9000" });
  assert.equal(config.data.type, "minio");
  assert.equal(config.data.s3!.endpoint, "http://minio.lan:9000");
  assert.equal(config.data.s3!.addressingStyle, "path");
  const secure = await load({ ...minio, host: "minio.lan:9000", secure: "true", region_name: "home" });
  assert.equal(secure.config.data.s3!.endpoint, "https://minio.lan:9000");
  assert.equal(secure.config.data.s3!.region, "home");
  assert.equal(await loadError(minio), `${PREFIX} host: missing (host:port of the MinIO server).`);
});

Deno.test("file config: cleanup_grace_hours defaults to 0 and may be set", async () => {
  const { config } = await load({ type: "backy2.data_backends.file", path: "/d", simultaneous_writes: "1" });
  assert.equal(config.data.cleanupGraceSeconds, 0);
  assert.equal(config.data.s3, null);
  const graced = await load({
    type: "backy2.data_backends.file",
    path: "/d",
    simultaneous_writes: "1",
    cleanup_grace_hours: "1.5",
  });
  assert.equal(graced.config.data.cleanupGraceSeconds, 5400);
});
