/** One stream of a SPDY/3.1 session (spdy.ts) as a Node Duplex, with its flow control. */
import { Duplex } from 'node:stream';
import type { SpdySession } from './spdy.ts';
import { DEFAULT_WINDOW, FLAG_FIN, MAX_SEND_FRAME, RstStatus } from './spdy-frames.ts';

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
