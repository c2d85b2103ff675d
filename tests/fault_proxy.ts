/**
 * A fault-injecting HTTP proxy for the S3 tests: it listens on 127.0.0.1, passes each request to the real
 * gateway, and at seeded random rates answers 503 SlowDown instead, drops the connection before answering,
 * loses the answer after the gateway has done the work, cuts a GET answer's body short, answers a write
 * with 200 and an `<Error>` body, or holds the request past the client's timeout. It counts what it did.
 *
 * One request per connection (each answer says `Connection: close`), bytes passed through as they are, so
 * the gateway checks the client's own signature. Every connection is bounded in time.
 */
import { Rng } from "./helpers.ts";

export type Fault = "slowDown" | "reset" | "lostAnswer" | "cutBody" | "errorBody" | "delay";
export type FaultRates = Partial<Record<Fault, number>>;

interface ParsedHead {
  head: string;
  rest: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CONNECTION_LIMIT_MS = 60_000;

export class FaultProxy {
  /** Faults injected so far, by kind. */
  readonly injected: Record<Fault, number> = {
    slowDown: 0,
    reset: 0,
    lostAnswer: 0,
    cutBody: 0,
    errorBody: 0,
    delay: 0,
  };
  requests = 0;
  private readonly rng: Rng;
  private readonly handlers = new Set<Promise<void>>();
  private readonly accepting: Promise<void>;

  private constructor(
    private readonly listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>,
    private readonly upstream: Deno.ConnectOptions,
    seed: number,
    /** Rates per request; change them between phases of a test. */
    public rates: FaultRates,
    /** How long a delayed request is held (longer than the client's request_timeout). */
    private readonly delayMs: number,
  ) {
    this.rng = new Rng(seed);
    this.accepting = this.accept();
  }

  /** Starts a proxy in front of `upstream` (http://127.0.0.1:PORT). */
  static start(upstream: string, options: { seed: number; rates: FaultRates; delayMs: number }): FaultProxy {
    const url = new URL(upstream);
    if (url.hostname !== "127.0.0.1") throw new Error(`the fault proxy only forwards to 127.0.0.1, not ${url.host}`);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const target: Deno.ConnectOptions = { hostname: "127.0.0.1", port: Number(url.port || 80) };
    return new FaultProxy(listener, target, options.seed, options.rates, options.delayMs);
  }

  get url(): string {
    return `http://127.0.0.1:${this.listener.addr.port}`;
  }

  get totalInjected(): number {
    return Object.values(this.injected).reduce((a, b) => a + b, 0);
  }

  /** One line for the test's output: requests seen and faults injected by kind. */
  summary(): string {
    const kinds = Object.entries(this.injected).map(([kind, n]) => `${kind} ${n}`).join(", ");
    return `${this.requests} requests, ${this.totalInjected} faults injected (${kinds})`;
  }

  async close(): Promise<void> {
    this.listener.close();
    await this.accepting;
    await Promise.allSettled([...this.handlers]);
  }

  private async accept(): Promise<void> {
    try {
      for await (const conn of this.listener) {
        const handler = this.handle(conn).finally(() => this.handlers.delete(handler));
        this.handlers.add(handler);
      }
    } catch {
      // the listener was closed
    }
  }

  private pick(method: string): Fault | null {
    const possible = (Object.keys(this.rates) as Fault[]).filter((fault) =>
      (fault !== "cutBody" || method === "GET") && (fault !== "errorBody" || method === "PUT" || method === "POST")
    );
    for (const fault of possible) {
      if (this.rng.chance(this.rates[fault] ?? 0)) return fault;
    }
    return null;
  }

  private async handle(client: Deno.TcpConn): Promise<void> {
    let upstream: Deno.TcpConn | null = null;
    const limit = setTimeout(() => {
      closeQuietly(client);
      if (upstream) closeQuietly(upstream);
    }, CONNECTION_LIMIT_MS);
    try {
      const request = await readRequest(client);
      if (!request) return;
      this.requests++;
      const fault = this.pick(request.method);
      if (fault) this.injected[fault]++;
      if (fault === "reset") return;
      if (fault === "slowDown") return await writeAll(client, slowDownAnswer());
      if (fault === "delay") await new Promise((done) => setTimeout(done, this.delayMs));
      upstream = await Deno.connect(this.upstream);
      await writeAll(upstream, request.bytes);
      const answer = await readToEnd(upstream);
      if (fault === "lostAnswer" || fault === "delay") return;
      if (fault === "errorBody") return await writeAll(client, errorBodyAnswer());
      const passed = withConnectionClose(answer);
      await writeAll(client, fault === "cutBody" ? cutBody(passed) : passed);
    } catch {
      // the client or the gateway went away: nothing to answer
    } finally {
      clearTimeout(limit);
      closeQuietly(client);
      if (upstream) closeQuietly(upstream);
    }
  }
}

/** One request from the client with `Connection: close` put in; null when the client sent nothing. */
async function readRequest(conn: Deno.TcpConn): Promise<{ method: string; bytes: Uint8Array } | null> {
  const parsed = await readHead(conn);
  if (!parsed) return null;
  const lines = parsed.head.split("\r\n");
  const method = lines[0].split(" ")[0];
  const lengthLine = lines.find((line) => /^content-length:/i.test(line));
  const length = lengthLine ? Number(lengthLine.split(":")[1].trim()) : 0;
  const body = new Uint8Array(length);
  body.set(parsed.rest.subarray(0, length));
  for (let filled = Math.min(parsed.rest.length, length); filled < length;) {
    const n = await conn.read(body.subarray(filled));
    if (n === null) return null;
    filled += n;
  }
  const head = [...lines.filter((line) => !/^connection:/i.test(line)), "Connection: close"].join("\r\n");
  return { method, bytes: concat([encoder.encode(`${head}\r\n\r\n`), body]) };
}

/** Reads up to the blank line that ends the headers; returns them and the bytes read past them. */
async function readHead(conn: Deno.TcpConn): Promise<ParsedHead | null> {
  let data: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(65536);
  for (;;) {
    const end = findHeadEnd(data);
    if (end >= 0) return { head: decoder.decode(data.subarray(0, end)), rest: data.subarray(end + 4) };
    if (data.length > 1 << 20) return null;
    const n = await conn.read(chunk);
    if (n === null) return null;
    data = concat([data, chunk.subarray(0, n)]);
  }
}

function findHeadEnd(data: Uint8Array): number {
  for (let i = 0; i + 3 < data.length; i++) {
    if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) return i;
  }
  return -1;
}

async function readToEnd(conn: Deno.TcpConn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const chunk = new Uint8Array(1 << 20);
  for (;;) {
    const n = await conn.read(chunk);
    if (n === null) return concat(parts);
    parts.push(chunk.slice(0, n));
  }
}

/** The gateway's answer with its Connection header replaced by `Connection: close`. */
function withConnectionClose(answer: Uint8Array): Uint8Array {
  const end = findHeadEnd(answer);
  if (end < 0) return answer;
  const lines = decoder.decode(answer.subarray(0, end)).split("\r\n").filter((line) => !/^connection:/i.test(line));
  return concat([encoder.encode([...lines, "Connection: close"].join("\r\n") + "\r\n\r\n"), answer.subarray(end + 4)]);
}

/** The answer with its head and only half of its body. */
function cutBody(answer: Uint8Array): Uint8Array {
  const end = findHeadEnd(answer);
  const bodyStart = end + 4;
  return answer.subarray(0, bodyStart + Math.floor((answer.length - bodyStart) / 2));
}

function xmlAnswer(status: string, xml: string): Uint8Array {
  const body = encoder.encode(`<?xml version="1.0" encoding="UTF-8"?>${xml}`);
  const head = `HTTP/1.1 ${status}\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\n` +
    "Connection: close\r\n\r\n";
  return concat([encoder.encode(head), body]);
}

function slowDownAnswer(): Uint8Array {
  return xmlAnswer(
    "503 Slow Down",
    "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
  );
}

function errorBodyAnswer(): Uint8Array {
  return xmlAnswer("200 OK", "<Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>");
}

async function writeAll(conn: Deno.TcpConn, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length;) done += await conn.write(data.subarray(done));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function closeQuietly(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
