/**
 * One S3 request at a time, signed with AWS Signature Version 4 (npm `aws4fetch`, whose own retry loop is not
 * used) and sent with `fetch`: URLs for path- and virtual-hosted addressing, a timeout over the request and
 * its whole answer, the answer's body read completely (into a caller's buffer when it fits), and every
 * failure sorted into "try again" ({@link TransientError}) or "give up" ({@link S3Error}).
 *
 * Transient: a connection refused, reset or closed; a timeout; 5xx, 429, 408 and 400 RequestTimeout; a body
 * shorter than its Content-Length (fetch reports that only while the body is read, so it is checked here);
 * and a 2xx answer whose body is an `<Error>` document. Everything else (403, 404, other 4xx) is permanent.
 */
import { AwsClient } from "aws4fetch";
import type { S3Settings } from "../config/s3_config.ts";
import { TransientError } from "./retry_store.ts";
import { parseError } from "./s3_xml.ts";
import { BackyError } from "../util/errors.ts";

export interface S3Request {
  method: "GET" | "PUT" | "POST" | "DELETE" | "HEAD";
  url: string;
  /** For messages: what the request is about, e.g. `bucket/key`. */
  target: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Where a GET may put the answer's body when it fits. */
  into?: ArrayBuffer;
  /** The answer's body is an XML document (listings, deletes): an `<Error>` root is a failure. */
  xmlAnswer?: boolean;
}

export interface S3Answer {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** A failure that retrying will not fix; `code` is S3's error code when the answer had one. */
export class S3Error extends BackyError {
  constructor(message: string, readonly status: number, readonly code: string) {
    super(message);
    this.name = "S3Error";
  }
}

/** What a permanent error code most likely means, for the one line the user sees. */
const HINTS: Record<string, string> = {
  NoSuchBucket: "the bucket does not exist (bucket_name)",
  InvalidAccessKeyId: "the server does not know this access key (aws_access_key_id)",
  SignatureDoesNotMatch: "the signature does not match: is aws_secret_access_key right?",
  AccessDenied: "access denied for this key",
  RequestTimeTooSkewed: "this host's clock differs too much from the server's",
  AuthorizationHeaderMalformed: "the server expects another region (region_name)",
  PermanentRedirect: "the bucket lives at another endpoint or region (endpoint_url, region_name)",
};

const TRANSIENT_CODES = new Set(["RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"]);
const decoder = new TextDecoder();

export class S3Client {
  private readonly signer: AwsClient;
  private readonly endpoint: URL;

  constructor(readonly settings: S3Settings) {
    this.signer = new AwsClient({
      accessKeyId: settings.accessKeyId,
      secretAccessKey: settings.secretAccessKey,
      service: "s3",
      region: settings.region,
      retries: 0,
    });
    this.endpoint = new URL(settings.endpoint);
  }

  /** The URL of the bucket, with a query (`undefined` values are left out). */
  bucketUrl(query: Record<string, string | undefined> = {}): string {
    const url = this.url("");
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value);
    // `?delete` and friends are sub-resources without a value; URLSearchParams would write `delete=`.
    return url.toString().replace(/=(&|$)/g, "$1");
  }

  /** The URL of an object; a `/` in its key (`meta/...`) stays a path separator. */
  objectUrl(key: string): string {
    return this.url(key.split("/").map(encodeURIComponent).join("/")).toString();
  }

  private url(path: string): URL {
    const { bucket, addressingStyle } = this.settings;
    const base = this.endpoint.pathname.replace(/\/+$/, "");
    if (addressingStyle === "virtual") {
      return new URL(`${this.endpoint.protocol}//${bucket}.${this.endpoint.host}${base}/${path}`);
    }
    return new URL(`${this.endpoint.protocol}//${this.endpoint.host}${base}/${encodeURIComponent(bucket)}/${path}`);
  }

  /** Sends one request and reads its whole answer; a non-2xx answer is thrown as an error. */
  async send(request: S3Request): Promise<S3Answer> {
    const what = `S3 ${request.method} ${request.target}`;
    const timeoutMs = Math.round(this.settings.requestTimeout * 1000);
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const signed = await this.signer.sign(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body as Uint8Array<ArrayBuffer> | undefined,
        signal,
      });
      const response = await fetch(signed);
      const body = request.method === "HEAD" ? new Uint8Array(0) : await readBody(response, request.into, what);
      const answer = { status: response.status, headers: response.headers, body };
      if (response.status >= 300) throw failure(what, answer);
      if (request.method !== "GET" || request.xmlAnswer) rejectErrorDocument(what, answer);
      return answer;
    } catch (error) {
      throw classify(error, what, this.settings.requestTimeout);
    }
  }
}

/** Reads the whole body; a body shorter than its Content-Length is a transient failure. */
async function readBody(response: Response, into: ArrayBuffer | undefined, what: string): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const header = response.headers.get("content-length");
  const expected = header === null ? null : Number(header);
  if (expected === null || !Number.isSafeInteger(expected)) return new Uint8Array(await response.arrayBuffer());
  const target = into && into.byteLength >= expected ? new Uint8Array(into, 0, expected) : new Uint8Array(expected);
  const reader = response.body.getReader();
  let filled = 0;
  const cutShort = (how: string) =>
    new TransientError(`${what}: the body was cut short (${filled} of ${expected} bytes${how})`);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.length > expected) {
        throw new TransientError(`${what}: the body is longer than its Content-Length ${expected}`);
      }
      target.set(value, filled);
      filled += value.length;
    }
  } catch (error) {
    // fetch itself may notice the short body (a read error) or not (an early end, checked below).
    if (error instanceof TypeError) throw cutShort(`: ${networkProblem(error)}`);
    throw error;
  } finally {
    reader.releaseLock();
  }
  if (filled < expected) throw cutShort("");
  return target;
}

/** The error for a non-2xx answer: transient or permanent by status and S3 error code. */
function failure(what: string, answer: S3Answer): Error {
  const info = parseError(decoder.decode(answer.body));
  const code = info?.code ?? "";
  const detail = `HTTP ${answer.status}${code ? ` ${code}` : ""}${info?.message ? ` (${info.message})` : ""}`;
  const { status } = answer;
  if (status >= 500 || status === 429 || status === 408 || TRANSIENT_CODES.has(code)) {
    return new TransientError(`${what}: ${detail}`);
  }
  const hint = HINTS[code] ?? (status === 403 ? HINTS.AccessDenied : "");
  return new S3Error(`${what}: ${detail}${hint ? `: ${hint}` : ""}`, status, code);
}

/** A 2xx answer that carries an `<Error>` document (S3 may send one after it has started a 200). */
function rejectErrorDocument(what: string, answer: S3Answer): void {
  if (answer.body.length === 0 || answer.body.length > 65536) return;
  const info = parseError(decoder.decode(answer.body));
  if (info) {
    throw new TransientError(`${what}: HTTP ${answer.status} with an error body: ${info.code} (${info.message})`);
  }
}

/** Network failures and timeouts become transient errors; S3 and transient errors pass as they are. */
function classify(error: unknown, what: string, timeoutSeconds: number): Error {
  if (error instanceof TransientError || error instanceof S3Error) return error;
  if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return new TransientError(`${what}: no complete answer within ${timeoutSeconds} s (request_timeout)`);
  }
  if (error instanceof TypeError) return new TransientError(`${what}: ${networkProblem(error)}`);
  return error as Error;
}

/** The useful end of fetch's network error text, e.g. "Connection refused (os error 111)". */
function networkProblem(error: TypeError): string {
  const text = [error.message, (error.cause as Error | undefined)?.message].filter(Boolean).join(": ");
  const parts = text.split(/: (?=[A-Za-z])/);
  return parts.slice(-2).join(": ") || "network error";
}
