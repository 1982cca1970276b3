/**
 * Kubernetes channel framing over a WebSocket (wire/streams.ts), as Node streams: one
 * Readable per channel the peer writes, one Writable per channel we write. Used by every
 * hop of the streaming routes (VK kubelet API for direct WebSocket clients, VK → API,
 * API → plugin), so both ends of each hop share one implementation.
 *
 * - `v5.channel.k8s.io`: `[255, ch]` half-closes `ch` (ending a Writable sends it; receiving
 *   it ends the Readable). With v4 there is no half-close: Readables end when the socket closes.
 * - Back-pressure: a Writable's callback waits for the socket write; a full Readable pauses
 *   the socket until read.
 * - `close()` ends the socket normally; a socket closing ends every Readable and destroys
 *   every unfinished Writable. `closed` resolves then.
 */
import { PassThrough, type Readable, Writable } from 'node:stream';
import type WebSocket from 'ws';
import { ErrorCode, fromHttpStatus, InterlinkError } from '../errors/index.ts';
import { decodeChannelMessage, ExecChannel, encodeChannelMessage, TerminalSize } from '../wire/streams.ts';
import type { Endpoint } from './endpoint.ts';
import type { TlsClientOptions } from './http-client.ts';
import { injectTraceHeaders } from './tracing.ts';

export class ChannelSocket {
  readonly ws: WebSocket;
  readonly #halfClose: boolean;
  readonly #readers = new Map<number, PassThrough>();
  readonly #writers = new Map<number, Writable>();
  readonly closed: Promise<{ code: number; reason: string }>;
  #paused = new Set<number>();
  #isClosed = false;

  constructor(ws: WebSocket, opts: { halfClose: boolean }) {
    this.ws = ws;
    this.#halfClose = opts.halfClose;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary: boolean) =>
      this.#onMessage(isBinary ? data : Buffer.from(data)),
    );
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        this.#isClosed = true;
        for (const r of this.#readers.values()) if (!r.writableEnded) r.end();
        for (const w of this.#writers.values()) if (!w.writableFinished) w.destroy();
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('error', () => {});
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** What the peer writes on `channel` (created on first use; data before that is buffered). */
  readable(channel: number): Readable {
    return this.#reader(channel);
  }

  #reader(channel: number): PassThrough {
    let r = this.#readers.get(channel);
    if (!r) {
      r = new PassThrough({ highWaterMark: 256 * 1024 });
      if (this.#isClosed) r.end();
      const ch = channel;
      r.on('drain', () => this.#unpause(ch));
      this.#readers.set(channel, r);
    }
    return r;
  }

  /** What we write on `channel`; `end()` half-closes it (v5). */
  writable(channel: number): Writable {
    let w = this.#writers.get(channel);
    if (!w) {
      w = new Writable({
        highWaterMark: 64 * 1024,
        write: (chunk: Buffer, _enc, cb) => {
          if (this.#isClosed || this.ws.readyState !== this.ws.OPEN)
            return cb(new Error('stream socket closed'));
          this.ws.send(encodeChannelMessage(channel, chunk), { binary: true }, (err) => cb(err ?? null));
        },
        final: (cb) => {
          if (this.#halfClose && !this.#isClosed && this.ws.readyState === this.ws.OPEN)
            this.ws.send(Buffer.from([ExecChannel.CLOSE, channel]), { binary: true }, () => cb());
          else cb();
        },
      });
      this.#writers.set(channel, w);
    }
    return w;
  }

  /** Send one message on `channel` (the error channel's status, a resize). */
  send(channel: number, data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#isClosed || this.ws.readyState !== this.ws.OPEN)
        return reject(new Error('stream socket closed'));
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      this.ws.send(encodeChannelMessage(channel, buf), { binary: true }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING)
      this.ws.close(code, reason);
  }

  /** Cut at once (the other side went away). */
  terminate(): void {
    this.ws.terminate();
  }

  #onMessage(msg: Buffer): void {
    const m = decodeChannelMessage(msg);
    if (!m) return;
    if (m.channel === ExecChannel.CLOSE && this.#halfClose) {
      const target = m.data[0];
      if (target !== undefined) {
        const r = this.#reader(target);
        if (!r.writableEnded) r.end();
      }
      return;
    }
    const r = this.#reader(m.channel);
    if (r.writableEnded) return;
    if (!r.write(m.data)) {
      this.#paused.add(m.channel);
      this.ws.pause();
    }
  }

  #unpause(channel: number): void {
    this.#paused.delete(channel);
    if (this.#paused.size === 0) this.ws.resume();
  }
}

/* ------------------------------------------------------------------------------------------ */

/** The streams of one exec or attach, whichever hop serves it. Absent: not requested. */
export interface ExecIO {
  stdin?: Readable | undefined;
  stdout?: Writable | undefined;
  stderr?: Writable | undefined;
  /** Terminal sizes in arrival order (tty only). */
  resizes?: AsyncIterable<TerminalSize> | undefined;
  /** Aborted when the caller went away: stop the process, release everything. */
  signal: AbortSignal;
}

/**
 * The exec/attach streams of a channel socket, as the query asked for them: stderr only
 * without a TTY (a terminal merges it into stdout), resize messages only with one.
 */
export function channelExecIO(
  cs: ChannelSocket,
  q: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  signal: AbortSignal,
): ExecIO {
  return {
    stdin: q.stdin ? cs.readable(ExecChannel.STDIN) : undefined,
    stdout: q.stdout ? cs.writable(ExecChannel.STDOUT) : undefined,
    stderr: q.stderr && !q.tty ? cs.writable(ExecChannel.STDERR) : undefined,
    resizes: q.tty ? terminalSizes(cs.readable(ExecChannel.RESIZE)) : undefined,
    signal,
  };
}

/**
 * Terminal sizes from a resize stream: JSON objects back to back or newline-separated (Go's
 * json.Encoder writes one per line; WebSocket clients one per message). Invalid ones are
 * skipped; an over-long one ends the iteration.
 */
export async function* terminalSizes(source: Readable): AsyncGenerator<TerminalSize> {
  let buf = '';
  for await (const chunk of source) {
    buf += chunk.toString();
    if (buf.length > 64 * 1024) return;
    for (;;) {
      const end = buf.indexOf('}');
      if (end < 0) break;
      const start = buf.indexOf('{');
      const text = buf.slice(start >= 0 && start < end ? start : 0, end + 1);
      buf = buf.slice(end + 1);
      try {
        const parsed = TerminalSize.safeParse(JSON.parse(text));
        if (parsed.success) yield parsed.data;
      } catch {
        // not JSON: skip it
      }
    }
  }
}

export interface DialOptions {
  endpoint: Endpoint;
  tls?: TlsClientOptions | undefined;
  /** Path and query, e.g. `/exec?namespace=..`. */
  path: string;
  protocol: string;
  token?: string | undefined;
  headers?: Record<string, string>;
  /** Handshake timeout, ms. */
  timeoutMs?: number;
  halfClose?: boolean;
}

/**
 * Open a channel WebSocket to an interLink API or plugin. A refused upgrade throws an
 * InterlinkError whose code follows the HTTP status (501 → NOT_SUPPORTED, 404 → NOT_FOUND)
 * and whose message is the peer's answer text (bounded).
 */
export async function dialChannelSocket(opts: DialOptions): Promise<ChannelSocket> {
  const ws = await dialWebSocket(opts);
  const cs = new ChannelSocket(ws, { halfClose: opts.halfClose ?? true });
  ws.resume();
  return cs;
}

/**
 * `dialChannelSocket` without the channel layer, for relays: the socket comes back paused
 * (no message is emitted before the caller listens); `resume()` it.
 */
export async function dialWebSocket(opts: DialOptions): Promise<WebSocket> {
  const { default: WS } = await import('ws');
  const ep = opts.endpoint;
  const url =
    ep.kind === 'unix'
      ? `ws+unix://${ep.path}:${opts.path}`
      : `${ep.protocol === 'https' ? 'wss' : 'ws'}://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}${opts.path}`;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  // The stream continues the active trace on the next hop, as every HTTP call does.
  injectTraceHeaders(headers);
  const ws = new WS(url, [opts.protocol], {
    headers,
    handshakeTimeout: opts.timeoutMs ?? 10_000,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
    ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}),
    ...(opts.tls?.cert ? { cert: opts.tls.cert } : {}),
    ...(opts.tls?.key ? { key: opts.tls.key } : {}),
    ...(opts.tls?.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
  });
  return new Promise<WebSocket>((resolve, reject) => {
    ws.once('open', () => {
      ws.pause();
      ws.removeAllListeners('error');
      ws.removeAllListeners('unexpected-response');
      resolve(ws);
    });
    ws.once('error', (err) =>
      reject(
        new InterlinkError(ErrorCode.UNAVAILABLE, `stream connection failed: ${err.message}`, { cause: err }),
      ),
    );
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 4096) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => {
        const status = res.statusCode ?? 502;
        let text = Buffer.concat(chunks).toString('utf8').slice(0, 4096).trim();
        try {
          const j = JSON.parse(text) as { message?: unknown };
          if (typeof j.message === 'string') text = j.message;
        } catch {
          // plain text
        }
        ws.terminate();
        reject(new InterlinkError(fromHttpStatus(status), text || `upgrade refused with HTTP ${status}`));
      });
    });
  });
}
