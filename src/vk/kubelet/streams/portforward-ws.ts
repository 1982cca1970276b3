/**
 * /portForward/{ns}/{pod}[/{uid}]?ports=8080&ports=9090 over a WebSocket, for clients that
 * reach the kubelet API directly, as the kubelet serves it (pkg/kubelet/cri/streaming/
 * portforward/websocket.go): subprotocol `v4.channel.k8s.io` (binary channel framing), one
 * connection per listed port for the life of the socket; port i uses channel 2i for data
 * (both ways) and 2i+1 for errors (to the client). The server first writes the port number
 * (2 bytes, little-endian) on both channels of each port. The socket closes once every
 * connection ended. (The apiserver still dials SPDY; portforward-handler.ts.)
 */
import type { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import { codeOf, invalidInput } from '../../../errors/index.ts';
import { PORT_FORWARD_WS_PROTOCOL } from '../../../wire/streams.ts';
import { acceptChannel, type StreamContext } from './context.ts';
import { type ParsedStreamPath, portForwardError } from './protocol.ts';

/** At most this many ports in one request (each is a connection and two channels). */
export const MAX_WS_PORTS = 32;

/** The `ports` query parameter (repeated or comma-separated) → port numbers; throws INVALID_INPUT. Pure. */
export function parsePorts(values: readonly string[]): number[] {
  const words = values.flatMap((v) => v.split(',')).map((w) => w.trim());
  if (words.length === 0 || words.every((w) => w === ''))
    throw invalidInput('query ports: at least one port is required', 'ports');
  if (words.length > MAX_WS_PORTS) throw invalidInput(`query ports: at most ${MAX_WS_PORTS} ports`, 'ports');
  return words.map((w) => {
    const n = /^\d{1,5}$/.test(w) ? Number(w) : Number.NaN;
    if (!(n >= 1 && n <= 65535)) throw invalidInput('query ports: each port must be 1-65535', 'ports');
    return n;
  });
}

/** The first message of each channel of a port: the port, 2 bytes little-endian. Pure. */
export function portPrefix(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(port);
  return b;
}

export async function servePortForwardWs(
  ctx: StreamContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  p: ParsedStreamPath,
  uid: string,
  url: URL,
): Promise<void> {
  const ports = parsePorts(url.searchParams.getAll('ports'));
  const key = `${p.namespace}/${p.pod}`;
  const releases = ports.map(() => ctx.acquire(key));
  try {
    const { cs, signal } = await acceptChannel(
      ctx,
      req,
      socket,
      head,
      [PORT_FORWARD_WS_PROTOCOL],
      () => false,
    );
    await Promise.all(
      ports.map(async (port, i) => {
        const data = cs.writable(2 * i);
        const conn = Duplex.from({ readable: cs.readable(2 * i), writable: data });
        await cs.send(2 * i, portPrefix(port)).catch(() => {});
        await cs.send(2 * i + 1, portPrefix(port)).catch(() => {});
        try {
          await ctx.deps.backend.portForward(
            { namespace: p.namespace, name: p.pod, uid, port },
            conn,
            signal,
          );
        } catch (err) {
          ctx.deps.log.info({ pod: key, port, code: codeOf(err) }, 'port-forward connection failed');
          await cs.send(2 * i + 1, portForwardError(err, key, port)).catch(() => {});
        }
      }),
    );
    cs.close();
  } finally {
    for (const r of releases) r();
  }
}
