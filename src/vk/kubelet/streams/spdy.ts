/**
 * SPDY/3.1 as the kube-apiserver speaks it to a kubelet (exec, attach, port-forward): the
 * server-side session over one upgraded socket that hands each client-opened stream to a
 * callback as a Node Duplex (spdy-stream.ts). The frame codec is in spdy-frames.ts, header
 * blocks with the SPDY/3 zlib dictionary in spdy-headers.ts; this module re-exports both.
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
import type { Duplex } from 'node:stream';
import {
  DEFAULT_WINDOW,
  encodeFrame,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  type Frame,
  FrameParser,
  GoAwayStatus,
  RstStatus,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
} from './spdy-frames.ts';
import {
  decodeHeaderBlock,
  encodeHeaderBlock,
  HeaderCompressor,
  HeaderDecompressor,
} from './spdy-headers.ts';
import { SpdyStream } from './spdy-stream.ts';

export * from './spdy-frames.ts';
export * from './spdy-headers.ts';
export { SpdyStream } from './spdy-stream.ts';

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
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.#teardown());
    // The peer's FIN ends the session: end our side too. An upgraded socket of an HTTP
    // server is half-open by default (allowHalfOpen), and the handlers forget it on
    // `close`, so one left open would hold the server's close() for ever.
    socket.on('end', () => {
      this.#teardown();
      if (!socket.destroyed) socket.end();
    });
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
