/**
 * The SPDY/3.1 frame codec (pure, tested by tables): a control frame is
 * `1 | version(15) | type(16) | flags(8) | length(24) | payload`, a data frame
 * `0 | stream-id(31) | flags(8) | length(24) | data`; flag FIN = 0x01 on both. Header blocks
 * stay compressed at this level (spdy-headers.ts). See spdy.ts for the protocol facts.
 */
export const SPDY_VERSION = 3;
export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
export const DEFAULT_WINDOW = 64 * 1024;
/** Largest DATA payload we send in one frame (the format allows 16 MiB). */
export const MAX_SEND_FRAME = 32 * 1024;
/** Largest frame payload we accept: bigger ones are a protocol error (memory bound). */
export const MAX_RECV_FRAME = 1024 * 1024;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 4;
export const SETTINGS_INITIAL_WINDOW_SIZE = 7;

/** A frame as it is on the wire; header blocks stay compressed at this level. */
export type Frame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | {
      type: 'syn_stream';
      streamId: number;
      associatedId: number;
      priority: number;
      slot: number;
      flags: number;
      headerBlock: Buffer;
    }
  | { type: 'syn_reply'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'headers'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; entries: Array<{ flags: number; id: number; value: number }> }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number }
  /** A control frame of a type we do not know (CREDENTIAL, future ones): ignored by the spec. */
  | { type: 'unknown'; version: number; frameType: number; flags: number; payload: Buffer };

export class SpdyProtocolError extends Error {
  readonly streamId: number;
  constructor(message: string, streamId = 0) {
    super(message);
    this.name = 'SpdyProtocolError';
    this.streamId = streamId;
  }
}

const u31 = (n: number) => n & 0x7fffffff;

function control(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  // `flags << 24` may be negative as an int32: shift back to unsigned.
  head.writeUInt32BE((((flags & 0xff) << 24) >>> 0) + payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** A payload of big-endian unsigned 32-bit words. */
function words(...values: number[]): Buffer {
  const p = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => {
    p.writeUInt32BE(v >>> 0, 4 * i);
  });
  return p;
}

/** Encode one frame. Pure. */
export function encodeFrame(f: Frame): Buffer {
  switch (f.type) {
    case 'data': {
      if (f.data.length > 0xffffff) throw new RangeError('DATA payload over 16 MiB');
      const head = Buffer.alloc(8);
      head.writeUInt32BE(u31(f.streamId), 0);
      head.writeUInt32BE((((f.flags & 0xff) << 24) >>> 0) + f.data.length, 4);
      return Buffer.concat([head, f.data]);
    }
    case 'syn_stream': {
      const p = Buffer.alloc(10);
      p.writeUInt32BE(u31(f.streamId), 0);
      p.writeUInt32BE(u31(f.associatedId), 4);
      p.writeUInt8((f.priority & 0x7) << 5, 8);
      p.writeUInt8(f.slot & 0xff, 9);
      return control(FrameType.SYN_STREAM, f.flags, Buffer.concat([p, f.headerBlock]));
    }
    case 'syn_reply':
    case 'headers': {
      const t = f.type === 'syn_reply' ? FrameType.SYN_REPLY : FrameType.HEADERS;
      return control(t, f.flags, Buffer.concat([words(u31(f.streamId)), f.headerBlock]));
    }
    case 'rst_stream':
      return control(FrameType.RST_STREAM, 0, words(u31(f.streamId), f.status));
    case 'settings': {
      // Each entry: 8 bits of flags and a 24-bit id, then the 32-bit value.
      const entries = f.entries.flatMap((e) => [
        (((e.flags & 0xff) << 24) >>> 0) + (e.id & 0xffffff),
        e.value,
      ]);
      return control(FrameType.SETTINGS, f.flags, words(f.entries.length, ...entries));
    }
    case 'ping':
      return control(FrameType.PING, 0, words(f.id));
    case 'goaway':
      return control(FrameType.GOAWAY, 0, words(u31(f.lastGoodStreamId), f.status));
    case 'window_update':
      return control(FrameType.WINDOW_UPDATE, 0, words(u31(f.streamId), u31(f.delta)));
    case 'unknown':
      return control(f.frameType, f.flags, f.payload);
  }
}

function need(payload: Buffer, n: number, what: string): void {
  if (payload.length < n) throw new SpdyProtocolError(`${what} frame too short (${payload.length} bytes)`);
}

/** Decode one control frame's payload. Pure; throws SpdyProtocolError on malformed input. */
export function decodeControl(version: number, type: number, flags: number, p: Buffer): Frame {
  if (version !== SPDY_VERSION && type !== FrameType.SYN_STREAM)
    return { type: 'unknown', version, frameType: type, flags, payload: p };
  switch (type) {
    case FrameType.SYN_STREAM:
      if (version !== SPDY_VERSION)
        throw new SpdyProtocolError(
          `SPDY version ${version} is not supported`,
          p.length >= 4 ? u31(p.readUInt32BE(0)) : 0,
        );
      need(p, 10, 'SYN_STREAM');
      return {
        type: 'syn_stream',
        streamId: u31(p.readUInt32BE(0)),
        associatedId: u31(p.readUInt32BE(4)),
        priority: p.readUInt8(8) >> 5,
        slot: p.readUInt8(9),
        flags,
        headerBlock: p.subarray(10),
      };
    case FrameType.SYN_REPLY:
    case FrameType.HEADERS:
      need(p, 4, type === FrameType.SYN_REPLY ? 'SYN_REPLY' : 'HEADERS');
      return {
        type: type === FrameType.SYN_REPLY ? 'syn_reply' : 'headers',
        streamId: u31(p.readUInt32BE(0)),
        flags,
        headerBlock: p.subarray(4),
      };
    case FrameType.RST_STREAM:
      need(p, 8, 'RST_STREAM');
      return { type: 'rst_stream', streamId: u31(p.readUInt32BE(0)), status: p.readUInt32BE(4) };
    case FrameType.SETTINGS: {
      need(p, 4, 'SETTINGS');
      const n = p.readUInt32BE(0);
      if (p.length !== 4 + 8 * n)
        throw new SpdyProtocolError(`SETTINGS frame: ${n} entries in ${p.length} bytes`);
      const entries = [];
      for (let i = 0; i < n; i++) {
        const w = p.readUInt32BE(4 + 8 * i);
        entries.push({ flags: w >>> 24, id: w & 0xffffff, value: p.readUInt32BE(8 + 8 * i) });
      }
      return { type: 'settings', flags, entries };
    }
    case FrameType.PING:
      need(p, 4, 'PING');
      return { type: 'ping', id: p.readUInt32BE(0) };
    case FrameType.GOAWAY:
      need(p, 4, 'GOAWAY');
      // SPDY/2 GOAWAY had no status; accept its short form.
      return {
        type: 'goaway',
        lastGoodStreamId: u31(p.readUInt32BE(0)),
        status: p.length >= 8 ? p.readUInt32BE(4) : 0,
      };
    case FrameType.WINDOW_UPDATE:
      need(p, 8, 'WINDOW_UPDATE');
      return { type: 'window_update', streamId: u31(p.readUInt32BE(0)), delta: u31(p.readUInt32BE(4)) };
    default:
      return { type: 'unknown', version, frameType: type, flags, payload: p };
  }
}

/**
 * Splits a byte stream into frames. `push` returns every frame completed by the chunk;
 * partial frames wait for the next chunk. Pure apart from its buffer.
 */
export class FrameParser {
  #buf: Buffer = Buffer.alloc(0);
  readonly maxPayload: number;
  constructor(maxPayload = MAX_RECV_FRAME) {
    this.maxPayload = maxPayload;
  }

  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      if (this.#buf.length < 8) break;
      const w0 = this.#buf.readUInt32BE(0);
      const w1 = this.#buf.readUInt32BE(4);
      const len = w1 & 0xffffff;
      const flags = w1 >>> 24;
      if (len > this.maxPayload)
        throw new SpdyProtocolError(`frame of ${len} bytes is over the ${this.maxPayload} limit`);
      if (this.#buf.length < 8 + len) break;
      const payload = Buffer.from(this.#buf.subarray(8, 8 + len));
      this.#buf = this.#buf.subarray(8 + len);
      if (w0 & 0x80000000) out.push(decodeControl((w0 >>> 16) & 0x7fff, w0 & 0xffff, flags, payload));
      else out.push({ type: 'data', streamId: u31(w0), flags, data: payload });
    }
    return out;
  }

  /** Bytes of an incomplete frame still held. */
  get pending(): number {
    return this.#buf.length;
  }
}
