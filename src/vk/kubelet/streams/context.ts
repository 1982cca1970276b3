/**
 * What every stream endpoint of the kubelet API shares: its dependencies, the limits
 * (streams per node and per pod, creation and idle timeouts) and the sockets open now.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ChannelSocket } from '../../../core/channel-ws.ts';
import type { Logger } from '../../../core/logger.ts';
import { acceptWebSocket } from '../../../core/stream-upgrade.ts';
import { ErrorCode, InterlinkError, notFound } from '../../../errors/index.ts';
import type { KPod } from '../../pods/kpod.ts';
import type { StreamBackend } from './client.ts';
import type { ParsedStreamPath } from './protocol.ts';

export interface StreamLimits {
  /** Exec/attach sessions and port-forward connections open at once on the node (default 64). */
  maxPerNode: number;
  /** ... per pod (default 16). */
  maxPerPod: number;
  /** Time the client has to open the streams it announced (default 30 s, as the kubelet). */
  creationTimeoutMs: number;
  /** A session with no traffic either way for this long is closed (default 4 h, as the kubelet). */
  idleTimeoutMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxPerNode: 64,
  maxPerPod: 16,
  creationTimeoutMs: 30_000,
  idleTimeoutMs: 4 * 60 * 60_000,
};

export interface KubeletStreamsDeps {
  nodeName: string;
  log: Logger;
  backend: StreamBackend;
  findPod(namespace: string, name: string): KPod | undefined;
  limits?: Partial<StreamLimits>;
}

/** Serves one upgrade request of a kind (exec/attach, portForward) on its socket. */
export type StreamServer = (
  ctx: StreamContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  p: ParsedStreamPath,
  url: URL,
) => Promise<void>;

export interface StreamContext {
  deps: KubeletStreamsDeps;
  limits: StreamLimits;
  /** Upgraded sockets open now (closed by closeAll). */
  live: Set<Duplex>;
  perPod: Map<string, number>;
  /** Count one stream against the node's and the pod's limits; throws UNAVAILABLE beyond. */
  acquire(key: string): () => void;
  /** The pod (and container) the path names, on this node; throws NOT_FOUND. */
  resolvePod(p: ParsedStreamPath): { pod: KPod; uid: string };
  /** Call `onIdle` after the limits' idle time without traffic on `socket`. */
  watchIdle(socket: Duplex, onIdle: () => void): void;
}

export function createStreamContext(deps: KubeletStreamsDeps): StreamContext {
  const limits = { ...DEFAULT_STREAM_LIMITS, ...deps.limits };
  const perPod = new Map<string, number>();
  let total = 0;
  const live = new Set<Duplex>();

  const acquire = (key: string): (() => void) => {
    if (total >= limits.maxPerNode)
      throw new InterlinkError(
        ErrorCode.UNAVAILABLE,
        `node ${deps.nodeName}: ${limits.maxPerNode} streams already open`,
      );
    if ((perPod.get(key) ?? 0) >= limits.maxPerPod)
      throw new InterlinkError(ErrorCode.UNAVAILABLE, `pod ${key}: ${limits.maxPerPod} streams already open`);
    total++;
    perPod.set(key, (perPod.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      total--;
      const n = (perPod.get(key) ?? 1) - 1;
      if (n <= 0) perPod.delete(key);
      else perPod.set(key, n);
    };
  };

  const resolvePod = (p: ParsedStreamPath): { pod: KPod; uid: string } => {
    const pod = deps.findPod(p.namespace, p.pod);
    const uid = pod?.metadata?.uid;
    if (!pod || !uid || (p.uid && p.uid !== uid))
      throw notFound(`pod "${p.namespace}/${p.pod}" does not exist on node ${deps.nodeName}`);
    if (p.container) {
      const names = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
      if (!names.includes(p.container))
        throw notFound(`container "${p.container}" not found in pod "${p.namespace}/${p.pod}"`);
    }
    return { pod, uid };
  };

  const watchIdle = (socket: Duplex, onIdle: () => void) => {
    const s = socket as Duplex & { setTimeout?: (ms: number, cb: () => void) => void };
    s.setTimeout?.(limits.idleTimeoutMs, onIdle);
  };

  return { deps, limits, live, perPod, acquire, resolvePod, watchIdle };
}

export function endAndWait(w: NodeJS.WritableStream | undefined): Promise<void> {
  const s = w as (Duplex & { writableFinished: boolean }) | undefined;
  return new Promise((resolve) => {
    if (!s || s.destroyed || s.writableFinished) return resolve();
    s.once('finish', () => resolve());
    s.once('close', () => resolve());
    s.end();
  });
}

/**
 * Accept a WebSocket upgrade with one of `protocols` as a channel socket counted among the
 * live sockets and watched for idleness; `signal` aborts when the client goes away.
 */
export async function acceptChannel(
  ctx: StreamContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  protocols: readonly string[],
  halfClose: (protocol: string) => boolean,
): Promise<{ cs: ChannelSocket; protocol: string; signal: AbortSignal }> {
  const ws = await acceptWebSocket(req, socket, head, protocols);
  ctx.live.add(socket);
  const cs = new ChannelSocket(ws, { halfClose: halfClose(ws.protocol) });
  const ctl = new AbortController();
  void cs.closed.then(() => {
    ctx.live.delete(socket);
    ctl.abort(new Error('client went away'));
  });
  ctx.watchIdle(socket, () => cs.terminate());
  return { cs, protocol: ws.protocol, signal: ctl.signal };
}
