/** Unit tests of the S3 XML reader and writer (listings, deletes, errors), on documents as RGW and AWS send them. */
import assert from "node:assert/strict";
import { deleteRequest, parseDeleteResult, parseError, parseListPage, rootElement, unescapeXml } from "./s3_xml.ts";

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

Deno.test("parseListPage: keys, dates, and the continuation token of a truncated page", () => {
  const xml = `${DECLARATION}<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>` +
    "<Prefix></Prefix><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>" +
    "<Contents><Key>a1</Key><LastModified>2026-12-01T04:11:37.733Z</LastModified><ETag>&quot;x&quot;</ETag>" +
    "<Size>6</Size></Contents><Contents><Key>b&amp;2</Key><LastModified>2026-12-01T05:00:00.000Z</LastModified>" +
    "</Contents><KeyCount>2</KeyCount><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=" +
    "</NextContinuationToken></ListBucketResult>";
  const page = parseListPage(xml);
  assert.deepEqual(page.objects, [
    { key: "a1", lastModified: new Date("2026-12-01T04:11:37.733Z") },
    { key: "b&2", lastModified: new Date("2026-12-01T05:00:00.000Z") },
  ]);
  assert.equal(page.continuationToken, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
});

Deno.test("parseListPage: URL-encoded keys, the last page, an empty bucket", () => {
  const xml = "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>" +
    "<Contents><Key>a%20b%2Bc+d</Key><LastModified>2026-01-01T00:00:00Z</LastModified></Contents></ListBucketResult>";
  assert.deepEqual(parseListPage(xml), {
    objects: [{ key: "a b+c d", lastModified: new Date("2026-01-01T00:00:00Z") }],
    continuationToken: undefined,
  });
  assert.deepEqual(
    parseListPage(`${DECLARATION}<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>`),
    {
      objects: [],
      continuationToken: undefined,
    },
  );
});

Deno.test("parseListPage: an error document or a self-contradicting page is refused", () => {
  assert.throws(() => parseListPage(`${DECLARATION}<Error><Code>InternalError</Code></Error>`), /got <Error>/);
  assert.throws(() => parseListPage("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"), /without/);
  assert.throws(() => parseListPage("<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>"), /date/);
  assert.throws(() => parseListPage(""), /got <\?>/);
});

Deno.test("deleteRequest and parseDeleteResult: quiet batches and per-key errors", () => {
  assert.equal(
    deleteRequest(["a", "b<&"]),
    `${DECLARATION}<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b&lt;&amp;</Key></Object></Delete>`,
  );
  assert.deepEqual(parseDeleteResult(`${DECLARATION}<DeleteResult xmlns="x"></DeleteResult>`), []);
  assert.deepEqual(parseDeleteResult("<DeleteResult/>"), []);
  const answer = "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>" +
    "<Message>Access Denied</Message></Error></DeleteResult>";
  assert.deepEqual(parseDeleteResult(answer), [{ key: "b", code: "AccessDenied", message: "Access Denied" }]);
  assert.throws(() => parseDeleteResult("<Error><Code>SlowDown</Code></Error>"), /got <Error>/);
});

Deno.test("parseError and rootElement", () => {
  assert.deepEqual(parseError(`${DECLARATION}<Error><Code>NoSuchKey</Code><Message></Message></Error>`), {
    code: "NoSuchKey",
    message: "",
  });
  assert.equal(parseError("<ListBucketResult/>"), undefined);
  assert.equal(parseError("binary \x00 data"), undefined);
  assert.equal(rootElement(`${DECLARATION}\n<!-- c --><DeleteResult>`), "DeleteResult");
  assert.equal(unescapeXml("&lt;&#65;&#x42;&apos;&quot;&gt;&amp;amp;"), "<AB'\">&amp;");
});
