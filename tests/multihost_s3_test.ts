/**
 * The multi-host proof (tests/multihost.ts) with an S3 store: both hosts write their blobs into one bucket on
 * the RADOS Gateway of scripts/ceph-cluster; the test lists the bucket with curl. Without a gateway this file
 * fails (it is never skipped).
 */
import { multihostTests } from "./multihost.ts";
import {
  bucketKeys,
  createBucket,
  type Gateway,
  gatewayOrFailingTest,
  removeBucket,
  s3DataBackend,
} from "./s3_helpers.ts";

const gateway = gatewayOrFailingTest("multihost_s3_test");

/** Blob keys are bare uids; keys with `/` or `.` are other objects the store may keep beside them. */
async function blobKeys(gateway: Gateway, bucket: string): Promise<Set<string>> {
  return new Set((await bucketKeys(gateway, bucket)).filter((key) => !/[/.]/.test(key)));
}

if (gateway) {
  multihostTests({
    name: "an S3 bucket",
    open: async () => {
      const bucket = await createBucket(gateway, "multihost");
      return {
        dataBackend: s3DataBackend(gateway, bucket),
        blobs: () => blobKeys(gateway, bucket),
        dispose: () => removeBucket(gateway, bucket),
      };
    },
    sharedBlocks: 512,
    killedBlocks: 2048,
  });
}
