/**
 * The S3 store against the real Ceph RADOS Gateway: the common store suite (src/store/conformance.ts),
 * listing and deleting past one page (1000 keys), and how each kind of failure is classified, proven through
 * the fault proxy with one fault at a time: 503 SlowDown, a dropped connection, a body cut short, a 200
 * answer with an `<Error>` body and a request held past its timeout are transient; a missing key, a wrong
 * secret and a missing bucket are not. Then the retrying store through random faults.
 */
import assert from "node:assert/strict";
import { storeConformance, testUid } from "../src/store/conformance.ts";
import { openS3, S3Store } from "../src/store/s3_store.ts";
import { S3Client, S3Error } from "../src/store/s3_client.ts";
import { TransientError } from "../src/store/retry_store.ts";
import { BlobNotFoundError, PLAIN } from "../src/store/block_store.ts";
import type { S3Settings } from "../src/config/s3_config.ts";
import { bucketKeys, createBucket, type Gateway, gatewayOrFailingTest, removeBucket } from "./s3_helpers.ts";
import { FaultProxy, type FaultRates } from "./fault_proxy.ts";
import { testSeed } from "./helpers.ts";

const gateway = gatewayOrFailingTest("s3_store_test");

function settings(gateway: Gateway, bucket: string, overrides: Partial<S3Settings> = {}): S3Settings {
  return {
    endpoint: gateway.endpoint,
    region: "us-east-1",
    bucket,
    addressingStyle: "path",
    accessKeyId: gateway.key,
    secretAccessKey: gateway.secret,
    urlEncodedListing: true,
    requestTimeout: 10,
    retryDeadline: 20,
    ...overrides,
  };
}

const quiet = { warning: (_: string) => {} };

if (gateway) {
  storeConformance("S3", async () => {
    const bucket = await createBucket(gateway, "conf");
    return { store: await openS3(settings(gateway, bucket), quiet), dispose: () => removeBucket(gateway, bucket) };
  }, { removeManyReportsMissing: false, clockSkewSeconds: 5 });

  Deno.test("S3 store: listing pages past 1000 keys, and DeleteObjects removes them in batches", async () => {
    const bucket = await createBucket(gateway, "paging");
    try {
      const store = await openS3(settings(gateway, bucket, { urlEncodedListing: false }), quiet);
      const uids = Array.from({ length: 2345 }, (_, n) => testUid(n % 2 ? "a" : "b", n));
      for (let start = 0; start < uids.length; start += 64) {
        await Promise.all(uids.slice(start, start + 64).map((uid) => store.write(uid, new Uint8Array([1]))));
      }
      const listed = (await Array.fromAsync(store.list())).map((blob) => blob.uid);
      assert.deepEqual(listed, [...uids].sort());
      assert.equal((await Array.fromAsync(store.list("a"))).length, 1172);
      assert.deepEqual(await bucketKeys(gateway, bucket), [...uids].sort());
      await store.removeMany(uids.slice(0, 2300));
      assert.deepEqual(await bucketKeys(gateway, bucket), uids.slice(2300).sort());
    } finally {
      await removeBucket(gateway, bucket);
    }
  });

  Deno.test("S3 store: keys that cannot be blob uids are not listed as blobs", async () => {
    const bucket = await createBucket(gateway, "foreign");
    try {
      const store = new S3Store(new S3Client(settings(gateway, bucket)));
      await store.write("notes/readme.txt", new Uint8Array([1]));
      await store.write("a.b", new Uint8Array([1]));
      await store.write(testUid("aa", 1), new Uint8Array([1]));
      assert.deepEqual((await Array.fromAsync(store.list())).map((blob) => blob.uid), [testUid("aa", 1)]);
    } finally {
      await removeBucket(gateway, bucket);
    }
  });

  Deno.test("S3 store: transient failures, one kind at a time, through the fault proxy", async () => {
    const bucket = await createBucket(gateway, "faults");
    const proxy = FaultProxy.start(gateway.endpoint, { seed: 1, rates: {}, delayMs: 1500 });
    try {
      const direct = new S3Store(new S3Client(settings(gateway, bucket)));
      const uid = testUid("cc", 1);
      await direct.write(uid, new Uint8Array(100_000).fill(7));
      const proxied = new S3Store(
        new S3Client(settings(gateway, bucket, { endpoint: proxy.url, requestTimeout: 0.5 })),
      );
      const cases: [FaultRates, () => Promise<unknown>, RegExp][] = [
        [{ slowDown: 1 }, () => proxied.write(testUid("cc", 2), new Uint8Array(10)), /HTTP 503 SlowDown/],
        [{ reset: 1 }, () => proxied.read(uid, PLAIN), /S3 GET .*cc000001/],
        [{ lostAnswer: 1 }, () => proxied.write(testUid("cc", 3), new Uint8Array(10)), /S3 PUT/],
        [{ cutBody: 1 }, () => proxied.read(uid, PLAIN), /the body was cut short \(\d+ of 100000 bytes/],
        [{ cutBody: 1 }, () => Array.fromAsync(proxied.list()), /S3 GET .*ListObjectsV2/],
        [{ errorBody: 1 }, () => proxied.write(testUid("cc", 4), new Uint8Array(10)), /200 with an error body/],
        [{ errorBody: 1 }, () => proxied.removeMany([testUid("cc", 4)]), /200 with an error body/],
        [{ delay: 1 }, () => proxied.read(uid, PLAIN), /no complete answer within 0.5 s \(request_timeout\)/],
      ];
      for (const [rates, operation, message] of cases) {
        proxy.rates = rates;
        const error = await operation().then(() => null, (e) => e);
        assert.ok(error instanceof TransientError, `${JSON.stringify(rates)}: expected a TransientError, got ${error}`);
        assert.match(error.message, message);
      }
      console.log(`fault proxy: ${proxy.summary()}`);
      assert.equal(proxy.totalInjected, cases.length);
    } finally {
      await proxy.close();
      await removeBucket(gateway, bucket);
    }
  });

  Deno.test("S3 store: permanent failures are not transient", async () => {
    const bucket = await createBucket(gateway, "perm");
    try {
      const store = new S3Store(new S3Client(settings(gateway, bucket)));
      await assert.rejects(store.read(testUid("dd", 1), PLAIN), BlobNotFoundError);
      const cases: [Partial<S3Settings>, RegExp][] = [
        [{ secretAccessKey: "wrong" }, /HTTP 403 SignatureDoesNotMatch: .*aws_secret_access_key/],
        [{ accessKeyId: "NOSUCHKEY" }, /HTTP 403 InvalidAccessKeyId: .*aws_access_key_id/],
        [{ bucket: `${bucket}-missing` }, /HTTP 404 NoSuchBucket: the bucket does not exist \(bucket_name\)/],
      ];
      for (const [overrides, message] of cases) {
        const bad = new S3Store(new S3Client(settings(gateway, bucket, overrides)));
        for (const operation of [() => bad.check(), () => bad.read(testUid("dd", 1), PLAIN)]) {
          const error = await operation().then(() => null, (e) => e);
          assert.ok(error instanceof S3Error, `expected an S3Error, got ${error}`);
          assert.match(error.message, message);
        }
      }
    } finally {
      await removeBucket(gateway, bucket);
    }
  });

  Deno.test("S3 store with retries: every operation succeeds through random faults", async () => {
    const bucket = await createBucket(gateway, "retry");
    const seed = testSeed();
    const rates: FaultRates = {
      slowDown: 0.06,
      reset: 0.06,
      lostAnswer: 0.06,
      cutBody: 0.06,
      errorBody: 0.06,
      delay: 0.02,
    };
    const proxy = FaultProxy.start(gateway.endpoint, { seed, rates: {}, delayMs: 1200 });
    const warnings: string[] = [];
    try {
      const proxied = settings(gateway, bucket, { endpoint: proxy.url, requestTimeout: 1, retryDeadline: 30 });
      const store = await openS3(proxied, { warning: (message) => warnings.push(message) });
      proxy.rates = rates;
      const blobs = Array.from({ length: 60 }, (_, n) => ({ uid: testUid("ee", n), data: new Uint8Array(30000 + n) }));
      blobs.forEach(({ data }, n) => data.fill(n));
      for (let start = 0; start < blobs.length; start += 8) {
        await Promise.all(blobs.slice(start, start + 8).map(({ uid, data }) => store.write(uid, data)));
      }
      for (const { uid, data } of blobs) assert.deepEqual(await store.read(uid, PLAIN), data);
      assert.equal((await Array.fromAsync(store.list())).length, blobs.length);
      await store.removeMany(blobs.slice(0, 30).map((blob) => blob.uid));
      await store.remove(blobs[30].uid); // true, or false when a retry found it already removed
      proxy.rates = {};
      assert.deepEqual(await bucketKeys(gateway, bucket), blobs.slice(31).map((blob) => blob.uid));
      console.log(`fault proxy (seed ${seed}): ${proxy.summary()}; ${warnings.length} retries logged`);
      assert.ok(proxy.totalInjected > 0, "no fault was injected");
      assert.ok(warnings.length >= proxy.totalInjected, "every fault led to a retry");
    } finally {
      await proxy.close();
      await removeBucket(gateway, bucket);
    }
  });
}
