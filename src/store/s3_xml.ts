/**
 * The few S3 XML documents the S3 store reads and writes: ListObjectsV2 results, DeleteObjects requests and
 * results, and error answers. They are flat and machine-made, so a small reader of element texts is enough
 * (Deno has no DOMParser); it checks the root element, so that an `<Error>` document is never taken for a
 * result.
 */

/** The text of every `<tag>` element in `xml` (not nested in another `<tag>`), unescaped. */
export function elementTexts(xml: string, tag: string): string[] {
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>|<${tag}(?:\\s[^>]*)?/>`, "g");
  return [...xml.matchAll(pattern)].map((match) => unescapeXml(match[1] ?? ""));
}

/** The raw inner XML of every `<tag>` element (for repeated groups such as `<Contents>`). */
export function elementBodies(xml: string, tag: string): string[] {
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  return [...xml.matchAll(pattern)].map((match) => match[1]);
}

/** The text of the first `<tag>` element, or undefined. */
export function elementText(xml: string, tag: string): string | undefined {
  return elementTexts(xml, tag)[0];
}

/** The name of the document's root element (after the XML declaration and comments), or "". */
export function rootElement(xml: string): string {
  const match = /^\s*(?:<\?[\s\S]*?\?>\s*)?(?:<!--[\s\S]*?-->\s*)*<([A-Za-z][\w.-]*)/.exec(xml);
  return match ? match[1] : "";
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    return ENTITIES[entity];
  });
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${Object.keys(ENTITIES).find((name) => ENTITIES[name] === c)};`);
}

export interface S3ErrorInfo {
  code: string;
  message: string;
}

/** The code and message of an `<Error>` document; undefined when `xml` is something else. */
export function parseError(xml: string): S3ErrorInfo | undefined {
  if (rootElement(xml) !== "Error") return undefined;
  return { code: elementText(xml, "Code") ?? "", message: elementText(xml, "Message") ?? "" };
}

export interface ListPage {
  objects: { key: string; lastModified: Date }[];
  /** Set when more pages follow. */
  continuationToken: string | undefined;
}

/**
 * One page of a ListObjectsV2 answer; keys are URL-decoded when the answer says `EncodingType` url. Throws
 * a plain Error when the document is not a listing or contradicts itself.
 */
export function parseListPage(xml: string): ListPage {
  const root = rootElement(xml);
  if (root !== "ListBucketResult") throw new Error(`expected a ListBucketResult, got <${root || "?"}>`);
  const urlEncoded = elementText(xml, "EncodingType")?.toLowerCase() === "url";
  const objects = elementBodies(xml, "Contents").map((contents) => {
    const key = elementText(contents, "Key");
    const modified = new Date(elementText(contents, "LastModified") ?? "");
    if (key === undefined || Number.isNaN(modified.getTime())) throw new Error("a listed object has no Key or date");
    return { key: urlEncoded ? decodeURIComponent(key.replaceAll("+", " ")) : key, lastModified: modified };
  });
  const truncated = elementText(xml, "IsTruncated") === "true";
  const token = elementText(xml, "NextContinuationToken");
  if (truncated && !token) throw new Error("a truncated listing without NextContinuationToken");
  return { objects, continuationToken: truncated ? token : undefined };
}

/** A quiet DeleteObjects request for `keys` (at most 1000). */
export function deleteRequest(keys: string[]): string {
  const objects = keys.map((key) => `<Object><Key>${escapeXml(key)}</Key></Object>`).join("");
  return `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>${objects}</Delete>`;
}

export interface DeleteFailure {
  key: string;
  code: string;
  message: string;
}

/** The per-key errors of a DeleteObjects answer (a quiet answer lists only those). */
export function parseDeleteResult(xml: string): DeleteFailure[] {
  const root = rootElement(xml);
  if (root !== "DeleteResult") throw new Error(`expected a DeleteResult, got <${root || "?"}>`);
  return elementBodies(xml, "Error").map((error) => ({
    key: elementText(error, "Key") ?? "",
    code: elementText(error, "Code") ?? "",
    message: elementText(error, "Message") ?? "",
  }));
}
