/**
 * Exec, attach and port-forward on the kubelet API, as a kubelet serves them:
 *
 *   /exec/{ns}/{pod}[/{uid}]/{container}?command=..&stdin=1&stdout=1&stderr=1&tty=0
 *   /attach/{ns}/{pod}[/{uid}]/{container}?stdin=..
 *   /portForward/{ns}/{pod}[/{uid}]
 *
 * upgraded to SPDY/3.1 (what the kube-apiserver dials, also when kubectl spoke WebSocket to
 * it) or to a WebSocket (clients that reach the kubelet directly): exec/attach with
 * `v5.channel.k8s.io`/`v4.channel.k8s.io`, port-forward with `v4.channel.k8s.io` and `?ports=`. The protocol is negotiated from `X-Stream-Protocol-Version`
 * as client-go's httpstream.Handshake does (first client choice the server supports; 403
 * listing ours when none). Each stream is relayed to the interLink API (client.ts); the
 * error stream carries the final metav1.Status (v4: JSON, older: its message as text).
 *
 * Authentication and authorization happen before this (server.ts). Limits: streams per
 * node and per pod (429 beyond), stream creation timeout, idle timeout (context.ts).
 *
 * Pure parts in protocol.ts, exec/attach in exec-handler.ts, port-forward in
 * portforward-handler.ts; this module re-exports what callers import.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseUpgrade } from '../../../core/stream-upgrade.ts';
import { codeOf, ErrorCode } from '../../../errors/index.ts';
import { createStreamContext, type KubeletStreamsDeps } from './context.ts';
import { serveExec } from './exec-handler.ts';
import { servePortForward } from './portforward-handler.ts';
import { mapError, type ParsedStreamPath, statusJson } from './protocol.ts';

export {
  DEFAULT_STREAM_LIMITS,
  type KubeletStreamsDeps,
  type StreamLimits,
} from './context.ts';
export * from './protocol.ts';

export interface KubeletStreams {
  /** Serve one authorized upgrade request (the socket is ours from here on). */
  serve(req: IncomingMessage, socket: Duplex, head: Buffer, path: ParsedStreamPath, url: URL): Promise<void>;
  /** Sessions open now, by pod key. */
  open(): Map<string, number>;
  closeAll(): void;
}

export function createKubeletStreams(deps: KubeletStreamsDeps): KubeletStreams {
  const ctx = createStreamContext(deps);
  return {
    async serve(req, socket, head, p, url) {
      try {
        if (p.kind === 'portForward') await servePortForward(ctx, req, socket, head, p, url);
        else await serveExec(ctx, req, socket, head, p, url);
      } catch (err) {
        const code = codeOf(err);
        const status =
          code === ErrorCode.UNAVAILABLE && /streams already open/.test((err as Error).message)
            ? 429
            : undefined;
        const mapped = mapError(err, p.kind, ctx.deps.nodeName);
        if (mapped.code >= 500)
          ctx.deps.log.warn({ err: (err as Error).message, kind: p.kind }, 'stream refused');
        refuseUpgrade(
          socket,
          status ?? mapped.code,
          statusJson(status ?? mapped.code, mapped.reason, mapped.message),
          {
            contentType: 'application/json',
          },
        );
      }
    },
    open: () => new Map(ctx.perPod),
    closeAll() {
      for (const s of ctx.live) s.destroy();
    },
  };
}
