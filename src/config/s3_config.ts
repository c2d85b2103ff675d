/**
 * The [DataBackend] keys of the S3 store, for `type: backy2.data_backends.s3` (backy2's boto3 keys) and
 * `type: backy2.data_backends.minio` (backy2's minio keys, mapped onto the same store), checked at start-up
 * like every other key: a bad value is one line naming the file, section and key.
 *
 * Credentials come from `aws_access_key_id` / `aws_secret_access_key`, or from the files named by
 * `aws_access_key_id_file` / `aws_secret_access_key_file` (their content, trailing whitespace stripped).
 */
import type { ConfigSection } from "./section.ts";

export type AddressingStyle = "path" | "virtual";

export interface S3Settings {
  /** The service's base URL without a trailing slash, e.g. `http://127.0.0.1:7480` or `https://s3.eu-west-1.amazonaws.com`. */
  endpoint: string;
  region: string;
  bucket: string;
  /** path: `ENDPOINT/BUCKET/KEY`; virtual: `BUCKET.HOST/KEY`. */
  addressingStyle: AddressingStyle;
  accessKeyId: string;
  secretAccessKey: string;
  /** Ask for URL-encoded keys in listings (`encoding-type=url`); `disable_encoding_type` turns it off. */
  urlEncodedListing: boolean;
  /** Seconds one request (with its answer's body) may take. */
  requestTimeout: number;
  /** Seconds a failing operation is retried before the command fails. */
  retryDeadline: number;
}

export const DEFAULT_REQUEST_TIMEOUT = 60;
export const DEFAULT_RETRY_DEADLINE = 300;
const DEFAULT_REGION = "us-east-1";
const SIGNATURE_VERSIONS = new Set(["", "s3v4", "v4"]);

/** Reads the S3 settings of a `s3` or `minio` [DataBackend] section. */
export function readS3Settings(section: ConfigSection, type: "s3" | "minio"): S3Settings {
  const region = optional(section, "region_name") || DEFAULT_REGION;
  const location = type === "minio" ? minioLocation(section) : s3Location(section, region);
  return {
    ...location,
    region,
    bucket: readBucket(section),
    accessKeyId: readCredential(section, "aws_access_key_id"),
    secretAccessKey: readCredential(section, "aws_secret_access_key"),
    urlEncodedListing: !optionalBoolean(section, "disable_encoding_type", false),
    requestTimeout: readSeconds(section, "request_timeout", DEFAULT_REQUEST_TIMEOUT),
    retryDeadline: readSeconds(section, "retry_deadline", DEFAULT_RETRY_DEADLINE),
  };
}

/** A non-negative number of seconds (or hours, ...); decimals allowed. */
export function readSeconds(section: ConfigSection, key: string, fallback: number, min = 0.001): number {
  const text = optional(section, key);
  if (text === "") return fallback;
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value >= min)) throw section.error(key, `'${text}' is not a number of at least ${min}.`);
  return value;
}

/** A value that backy2 defaults to the empty string; empty means "not set". */
function optional(section: ConfigSection, key: string): string {
  return (section.get(key) ?? "").trim();
}

function optionalBoolean(section: ConfigSection, key: string, fallback: boolean): boolean {
  return optional(section, key) === "" ? fallback : section.boolean(key, fallback);
}

function s3Location(section: ConfigSection, region: string): Pick<S3Settings, "endpoint" | "addressingStyle"> {
  const signature = optional(section, "signature_version").toLowerCase();
  if (!SIGNATURE_VERSIONS.has(signature)) {
    throw section.error("signature_version", `'${signature}' is not supported (only s3v4).`);
  }
  const given = optional(section, "endpoint_url");
  // As in boto3, use_ssl only matters without endpoint_url: the URL's scheme wins.
  const useSsl = optionalBoolean(section, "use_ssl", true);
  const endpoint = given ? parseEndpoint(section, "endpoint_url", given) : awsEndpoint(region, useSsl);
  return { endpoint, addressingStyle: readAddressingStyle(section, given === "") };
}

function minioLocation(section: ConfigSection): Pick<S3Settings, "endpoint" | "addressingStyle"> {
  const host = optional(section, "host");
  if (host === "") throw section.error("host", "missing (host:port of the MinIO server).");
  const scheme = optionalBoolean(section, "secure", false) ? "https" : "http";
  return { endpoint: parseEndpoint(section, "host", `${scheme}://${host}`), addressingStyle: "path" };
}

function awsEndpoint(region: string, useSsl: boolean): string {
  const host = region === DEFAULT_REGION ? "s3.amazonaws.com" : `s3.${region}.amazonaws.com`;
  return `${useSsl ? "https" : "http"}://${host}`;
}

/** `http(s)://host[:port][/path]` without query or fragment; returns it without a trailing slash. */
function parseEndpoint(section: ConfigSection, key: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw section.error(key, `'${text}' is not a URL (expected http://HOST:PORT or https://HOST).`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash || url.username) {
    throw section.error(key, `'${text}' is not an http:// or https:// URL without query, fragment or user.`);
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
}

/** `path`, `virtual`, or empty/`auto`: virtual on AWS, path on any other endpoint (which may be an IP address). */
function readAddressingStyle(section: ConfigSection, onAws: boolean): AddressingStyle {
  const style = optional(section, "addressing_style").toLowerCase();
  if (style === "path" || style === "virtual") return style;
  if (style === "" || style === "auto") return onAws ? "virtual" : "path";
  throw section.error("addressing_style", `'${style}' is not an addressing style (path, virtual or auto).`);
}

function readBucket(section: ConfigSection): string {
  const bucket = optional(section, "bucket_name");
  if (bucket === "") throw section.error("bucket_name", "missing.");
  if (!/^[A-Za-z0-9._-]{1,255}$/.test(bucket)) {
    throw section.error("bucket_name", `'${bucket}' is not a bucket name (letters, digits, '.', '-', '_').`);
  }
  return bucket;
}

/** The key itself, or the content of `KEY_file` with trailing whitespace stripped; exactly one of them. */
function readCredential(section: ConfigSection, key: string): string {
  const fileKey = `${key}_file`;
  const value = optional(section, key);
  const hasFile = optional(section, fileKey) !== "";
  if (value !== "" && hasFile) throw section.error(fileKey, `set either ${key} or ${fileKey}, not both.`);
  if (value !== "") return value;
  if (!hasFile) throw section.error(key, `missing (or name a file holding it with ${fileKey}).`);
  const path = section.path(fileKey);
  let content: string;
  try {
    content = Deno.readTextFileSync(path);
  } catch (error) {
    throw section.error(fileKey, `cannot read ${path}: ${readProblem(error)}.`);
  }
  const credential = content.trimEnd();
  if (credential === "") throw section.error(fileKey, `${path} is empty.`);
  return credential;
}

function readProblem(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof TypeError) return "it is not UTF-8 text";
  return (error as Error).message;
}
