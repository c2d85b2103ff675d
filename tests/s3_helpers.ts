/**
 * Helpers for the tests that run against the Ceph RADOS Gateway that `scripts/ceph-cluster` starts
 * (`scripts/test` exports BACKY2_S3_ENDPOINT, BACKY2_S3_KEY, BACKY2_S3_SECRET and BACKY2_CEPH_CONF). Without
 * a gateway these tests fail, never skip. Buckets are made, inspected and removed with tools other than
 * backy2's own client: `curl --aws-sigv4` and `radosgw-admin`.
 */
import { DatabaseSync } from "node:sqlite";
import { type ConfigOptions, Sandbox } from "./helpers.ts";

export interface Gateway {
  endpoint: string;
  key: string;
  secret: string;
  cephConf: string;
}

/** The gateway from the environment, or null after registering a test that fails and says how to get one. */
export function gatewayOrFailingTest(file: string): Gateway | null {
  const endpoint = Deno.env.get("BACKY2_S3_ENDPOINT");
  const key = Deno.env.get("BACKY2_S3_KEY");
  const secret = Deno.env.get("BACKY2_S3_SECRET");
  const cephConf = Deno.env.get("BACKY2_CEPH_CONF");
  if (endpoint && key && secret && cephConf) return { endpoint, key, secret, cephConf };
  Deno.test(`${file}: needs the RADOS Gateway`, () => {
    throw new Error(
      "BACKY2_S3_ENDPOINT, BACKY2_S3_KEY, BACKY2_S3_SECRET and BACKY2_CEPH_CONF are not all set. Run the suite " +
        "with scripts/test (it starts a cluster with a gateway), or `scripts/ceph-cluster start /tmp/b2ceph` " +
        'and `eval "$(scripts/ceph-cluster env /tmp/b2ceph)"`.',
    );
  });
  return null;
}

const decoder = new TextDecoder();

/** Runs curl with SigV4 against the gateway; returns the HTTP status and the body. */
export async function curlS3(
  gateway: Gateway,
  method: string,
  path: string,
): Promise<{ status: number; body: string }> {
  const output = await new Deno.Command("curl", {
    args: [
      "-s",
      "--max-time",
      "30",
      "-X",
      method,
      "--user",
      `${gateway.key}:${gateway.secret}`,
      "--aws-sigv4",
      "aws:amz:us-east-1:s3",
      "-H",
      "x-amz-content-sha256: UNSIGNED-PAYLOAD",
      "-w",
      "\n%{http_code}",
      `${gateway.endpoint}${path}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(output.stdout);
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}

let buckets = 0;

/** A new, empty bucket with a unique name. */
export async function createBucket(gateway: Gateway, label = "t"): Promise<string> {
  const name = `b2-${label}-${Deno.pid}-${++buckets}-${Date.now().toString(36)}`.toLowerCase();
  const { status, body } = await curlS3(gateway, "PUT", `/${name}`);
  if (status !== 200) throw new Error(`creating bucket ${name} failed: HTTP ${status} ${body}`);
  return name;
}

/** Removes a bucket with everything in it (radosgw-admin, not S3). */
export async function removeBucket(gateway: Gateway, bucket: string): Promise<void> {
  const output = await new Deno.Command("radosgw-admin", {
    args: ["-c", gateway.cephConf, "-n", "client.admin", "bucket", "rm", `--bucket=${bucket}`, "--purge-objects"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`removing bucket ${bucket} failed: ${decoder.decode(output.stderr)}`);
}

/** The blob keys in the bucket (every key but the `meta/...` ones of the metadata objects), as curl sees them. */
export async function bucketKeys(gateway: Gateway, bucket: string): Promise<string[]> {
  return (await allKeys(gateway, bucket)).filter((key) => !key.includes("/"));
}

/** The names of the metadata objects of `kind` in the bucket (keys `meta/{kind}/NAME`): version uids by default. */
export async function metaKeys(gateway: Gateway, bucket: string, kind = "versions"): Promise<string[]> {
  const prefix = `meta/${kind}/`;
  const keys = (await allKeys(gateway, bucket)).filter((key) => key.startsWith(prefix));
  return keys.map((key) => key.slice(prefix.length));
}

/** Every key in the bucket, as curl sees it (ListObjectsV2, all pages). */
async function allKeys(gateway: Gateway, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  for (let page = 0; page < 10_000; page++) {
    // start-after rather than the continuation token, whose characters curl's signing does not encode alike.
    const query = keys.length ? `&start-after=${encodeURIComponent(keys.at(-1)!)}` : "";
    const { status, body } = await curlS3(gateway, "GET", `/${bucket}?list-type=2${query}`);
    if (status !== 200) throw new Error(`listing ${bucket} failed: HTTP ${status} ${body}`);
    keys.push(...[...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((match) => match[1]));
    if (!/<IsTruncated>true<\/IsTruncated>/.test(body)) return keys.sort();
  }
  throw new Error(`listing ${bucket} did not end`);
}

/** The [DataBackend] lines of an S3 store in `bucket` at `endpoint` (a proxy's, say). */
export function s3DataBackend(gateway: Gateway, bucket: string, extra: string[] = [], endpoint = gateway.endpoint) {
  return [
    "[DataBackend]",
    "type: backy2.data_backends.s3",
    `endpoint_url: ${endpoint}`,
    `bucket_name: ${bucket}`,
    `aws_access_key_id: ${gateway.key}`,
    `aws_secret_access_key: ${gateway.secret}`,
    "addressing_style: path",
    "simultaneous_writes: 4",
    "simultaneous_reads: 4",
    ...extra,
  ];
}

/** A sandbox (catalog, log, locks in a temp dir) whose block store is the S3 bucket. */
export async function s3Sandbox(dataBackend: string[], options: ConfigOptions = {}): Promise<Sandbox> {
  const sandbox = await Sandbox.create(options);
  await replaceDataBackend(sandbox, dataBackend);
  return sandbox;
}

/** Rewrites the sandbox config's [DataBackend] section. */
export async function replaceDataBackend(sandbox: Sandbox, dataBackend: string[]): Promise<void> {
  const text = await Deno.readTextFile(sandbox.config);
  const replaced = text.replace(/\[DataBackend\][\s\S]*?(?=\n\[|$)/, dataBackend.join("\n") + "\n");
  await Deno.writeTextFile(sandbox.config, replaced);
}

/** Uploads files as objects (key → file path) with one curl process. */
export async function putObjects(gateway: Gateway, bucket: string, objects: [key: string, path: string][]) {
  const pairs = objects.flatMap(([key, path]) => ["-T", path, `${gateway.endpoint}/${bucket}/${key}`]);
  const output = await new Deno.Command("curl", {
    args: [
      "-sf",
      "--max-time",
      "120",
      "--user",
      `${gateway.key}:${gateway.secret}`,
      "--aws-sigv4",
      "aws:amz:us-east-1:s3",
      "-H",
      "x-amz-content-sha256: UNSIGNED-PAYLOAD",
      "-o",
      "/dev/null",
      ...pairs,
    ],
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`uploading to ${bucket} failed: ${decoder.decode(output.stderr)}`);
}

/** The bytes of one object, as curl gets them. */
export async function getObject(gateway: Gateway, bucket: string, key: string): Promise<Uint8Array> {
  const output = await new Deno.Command("curl", {
    args: [
      "-sf",
      "--max-time",
      "60",
      "--user",
      `${gateway.key}:${gateway.secret}`,
      "--aws-sigv4",
      "aws:amz:us-east-1:s3",
      "-H",
      "x-amz-content-sha256: UNSIGNED-PAYLOAD",
      `${gateway.endpoint}/${bucket}/${key}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`getting ${bucket}/${key} failed: ${decoder.decode(output.stderr)}`);
  return output.stdout;
}

/** The blob uids that committed versions reference (a white-box look into the catalog, to compare with the bucket). */
export function referencedBlobUids(catalogPath: string): string[] {
  const db = new DatabaseSync(catalogPath, { readOnly: true });
  try {
    const query = "SELECT DISTINCT uid FROM blobs WHERE uid IS NOT NULL AND refs > 0";
    const rows = db.prepare(query).all() as { uid: string }[];
    return rows.map((row) => row.uid).sort();
  } finally {
    db.close();
  }
}

/** The uids of the committed versions (those that have a header), sorted. */
export function committedVersionUids(catalogPath: string): string[] {
  const db = new DatabaseSync(catalogPath, { readOnly: true });
  try {
    const rows = db.prepare("SELECT uid FROM versions WHERE draft IS NULL ORDER BY uid").all() as { uid: string }[];
    return rows.map((row) => row.uid);
  } finally {
    db.close();
  }
}
