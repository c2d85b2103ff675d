/**
 * The NBD handshake (fixed newstyle): the options a client sends before it reads an export, and their
 * answers. Supported: EXPORT_NAME, ABORT, LIST, STARTTLS, INFO, GO, STRUCTURED_REPLY and the
 * `base:allocation` metadata context (LIST_META_CONTEXT, SET_META_CONTEXT). Exports are the finished
 * versions, named by uid. With TLS configured, every option but STARTTLS and ABORT is refused until the
 * connection is encrypted.
 */
import type { Version } from "../catalog/catalog.ts";
import type { Logger } from "../log/logger.ts";
import type { Image } from "../engine/block_reader.ts";
import { NotServableError, type VersionSource } from "./served_versions.ts";
import {
  BASE_ALLOCATION,
  Fields,
  FLAG_CAN_MULTI_CONN,
  FLAG_FIXED_NEWSTYLE,
  FLAG_HAS_FLAGS,
  FLAG_NO_ZEROES,
  FLAG_READ_ONLY,
  FLAG_SEND_DF,
  FLAG_SEND_FLUSH,
  IHAVEOPT,
  INFO,
  MAX_PAYLOAD,
  Message,
  NBDMAGIC,
  OPT,
  optionReply,
  REP,
  type Wire,
} from "./nbd_protocol.ts";
import { startTls, type TlsFiles } from "./nbd_tls.ts";

/** What the client chose: the export and how replies are to be sent. */
export interface Negotiated {
  image: Image;
  structured: boolean;
  /** The client selected `base:allocation` (context id {@link ALLOCATION_CONTEXT}). */
  allocation: boolean;
}

export const ALLOCATION_CONTEXT = 1;

export interface HandshakeSettings {
  served: VersionSource;
  tls: TlsFiles | null;
  log: Logger;
  /** The client's address, for log lines. */
  peer: string;
}

/** Options with more data than this end the connection (the longest legitimate one is a few KiB). */
const MAX_OPTION_BYTES = 65536;

class Handshake {
  private encrypted = false;
  private structured = false;
  private allocation = false;

  constructor(private readonly wire: Wire, private readonly settings: HandshakeSettings) {}

  /** The export the client chose, or null when it went away, aborted or broke the protocol. */
  async run(): Promise<Negotiated | null> {
    const { wire } = this;
    await wire.send(new Message().u64(NBDMAGIC).u64(IHAVEOPT).u16(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).toBytes());
    const clientFlags = new Fields(await wire.read(4)).u32();
    if ((clientFlags & ~(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)) !== 0) return null;
    const noZeroes = (clientFlags & FLAG_NO_ZEROES) !== 0;
    for (;;) {
      const header = new Fields(await wire.read(16));
      const magic = header.u64();
      const option = header.u32();
      const length = header.u32();
      if (magic !== IHAVEOPT || length > MAX_OPTION_BYTES) return null;
      const data = await wire.read(length);
      if (this.settings.tls && !this.encrypted && option !== OPT.STARTTLS && option !== OPT.ABORT) {
        if (option === OPT.EXPORT_NAME) return null;
        await this.reply(option, REP.ERR_TLS_REQD, "This server requires TLS (nbds://).");
        continue;
      }
      try {
        const result = await this.option(option, data, noZeroes);
        if (result !== undefined) return result;
      } catch (error) {
        if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
        await this.reply(option, REP.ERR_INVALID, "Malformed option.");
      }
    }
  }

  /** Answers one option; returns the outcome when the handshake ends, undefined to go on. */
  private async option(option: number, data: Uint8Array, noZeroes: boolean): Promise<Negotiated | null | undefined> {
    switch (option) {
      case OPT.EXPORT_NAME:
        return await this.exportName(new TextDecoder("utf-8", { fatal: true }).decode(data), noZeroes);
      case OPT.ABORT:
        await this.reply(option, REP.ACK);
        return null;
      case OPT.LIST:
        return await this.list(data);
      case OPT.STARTTLS:
        return await this.startTls(data);
      case OPT.INFO:
      case OPT.GO:
        return await this.info(option, new Fields(data));
      case OPT.STRUCTURED_REPLY:
        if (data.length !== 0) return await this.reply(option, REP.ERR_INVALID, "No data expected.");
        this.structured = true;
        return await this.reply(option, REP.ACK);
      case OPT.LIST_META_CONTEXT:
      case OPT.SET_META_CONTEXT:
        return await this.metaContext(option, new Fields(data));
      default:
        return await this.reply(option, REP.ERR_UNSUP, `Option ${option} is not supported.`);
    }
  }

  private async exportName(name: string, noZeroes: boolean): Promise<Negotiated | null> {
    const opened = await this.open(name);
    if (!("image" in opened)) return null;
    const { image } = opened;
    const reply = new Message().u64(image.sizeBytes).u16(this.flags(!image.write));
    if (!noZeroes) reply.bytes(new Uint8Array(124));
    await this.wire.send(reply.toBytes());
    return this.negotiated(image);
  }

  private async list(data: Uint8Array): Promise<undefined> {
    if (data.length !== 0) return await this.reply(OPT.LIST, REP.ERR_INVALID, "No data expected.");
    for (const version of await this.settings.served.list()) {
      const description = encode(describeVersion(version));
      await this.wire.send(
        optionReply(OPT.LIST, REP.SERVER, new Message().string(version.uid).bytes(description).toBytes()),
      );
    }
    return await this.reply(OPT.LIST, REP.ACK);
  }

  private async startTls(data: Uint8Array): Promise<null | undefined> {
    if (!this.settings.tls) return await this.reply(OPT.STARTTLS, REP.ERR_UNSUP, "This server has no TLS certificate.");
    if (data.length !== 0 || this.encrypted) {
      return await this.reply(OPT.STARTTLS, REP.ERR_INVALID, "Unexpected STARTTLS.");
    }
    await this.reply(OPT.STARTTLS, REP.ACK);
    await this.wire.drained();
    if (this.wire.buffered) return null;
    this.wire.conn = await startTls(this.wire.conn, this.settings.tls);
    this.encrypted = true;
    return undefined;
  }

  /** INFO and GO: the export's size and flags (and name, description, block sizes when asked); GO starts it. */
  private async info(option: number, fields: Fields): Promise<Negotiated | undefined> {
    const name = fields.string();
    const requests = Array.from({ length: fields.u16() }, () => fields.u16());
    if (fields.remaining !== 0) return await this.reply(option, REP.ERR_INVALID, "Trailing data.");
    let image: Image | null = null;
    let size: number;
    let readOnly: boolean;
    if (option === OPT.GO) {
      const opened = await this.open(name);
      if (!("image" in opened)) {
        return await this.reply(option, opened.reason === "unknown" ? REP.ERR_UNKNOWN : REP.ERR_POLICY, opened.message);
      }
      image = opened.image;
      [size, readOnly] = [image.sizeBytes, !image.write];
    } else {
      const version = await this.settings.served.find(name);
      if (!version) return await this.reply(option, REP.ERR_UNKNOWN, unknownExport(name));
      [size, readOnly] = [version.sizeBytes, !this.settings.served.options.cow];
    }
    await this.sendInfo(option, new Message().u16(INFO.EXPORT).u64(size).u16(this.flags(readOnly)));
    if (requests.includes(INFO.NAME)) await this.sendInfo(option, new Message().u16(INFO.NAME).bytes(encode(name)));
    if (requests.includes(INFO.DESCRIPTION)) {
      const version = await this.settings.served.find(name);
      await this.sendInfo(
        option,
        new Message().u16(INFO.DESCRIPTION).bytes(encode(version ? describeVersion(version) : "")),
      );
    }
    if (requests.includes(INFO.BLOCK_SIZE)) {
      await this.sendInfo(option, new Message().u16(INFO.BLOCK_SIZE).u32(1).u32(4096).u32(MAX_PAYLOAD));
    }
    await this.reply(option, REP.ACK);
    return image ? this.negotiated(image) : undefined;
  }

  private async metaContext(option: number, fields: Fields): Promise<undefined> {
    if (!this.structured) return await this.reply(option, REP.ERR_INVALID, "Negotiate structured replies first.");
    fields.string(); // the export name: every export has the same contexts
    const queries = Array.from({ length: fields.u32() }, () => fields.string());
    if (fields.remaining !== 0) return await this.reply(option, REP.ERR_INVALID, "Trailing data.");
    const listing = option === OPT.LIST_META_CONTEXT;
    const selected = listing && queries.length === 0 ||
      queries.some((query) => query === BASE_ALLOCATION || (listing && query === "base:"));
    if (!listing) this.allocation = selected;
    if (selected) {
      const id = listing ? 0 : ALLOCATION_CONTEXT;
      await this.wire.send(
        optionReply(option, REP.META_CONTEXT, new Message().u32(id).bytes(encode(BASE_ALLOCATION)).toBytes()),
      );
    }
    return await this.reply(option, REP.ACK);
  }

  /** The image of export `name`, or why not (a locked or broken version is logged). */
  private async open(
    name: string,
  ): Promise<{ image: Image } | { reason: NotServableError["reason"]; message: string }> {
    try {
      const image = await this.settings.served.open(name);
      this.settings.log.info(`NBD client ${this.settings.peer} opened version ${name}.`);
      return { image };
    } catch (error) {
      if (!(error instanceof NotServableError)) throw error;
      if (error.reason === "unknown") return { reason: error.reason, message: unknownExport(name) };
      this.settings.log.error(`NBD client ${this.settings.peer}: ${error.message}`);
      return { reason: error.reason, message: error.message };
    }
  }

  private negotiated(image: Image): Negotiated {
    return { image, structured: this.structured, allocation: this.allocation };
  }

  private flags(readOnly: boolean): number {
    return FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_CAN_MULTI_CONN | (readOnly ? FLAG_READ_ONLY : 0) |
      (this.structured ? FLAG_SEND_DF : 0);
  }

  private async sendInfo(option: number, message: Message): Promise<void> {
    await this.wire.send(optionReply(option, REP.INFO, message.toBytes()));
  }

  private async reply(option: number, type: number, text = ""): Promise<undefined> {
    await this.wire.send(optionReply(option, type, encode(text)));
    return undefined;
  }
}

function encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** What `nbdinfo` shows as an export's description: the version's name and date. */
function describeVersion(version: Version): string {
  return `${version.name} ${version.date.slice(0, 19)}`;
}

function unknownExport(name: string): string {
  return name === "" ? "Name the export: a version uid." : `No finished version ${name}.`;
}

/** Runs the handshake on `wire`: the negotiated export, or null when the connection is to be closed. */
export function negotiate(wire: Wire, settings: HandshakeSettings): Promise<Negotiated | null> {
  return new Handshake(wire, settings).run();
}
