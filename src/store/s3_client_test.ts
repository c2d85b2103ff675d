/** Unit tests of the S3 client's URLs: path- and virtual-hosted addressing, endpoint paths, sub-resources. */
import assert from "node:assert/strict";
import { S3Client } from "./s3_client.ts";
import type { S3Settings } from "../config/s3_config.ts";

function client(overrides: Partial<S3Settings>): S3Client {
  return new S3Client({
    endpoint: "http://127.0.0.1:7480",
    region: "us-east-1",
    bucket: "backups",
    addressingStyle: "path",
    accessKeyId: "AK",
    secretAccessKey: "SK",
    urlEncodedListing: true,
    requestTimeout: 60,
    retryDeadline: 300,
    ...overrides,
  });
}

Deno.test("S3Client: path-style URLs put the bucket in the path", () => {
  const path = client({});
  assert.equal(path.objectUrl("0123abcdXYZ"), "http://127.0.0.1:7480/backups/0123abcdXYZ");
  assert.equal(path.bucketUrl({ delete: "" }), "http://127.0.0.1:7480/backups/?delete");
  assert.equal(
    path.bucketUrl({ "list-type": "2", prefix: undefined, "start-after": "a b", "max-keys": "1" }),
    "http://127.0.0.1:7480/backups/?list-type=2&start-after=a+b&max-keys=1",
  );
  assert.equal(
    path.bucketUrl({ "continuation-token": "x/y+z=" }),
    "http://127.0.0.1:7480/backups/?continuation-token=x%2Fy%2Bz%3D",
  );
});

Deno.test("S3Client: virtual-hosted URLs put the bucket in the host; an endpoint path is kept; a / in a key separates", () => {
  const virtual = client({ endpoint: "https://s3.eu-west-1.amazonaws.com", addressingStyle: "virtual" });
  assert.equal(virtual.objectUrl("k1"), "https://backups.s3.eu-west-1.amazonaws.com/k1");
  assert.equal(virtual.bucketUrl({ delete: "" }), "https://backups.s3.eu-west-1.amazonaws.com/?delete");
  const prefixed = client({ endpoint: "https://gw.example/s3" });
  assert.equal(prefixed.objectUrl("k/1 2"), "https://gw.example/s3/backups/k/1%202");
});
