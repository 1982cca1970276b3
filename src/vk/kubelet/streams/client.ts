/**
 * The VK's side of the streaming wire: exec, attach and port-forward connections to the
 * interLink API as channel WebSockets (wire/streams.ts), with the same endpoint, TLS and
 * bearer token (re-read for each call) as the VK's other API calls.
 */
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ChannelSocket, dialChannelSocket, type ExecIO } from '../../../core/channel-ws.ts';
import type { Endpoint } from '../../../core/endpoint.ts';
import type { TlsClientOptions } from '../../../core/http-client.ts';
import { pipeInto } from '../../../core/pipe.ts';
import { unavailable } from '../../../errors/index.ts';
import { newSessionId, SESSION_HEADER } from '../../../wire/headers.ts';
import {
  ExecChannel,
  type ExecQuery,
  execSearch,
  failureStatus,
  type MetaStatus,
  MetaStatusSchema,
  PortForwardChannel,
  type PortForwardQuery,
  portForwardSearch,
  STREAM_PATHS,
  STREAM_PROTOCOL_V5,
} from '../../../wire/streams.ts';
import type { VkConfig } from '../../config.ts';
import { interlinkConnection } from '../../interlink-connection.ts';

/** What the kubelet streams need from the interLink side; tests may stand in for it. */
export interface StreamBackend {
  /**
   * Open an exec or attach to the API. Throws (NOT_SUPPORTED, NOT_FOUND, UNAVAILABLE...) when
   * the API or plugin refuses, before any stream is wired; `run` then pumps `io` until the
   * process ended and resolves with its status.
   */
  openExec(kind: 'exec' | 'attach', q: ExecQuery): Promise<{ run(io: ExecIO): Promise<MetaStatus> }>;
  /** Carry one port-forward connection; resolves when it ended; rejects with the plugin's message. */
  portForward(q: PortForwardQuery, conn: Duplex, signal: AbortSignal): Promise<void>;
}

export interface StreamClientOptions {
  endpoint: Endpoint;
  tls?: TlsClientOptions | undefined;
  tokenFile?: string | undefined;
  timeoutMs?: number;
}

/** The same endpoint, TLS and token as the VK's HTTP client (one builder: interlink-connection.ts). */
export function streamClientOptions(config: VkConfig): StreamClientOptions {
  return interlinkConnection(config);
}

export function createStreamClient(opts: StreamClientOptions): StreamBackend {
  const token = async () => {
    if (!opts.tokenFile) return undefined;
    try {
      return (await readFile(opts.tokenFile, 'utf8')).trim() || undefined;
    } catch (err) {
      throw unavailable(
        `cannot read the interLink token file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  };
  const dial = async (path: string, op: string) =>
    dialChannelSocket({
      endpoint: opts.endpoint,
      tls: opts.tls,
      path,
      protocol: STREAM_PROTOCOL_V5,
      token: await token(),
      headers: { [SESSION_HEADER]: newSessionId(op) },
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });

  return {
    async openExec(kind, q) {
      const cs = await dial(
        `${kind === 'exec' ? STREAM_PATHS.exec : STREAM_PATHS.attach}?${execSearch(q)}`,
        kind,
      );
      return { run: (io) => pumpExec(cs, io) };
    },
    async portForward(q, conn, signal) {
      const cs = await dial(`${STREAM_PATHS.portForward}?${portForwardSearch(q)}`, 'portforward');
      const onAbort = () => cs.terminate();
      signal.addEventListener('abort', onAbort, { once: true });
      const errText = collect(cs.readable(PortForwardChannel.ERROR));
      // pipeInto, not pipeline: the upload failing when the plugin closes the socket must not
      // destroy `conn` while the download still drains into it.
      void pipeInto(conn, cs.writable(PortForwardChannel.DATA));
      const down = pipeInto(cs.readable(PortForwardChannel.DATA), conn);
      await cs.closed;
      signal.removeEventListener('abort', onAbort);
      await down;
      const message = (await errText).toString('utf8').trim();
      if (message) throw new Error(message);
    },
  };
}

async function collect(r: NodeJS.ReadableStream, limit = 64 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of r as AsyncIterable<Buffer>) {
    if (n < limit) parts.push(c);
    n += c.length;
  }
  return Buffer.concat(parts).subarray(0, limit);
}

/** Wire `io` to an open exec socket; resolve with the status from the error channel. */
export async function pumpExec(cs: ChannelSocket, io: ExecIO): Promise<MetaStatus> {
  const onAbort = () => cs.terminate();
  io.signal.addEventListener('abort', onAbort, { once: true });
  if (io.signal.aborted) onAbort();
  const statusBytes = collect(cs.readable(ExecChannel.ERROR));
  const outs = [
    io.stdout
      ? pipeline(cs.readable(ExecChannel.STDOUT), io.stdout, { end: false }).catch(() => {})
      : undefined,
    io.stderr
      ? pipeline(cs.readable(ExecChannel.STDERR), io.stderr, { end: false }).catch(() => {})
      : undefined,
  ];
  if (io.stdin) pipeline(io.stdin, cs.writable(ExecChannel.STDIN)).catch(() => {});
  if (io.resizes) {
    void (async () => {
      for await (const size of io.resizes!) {
        if (cs.isClosed) break;
        await cs.send(ExecChannel.RESIZE, JSON.stringify(size)).catch(() => {});
      }
    })().catch(() => {
      // The client's resize stream was torn down with its session: no more sizes. (Uncaught,
      // this rejection ended the VK after the first `kubectl exec -t`.)
    });
  }
  await cs.closed;
  io.signal.removeEventListener('abort', onAbort);
  await Promise.all(outs);
  const text = (await statusBytes).toString('utf8');
  if (!text)
    return failureStatus('the stream to the interLink API ended without a status', 'InternalError', 500);
  try {
    const parsed = MetaStatusSchema.safeParse(JSON.parse(text));
    if (parsed.success) return { metadata: {}, ...parsed.data } as MetaStatus;
  } catch {
    // fall through
  }
  return failureStatus('the interLink API sent a malformed status', 'InternalError', 500);
}
