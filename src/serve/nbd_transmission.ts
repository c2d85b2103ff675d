/**
 * The NBD transmission phase: READ, WRITE (copy-on-write exports only), FLUSH, DISC and, with structured
 * replies and `base:allocation`, BLOCK_STATUS. Requests are served concurrently (a bounded number per
 * connection) and answered as they finish, in simple or structured replies as negotiated. A block that cannot
 * be read fails its whole request with EIO; the data of a failed read is never sent.
 */
import { UnreadableBlockError } from "../engine/block_reader.ts";
import type { Logger } from "../log/logger.ts";
import { ALLOCATION_CONTEXT, type Negotiated } from "./nbd_handshake.ts";
import {
  chunkHeader,
  CMD,
  CMD_FLAG_REQ_ONE,
  Fields,
  MAX_PAYLOAD,
  Message,
  NBD_ERROR,
  REPLY_FLAG_DONE,
  REPLY_TYPE,
  REQUEST_MAGIC,
  simpleReply,
  STATE_HOLE,
  STATE_ZERO,
  type Wire,
} from "./nbd_protocol.ts";

/** Requests of one connection served at once; the next one is read when one ends. */
const MAX_IN_FLIGHT = 16;
/** Block status descriptors per reply, and the longest one (descriptor lengths are 32-bit). */
const MAX_DESCRIPTORS = 4096;
const MAX_DESCRIPTOR_LENGTH = 2 ** 31;

interface Request {
  flags: number;
  type: number;
  cookie: Uint8Array;
  offset: number;
  length: number;
  payload: Uint8Array | null;
}

class Transmission {
  constructor(private readonly wire: Wire, private readonly negotiated: Negotiated, private readonly log: Logger) {}

  /** Serves requests until the client disconnects (or breaks the protocol); requests in flight finish first. */
  async run(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    try {
      for (;;) {
        const request = await this.receive();
        if (request === null) break;
        while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
        const task: Promise<void> = this.serve(request).finally(() => inFlight.delete(task));
        inFlight.add(task);
      }
    } finally {
      await Promise.allSettled(inFlight);
      await this.wire.drained();
    }
  }

  /** The next request, or null for DISC and for anything that is not a request. */
  private async receive(): Promise<Request | null> {
    const header = new Fields(await this.wire.read(28));
    if (header.u32() !== REQUEST_MAGIC) return null;
    const flags = header.u16();
    const type = header.u16();
    const cookie = header.bytes(8).slice();
    const offset = Number(header.u64());
    const length = header.u32();
    if (type === CMD.DISC) return null;
    let payload: Uint8Array | null = null;
    if (type === CMD.WRITE) {
      if (length > MAX_PAYLOAD) return null;
      payload = await this.wire.read(length);
    }
    return { flags, type, cookie, offset, length, payload };
  }

  private async serve(request: Request): Promise<void> {
    try {
      switch (request.type) {
        case CMD.READ:
          return await this.read(request);
        case CMD.WRITE:
          return await this.write(request);
        case CMD.FLUSH:
          // The overlay is temporary: there is nothing to make durable.
          return await this.done(request);
        case CMD.BLOCK_STATUS:
          return await this.blockStatus(request);
        default:
          return await this.error(request, NBD_ERROR.EINVAL, `Command ${request.type} is not supported.`);
      }
    } catch {
      // The connection went away while replying: nothing left to tell.
    }
  }

  private async read(request: Request): Promise<void> {
    const { cookie, offset, length } = request;
    const { image, structured } = this.negotiated;
    if (length > MAX_PAYLOAD) return await this.error(request, NBD_ERROR.EOVERFLOW, "Read too large.");
    if (offset + length > image.sizeBytes) return await this.error(request, NBD_ERROR.EINVAL, "Read past the end.");
    if (length === 0) return await this.done(request);
    let data: Uint8Array;
    try {
      data = await image.read(offset, length);
    } catch (error) {
      return await this.ioError(request, error);
    }
    if (!structured) return await this.wire.send(simpleReply(cookie, 0), data);
    const header = chunkHeader(cookie, REPLY_FLAG_DONE, REPLY_TYPE.OFFSET_DATA, 8 + length);
    await this.wire.send(header, new Message().u64(offset).toBytes(), data);
  }

  private async write(request: Request): Promise<void> {
    const { image } = this.negotiated;
    if (!image.write) return await this.error(request, NBD_ERROR.EPERM, "Read-only export (serve with --cow).");
    if (request.offset + request.length > image.sizeBytes) {
      return await this.error(request, NBD_ERROR.ENOSPC, "Write past the end.");
    }
    try {
      await image.write(request.offset, request.payload!);
    } catch (error) {
      return await this.ioError(request, error);
    }
    await this.done(request);
  }

  private async blockStatus(request: Request): Promise<void> {
    const { image, allocation, structured } = this.negotiated;
    if (!structured || !allocation) return await this.error(request, NBD_ERROR.EINVAL, "No metadata context.");
    if (request.length === 0 || request.offset + request.length > image.sizeBytes) {
      return await this.error(request, NBD_ERROR.EINVAL, "Range outside the export.");
    }
    const limit = request.flags & CMD_FLAG_REQ_ONE ? 1 : MAX_DESCRIPTORS;
    const descriptors = new Message().u32(ALLOCATION_CONTEXT);
    let count = 0;
    for (const extent of image.extents(request.offset, request.length)) {
      const length = Math.min(extent.length, MAX_DESCRIPTOR_LENGTH);
      descriptors.u32(length).u32(extent.zero ? STATE_HOLE | STATE_ZERO : 0);
      if (++count >= limit || length < extent.length) break;
    }
    const payload = descriptors.toBytes();
    await this.wire.send(
      chunkHeader(request.cookie, REPLY_FLAG_DONE, REPLY_TYPE.BLOCK_STATUS, payload.length),
      payload,
    );
  }

  private async ioError(request: Request, error: unknown): Promise<void> {
    // Bad blocks were logged where they were found; anything else is logged here.
    if (!(error instanceof UnreadableBlockError)) this.log.error(`NBD request failed: ${(error as Error).message}`);
    await this.error(request, NBD_ERROR.EIO, (error as Error).message);
  }

  private async done({ cookie }: Request): Promise<void> {
    if (!this.negotiated.structured) return await this.wire.send(simpleReply(cookie, 0));
    await this.wire.send(chunkHeader(cookie, REPLY_FLAG_DONE, REPLY_TYPE.NONE, 0));
  }

  private async error({ cookie }: Request, code: number, message: string): Promise<void> {
    if (!this.negotiated.structured) return await this.wire.send(simpleReply(cookie, code));
    const text = new TextEncoder().encode(message).subarray(0, 4096);
    const payload = new Message().u32(code).u16(text.length).bytes(text).toBytes();
    await this.wire.send(chunkHeader(cookie, REPLY_FLAG_DONE, REPLY_TYPE.ERROR, payload.length), payload);
  }
}

/** Serves the negotiated export on `wire` until the client disconnects. */
export function transmit(wire: Wire, negotiated: Negotiated, log: Logger): Promise<void> {
  return new Transmission(wire, negotiated, log).run();
}
