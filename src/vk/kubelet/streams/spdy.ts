/**
 * SPDY/3.1 as the kube-apiserver speaks it to a kubelet (exec, attach, port-forward): the
 * frame codec (pure, tested by tables), header blocks with the SPDY/3 zlib dictionary, and
 * a server-side session over one upgraded socket that hands each client-opened stream to a
 * callback as a Node Duplex.
 *
 * Facts this relies on (draft-mbelshe-httpbis-spdy-00 and the Go implementation the
 * apiserver uses, moby/spdystream):
 * - A control frame is `1 | version(15) | type(16) | flags(8) | length(24) | payload`; a data
 *   frame `0 | stream-id(31) | flags(8) | length(24) | data`. Flag FIN = 0x01 on both.
 * - Header blocks are zlib streams whose context persists across frames per direction, with
 *   a preset dictionary; names must be lower case (spdystream rejects others).
 * - The client opens odd stream ids in increasing order; the server replies SYN_REPLY before
 *   any data. Each side half-closes with FIN; RST_STREAM ends both directions.
 * - Flow control: a 64 KiB initial window per stream. spdystream neither sends WINDOW_UPDATE
 *   nor honours windows, so a sender that waited for one would stall forever after 64 KiB:
 *   we honour the peer's window only once the peer has shown it does flow control (sent a
 *   WINDOW_UPDATE or an INITIAL_WINDOW_SIZE setting). We always send WINDOW_UPDATE for data
 *   our consumer has taken (spdystream ignores them; a strict peer needs them).
 *
 * Our compressor emits stored (uncompressed) deflate blocks and the sync-flush marker, so
 * header encoding is a pure function of the bytes sent before; decompression uses Node's
 * zlib with the dictionary and is asynchronous, so incoming frames are handled one at a time
 * in arrival order.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { createInflate, type Inflate, constants as zc } from 'node:zlib';
import { SPDY3_DICTIONARY } from './spdy-dictionary.ts';

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
      const p = Buffer.alloc(4);
      p.writeUInt32BE(u31(f.streamId), 0);
      const t = f.type === 'syn_reply' ? FrameType.SYN_REPLY : FrameType.HEADERS;
      return control(t, f.flags, Buffer.concat([p, f.headerBlock]));
    }
    case 'rst_stream': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(u31(f.streamId), 0);
      p.writeUInt32BE(f.status >>> 0, 4);
      return control(FrameType.RST_STREAM, 0, p);
    }
    case 'settings': {
      const p = Buffer.alloc(4 + 8 * f.entries.length);
      p.writeUInt32BE(f.entries.length, 0);
      f.entries.forEach((e, i) => {
        p.writeUInt32BE((((e.flags & 0xff) << 24) >>> 0) + (e.id & 0xffffff), 4 + 8 * i);
        p.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
      });
      return control(FrameType.SETTINGS, f.flags, p);
    }
    case 'ping': {
      const p = Buffer.alloc(4);
      p.writeUInt32BE(f.id >>> 0, 0);
      return control(FrameType.PING, 0, p);
    }
    case 'goaway': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(u31(f.lastGoodStreamId), 0);
      p.writeUInt32BE(f.status >>> 0, 4);
      return control(FrameType.GOAWAY, 0, p);
    }
    case 'window_update': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(u31(f.streamId), 0);
      p.writeUInt32BE(u31(f.delta), 4);
      return control(FrameType.WINDOW_UPDATE, 0, p);
    }
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

/** Header name/value pairs → an uncompressed SPDY/3 name/value block. Pure. */
export function encodeHeaderBlock(headers: Record<string, string | string[]>): Buffer {
  const pairs = Object.entries(headers);
  const parts: Buffer[] = [];
  const n = Buffer.alloc(4);
  n.writeUInt32BE(pairs.length);
  parts.push(n);
  for (const [name, value] of pairs) {
    const k = Buffer.from(name.toLowerCase(), 'utf8');
    // Several values of one name travel NUL-separated in one value.
    const v = Buffer.from(Array.isArray(value) ? value.join('\0') : value, 'utf8');
    const kl = Buffer.alloc(4);
    kl.writeUInt32BE(k.length);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(v.length);
    parts.push(kl, k, vl, v);
  }
  return Buffer.concat(parts);
}

/** An uncompressed name/value block → lower-case names to their values. Pure; throws on malformed input. */
export function decodeHeaderBlock(buf: Buffer, maxHeaders = 256): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null);
  let off = 0;
  const u32 = () => {
    if (off + 4 > buf.length) throw new SpdyProtocolError('truncated header block');
    const v = buf.readUInt32BE(off);
    off += 4;
    return v;
  };
  const bytes = (len: number) => {
    if (off + len > buf.length) throw new SpdyProtocolError('truncated header block');
    const s = buf.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  const count = u32();
  if (count > maxHeaders) throw new SpdyProtocolError(`header block with ${count} headers`);
  for (let i = 0; i < count; i++) {
    const name = bytes(u32()).toLowerCase();
    if (name === '') throw new SpdyProtocolError('empty header name');
    const values = bytes(u32()).split('\0');
    out[name] = [...(out[name] ?? []), ...values];
  }
  return out;
}

/** Adler-32 (RFC 1950), for the zlib DICTID. */
export function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * The sending half of a header-compression context: one zlib stream per connection and
 * direction, each block a sequence of stored deflate blocks closed by an empty one (what a
 * Z_SYNC_FLUSH at level 0 produces), the first prefixed with the zlib header naming the
 * dictionary. Any inflater with the SPDY dictionary reads it.
 */
export class HeaderCompressor {
  #started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.#started) {
      this.#started = true;
      // CMF 0x78 (deflate, 32 K window); FLG: FDICT, FCHECK so that CMF*256+FLG ≡ 0 (mod 31).
      const cmf = 0x78;
      let flg = 0x20;
      flg += 31 - ((cmf * 256 + flg) % 31);
      const head = Buffer.alloc(6);
      head.writeUInt8(cmf, 0);
      head.writeUInt8(flg, 1);
      head.writeUInt32BE(adler32(SPDY3_DICTIONARY), 2);
      parts.push(head);
    }
    let off = 0;
    do {
      const len = Math.min(0xffff, block.length - off);
      const h = Buffer.alloc(5);
      h.writeUInt8(0x00, 0); // BFINAL=0, BTYPE=00 (stored), padding to the byte boundary
      h.writeUInt16LE(len, 1);
      h.writeUInt16LE(~len & 0xffff, 3);
      parts.push(h, block.subarray(off, off + len));
      off += len;
    } while (off < block.length);
    // The empty stored block a Z_SYNC_FLUSH ends with: inflaters (Go's among them) hand out
    // what they decoded only when they reach it.
    parts.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

/** The receiving half: one persistent inflater with the SPDY dictionary. */
export class HeaderDecompressor {
  #inflate: Inflate;
  #failed: Error | undefined;
  constructor() {
    this.#inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
    this.#inflate.on('error', (err) => {
      this.#failed = err;
    });
  }

  /** Decompress one frame's header block. Calls must not overlap (the session awaits each). */
  decompress(block: Buffer): Promise<Buffer> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const onData = (c: Buffer) => chunks.push(c);
      const onError = (err: Error) => {
        this.#inflate.off('data', onData);
        reject(new SpdyProtocolError(`header block does not decompress: ${err.message}`));
      };
      this.#inflate.on('data', onData);
      this.#inflate.once('error', onError);
      this.#inflate.write(block);
      this.#inflate.flush(zc.Z_SYNC_FLUSH, () => {
        this.#inflate.off('data', onData);
        this.#inflate.off('error', onError);
        if (this.#failed)
          reject(new SpdyProtocolError(`header block does not decompress: ${this.#failed.message}`));
        else resolve(Buffer.concat(chunks));
      });
    });
  }

  close(): void {
    this.#inflate.destroy();
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Session                                                                                    */
/* ------------------------------------------------------------------------------------------ */

export interface SpdySessionOptions {
  /** Called for each stream the client opens, after its SYN_REPLY went out. */
  onStream: (stream: SpdyStream) => void;
  /** Streams open at once; more are refused with REFUSED_STREAM. */
  maxStreams?: number;
  /** Announce the stream limit in a SETTINGS frame when the session starts. */
  announceSettings?: boolean;
}

/**
 * The server side of one SPDY/3.1 connection. Emits `close` once the socket is gone (every
 * stream is destroyed then). Writes go straight to the socket in call order, so a stream's
 * SYN_REPLY always precedes its data.
 */
export class SpdySession extends EventEmitter {
  readonly #socket: Duplex;
  readonly #opts: SpdySessionOptions;
  readonly #parser = new FrameParser();
  readonly #compressor = new HeaderCompressor();
  readonly #decompressor = new HeaderDecompressor();
  readonly streams = new Map<number, SpdyStream>();
  #lastClientId = 0;
  #queue: Promise<void> = Promise.resolve();
  #goneAway = false;
  #closed = false;
  /** True once the peer showed it does flow control; see the module comment. */
  peerFlowControl = false;
  peerInitialWindow = DEFAULT_WINDOW;
  #nextPingId = 2;
  #pings = new Map<number, () => void>();
  /** Streams whose readable side is full: the socket stays paused while any is. */
  #stalled = new Set<number>();

  constructor(socket: Duplex, opts: SpdySessionOptions) {
    super();
    this.#socket = socket;
    this.#opts = opts;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.#teardown());
    socket.on('close', () => this.#teardown());
    socket.on('end', () => this.#teardown());
    if (opts.announceSettings && opts.maxStreams) {
      this.writeFrame({
        type: 'settings',
        flags: 0,
        entries: [{ flags: 0, id: SETTINGS_MAX_CONCURRENT_STREAMS, value: opts.maxStreams }],
      });
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Write one frame now (no-op once closed). */
  writeFrame(f: Frame): boolean {
    if (this.#closed || this.#socket.destroyed || !this.#socket.writable) return false;
    return this.#socket.write(encodeFrame(f));
  }

  /** Write a frame carrying headers, compressed with this connection's context. */
  writeHeadersFrame(
    type: 'syn_reply' | 'headers',
    streamId: number,
    headers: Record<string, string | string[]>,
    flags = 0,
  ): void {
    const headerBlock = this.#compressor.compress(encodeHeaderBlock(headers));
    this.writeFrame({ type, streamId, flags, headerBlock });
  }

  /** Resolves when the socket's write buffer drained (or the socket is gone). */
  drained(): Promise<void> {
    if (this.#closed || !this.#socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#socket.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.#socket.once('drain', done);
      this.once('close', done);
    });
  }

  /** Send a PING; resolves when the peer echoes it. */
  ping(): Promise<void> {
    const id = this.#nextPingId;
    this.#nextPingId = this.#nextPingId >= 0x7ffffffe ? 2 : this.#nextPingId + 2;
    return new Promise((resolve, reject) => {
      this.#pings.set(id, resolve);
      if (!this.writeFrame({ type: 'ping', id })) {
        this.#pings.delete(id);
        reject(new Error('SPDY session closed'));
      }
    });
  }

  /** Stop accepting streams and tell the peer; open streams go on. */
  goAway(status: number = GoAwayStatus.OK): void {
    if (this.#goneAway) return;
    this.#goneAway = true;
    this.writeFrame({ type: 'goaway', lastGoodStreamId: this.#lastClientId, status });
  }

  /** GOAWAY, flush, end the socket; destroy it if the peer does not close in `graceMs`. */
  close(graceMs = 5_000): void {
    if (this.#closed) return;
    this.goAway();
    this.#socket.end();
    const t = setTimeout(() => this.#socket.destroy(), graceMs);
    t.unref();
    this.#socket.once('close', () => clearTimeout(t));
  }

  destroy(): void {
    this.#socket.destroy();
    this.#teardown();
  }

  /** @internal used by streams. */
  stall(id: number, stalled: boolean): void {
    if (stalled) this.#stalled.add(id);
    else this.#stalled.delete(id);
    if (this.#stalled.size > 0) this.#socket.pause();
    else if (!this.#closed) this.#socket.resume();
  }

  /** @internal a stream is finished both ways. */
  forget(id: number): void {
    this.streams.delete(id);
    this.#stalled.delete(id);
    if (this.#stalled.size === 0 && !this.#closed) this.#socket.resume();
    this.emit('stream-closed', id);
  }

  #onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#parser.push(chunk);
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
    for (const f of frames) {
      this.#queue = this.#queue.then(() => this.#handle(f)).catch((err: Error) => this.#fail(err));
    }
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.emit('protocol-error', err);
    this.goAway(GoAwayStatus.PROTOCOL_ERROR);
    this.destroy();
  }

  async #handle(f: Frame): Promise<void> {
    if (this.#closed) return;
    switch (f.type) {
      case 'syn_stream': {
        const headers = decodeHeaderBlock(await this.#decompressor.decompress(f.headerBlock));
        if (f.streamId % 2 !== 1 || f.streamId <= this.#lastClientId) {
          this.writeFrame({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.PROTOCOL_ERROR });
          return;
        }
        this.#lastClientId = f.streamId;
        if (this.#goneAway || (this.#opts.maxStreams && this.streams.size >= this.#opts.maxStreams)) {
          this.writeFrame({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.REFUSED_STREAM });
          return;
        }
        const s = new SpdyStream(this, f.streamId, headers);
        this.streams.set(f.streamId, s);
        this.writeHeadersFrame('syn_reply', f.streamId, {});
        if (f.flags & FLAG_FIN) s.remoteFin();
        if (f.flags & FLAG_UNIDIRECTIONAL) s.end();
        this.#opts.onStream(s);
        return;
      }
      case 'syn_reply':
      case 'headers':
        // Keep the decompression context in step even though we open no streams ourselves.
        await this.#decompressor.decompress(f.headerBlock);
        if (f.type === 'headers' && f.flags & FLAG_FIN) this.streams.get(f.streamId)?.remoteFin();
        return;
      case 'data': {
        const s = this.streams.get(f.streamId);
        if (!s) {
          // Data for a stream we reset or never had: tell the peer once, as spdystream does.
          if (f.streamId > this.#lastClientId || f.streamId % 2 === 0)
            this.writeFrame({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.INVALID_STREAM });
          return;
        }
        s.remoteData(f.data);
        if (f.flags & FLAG_FIN) s.remoteFin();
        return;
      }
      case 'rst_stream':
        this.streams.get(f.streamId)?.remoteReset(f.status);
        return;
      case 'settings':
        for (const e of f.entries) {
          if (e.id === SETTINGS_INITIAL_WINDOW_SIZE) {
            const delta = e.value - this.peerInitialWindow;
            this.peerInitialWindow = e.value;
            this.peerFlowControl = true;
            for (const s of this.streams.values()) s.windowUpdate(delta);
          }
        }
        return;
      case 'ping':
        if (f.id % 2 === 1) this.writeFrame({ type: 'ping', id: f.id });
        else {
          this.#pings.get(f.id)?.();
          this.#pings.delete(f.id);
        }
        return;
      case 'goaway':
        this.#goneAway = true;
        if (this.streams.size === 0) this.close();
        else this.on('stream-closed', () => this.streams.size === 0 && this.close());
        return;
      case 'window_update':
        this.peerFlowControl = true;
        if (f.streamId !== 0) this.streams.get(f.streamId)?.windowUpdate(f.delta);
        return;
      case 'unknown':
        return;
    }
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.streams.values()) s.destroy();
    this.streams.clear();
    this.#decompressor.close();
    for (const [, resolve] of this.#pings) resolve();
    this.#pings.clear();
    this.emit('close');
  }
}

/**
 * One SPDY stream as a Duplex: readable = the peer's DATA until its FIN; writable = our
 * DATA, `end()` sends FIN. `reset()` sends RST_STREAM and destroys it. Emits `reset` (with
 * the status) when the peer resets it.
 */
export class SpdyStream extends Duplex {
  readonly id: number;
  /** Request headers of SYN_STREAM, lower-case names. */
  readonly headers: Record<string, string[]>;
  readonly #session: SpdySession;
  #sendWindow: number;
  #waitingWindow: (() => void) | undefined;
  #localFin = false;
  #remoteFin = false;
  #unacked = 0;
  #resetByPeer = false;

  constructor(session: SpdySession, id: number, headers: Record<string, string[]>) {
    super({ allowHalfOpen: true, highWaterMark: 256 * 1024 });
    this.#session = session;
    this.id = id;
    this.headers = headers;
    this.#sendWindow = session.peerInitialWindow;
  }

  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  /** @internal */
  remoteData(data: Buffer): void {
    if (this.#remoteFin || this.destroyed) return;
    this.#unacked += data.length;
    if (!this.push(data)) this.#session.stall(this.id, true);
    else this.#ack();
  }

  /** @internal */
  remoteFin(): void {
    if (this.#remoteFin) return;
    this.#remoteFin = true;
    this.push(null);
    this.#maybeDone();
  }

  /** @internal */
  remoteReset(status: number): void {
    this.#resetByPeer = true;
    this.emit('reset', status);
    this.destroy();
  }

  /** @internal */
  windowUpdate(delta: number): void {
    this.#sendWindow += delta;
    if (this.#sendWindow > 0) {
      const w = this.#waitingWindow;
      this.#waitingWindow = undefined;
      w?.();
    }
  }

  /** End both directions now with RST_STREAM (CANCEL unless told otherwise). */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.destroyed) return;
    if (!this.#resetByPeer) this.#session.writeFrame({ type: 'rst_stream', streamId: this.id, status });
    this.#resetByPeer = true; // no second RST from _destroy
    this.destroy();
  }

  #ack(): void {
    // Acknowledge in chunks, as consumption goes (half a window at most outstanding).
    if (this.#unacked >= DEFAULT_WINDOW / 2 || (this.#unacked > 0 && this.readableLength === 0)) {
      this.#session.writeFrame({ type: 'window_update', streamId: this.id, delta: this.#unacked });
      this.#unacked = 0;
    }
  }

  override _read(): void {
    this.#session.stall(this.id, false);
    this.#ack();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#send(chunk).then(() => cb(), cb);
  }

  async #send(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (this.destroyed || this.#session.closed) throw new Error('SPDY stream closed');
      let room = MAX_SEND_FRAME;
      if (this.#session.peerFlowControl) {
        if (this.#sendWindow <= 0) {
          await new Promise<void>((r) => {
            this.#waitingWindow = r;
          });
          continue;
        }
        room = Math.min(room, this.#sendWindow);
      }
      const len = Math.min(room, chunk.length - off);
      const data = chunk.subarray(off, off + len);
      off += len;
      this.#sendWindow -= len;
      const ok = this.#session.writeFrame({ type: 'data', streamId: this.id, flags: 0, data });
      if (!ok) await this.#drain();
    }
  }

  #drain(): Promise<void> {
    return this.#session.drained();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#localFin = true;
    this.#session.writeFrame({ type: 'data', streamId: this.id, flags: FLAG_FIN, data: Buffer.alloc(0) });
    this.#maybeDone();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const w = this.#waitingWindow;
    this.#waitingWindow = undefined;
    w?.();
    if (!this.#resetByPeer && !(this.#localFin && this.#remoteFin)) {
      this.#session.writeFrame({ type: 'rst_stream', streamId: this.id, status: RstStatus.CANCEL });
    }
    this.#session.forget(this.id);
    cb(err);
  }

  #maybeDone(): void {
    if (this.#localFin && this.#remoteFin) this.#session.forget(this.id);
  }
}
