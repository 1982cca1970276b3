/**
 * Our additive streaming wire (VK → API → plugin) for exec, attach and port-forward, and the
 * Kubernetes channel protocol facts both ends share. interLink 0.6 has none of this.
 *
 *   GET /exec?namespace=&name=&uid=&container=&command=..&command=..&stdin=1&stdout=1&stderr=1&tty=0
 *   GET /attach?namespace=&name=&uid=&container=&stdin=1&stdout=1&stderr=1&tty=0
 *   GET /portforward?namespace=&name=&uid=&port=8080          (one connection per upgrade)
 *
 * each upgraded to a WebSocket with subprotocol `v5.channel.k8s.io`: every message is one
 * channel byte then data. exec/attach: 0 stdin, 1 stdout, 2 stderr, 3 error (one
 * metav1.Status JSON, then the socket closes), 4 resize (`{"Width":..,"Height":..}`);
 * `[255, ch]` half-closes channel `ch` (stdin EOF; stdout/stderr done). port-forward: 0 data,
 * 1 error (text), with the same close message. Auth: `Authorization: Bearer` as on every
 * route. A server without the route answers the upgrade with 501.
 */
import { z } from 'zod';
import { DnsLabel, DnsSubdomain, Uid } from './k8s.ts';

export const STREAM_PROTOCOL_V5 = 'v5.channel.k8s.io';
export const STREAM_PROTOCOL_V4 = 'v4.channel.k8s.io';
export const STREAM_PROTOCOL_V3 = 'v3.channel.k8s.io';
export const STREAM_PROTOCOL_V2 = 'v2.channel.k8s.io';
export const STREAM_PROTOCOL_V1 = 'channel.k8s.io';
export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
/** WebSocket port-forward (kubectl ≥ 1.30 tunnels SPDY in it): one stream pair per port. */
export const PORT_FORWARD_WS_PROTOCOL = 'v4.channel.k8s.io';

export const ExecChannel = { STDIN: 0, STDOUT: 1, STDERR: 2, ERROR: 3, RESIZE: 4, CLOSE: 255 } as const;
export const PortForwardChannel = { DATA: 0, ERROR: 1 } as const;

export const STREAM_PATHS = { exec: '/exec', attach: '/attach', portForward: '/portforward' } as const;

const flag = z
  .union([z.literal('1'), z.literal('0'), z.literal('true'), z.literal('false'), z.literal('')])
  .optional()
  .transform((v) => v === '1' || v === 'true');

/** Who: the pod and container. Validated as Kubernetes names before anything uses them. */
export const StreamTarget = z.object({
  namespace: DnsLabel,
  name: DnsSubdomain,
  uid: Uid,
});
export type StreamTarget = z.infer<typeof StreamTarget>;

export const ExecQuery = StreamTarget.extend({
  container: DnsLabel,
  /** argv of the command; exec only. Never a shell string. */
  command: z
    .array(z.string().max(64 * 1024))
    .max(4096)
    .default([]),
  stdin: flag,
  stdout: flag,
  stderr: flag,
  tty: flag,
});
export type ExecQuery = z.infer<typeof ExecQuery>;

export const PortForwardQuery = StreamTarget.extend({
  port: z.coerce.number().int().min(1).max(65535),
});
export type PortForwardQuery = z.infer<typeof PortForwardQuery>;

/** Query parameters → an object zod can check (repeated `command` stays a list). */
export function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const all = params.getAll(key);
    out[key] = key === 'command' ? all : (all[0] ?? '');
  }
  return out;
}

export function execSearch(q: ExecQuery): string {
  const p = new URLSearchParams({ namespace: q.namespace, name: q.name, uid: q.uid, container: q.container });
  for (const c of q.command) p.append('command', c);
  for (const k of ['stdin', 'stdout', 'stderr', 'tty'] as const) p.set(k, q[k] ? '1' : '0');
  return p.toString();
}

export function portForwardSearch(q: PortForwardQuery): string {
  return new URLSearchParams({
    namespace: q.namespace,
    name: q.name,
    uid: q.uid,
    port: String(q.port),
  }).toString();
}

/** A metav1.Status as the error channel carries it. */
export interface MetaStatus {
  kind?: 'Status';
  apiVersion?: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

export const MetaStatusSchema = z.looseObject({
  status: z.enum(['Success', 'Failure']),
  message: z.string().optional(),
  reason: z.string().optional(),
  code: z.number().optional(),
  details: z
    .looseObject({
      causes: z
        .array(z.looseObject({ reason: z.string().optional(), message: z.string().optional() }))
        .optional(),
    })
    .optional(),
});

export const successStatus = (): MetaStatus => ({ metadata: {}, status: 'Success' });

/** The status kubectl turns into "command terminated with exit code n" (and its own exit code). */
export function exitStatus(code: number): MetaStatus {
  if (code === 0) return successStatus();
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export function failureStatus(message: string, reason = 'InternalError', code = 500): MetaStatus {
  return { metadata: {}, status: 'Failure', message, reason, code };
}

/** The exit code a status carries: 0 for Success, the ExitCode cause, else undefined. */
export function exitCodeOf(s: MetaStatus): number | undefined {
  if (s.status === 'Success') return 0;
  const c = s.details?.causes?.find((x) => x.reason === 'ExitCode');
  const n = c?.message === undefined ? Number.NaN : Number(c.message);
  return Number.isInteger(n) ? n : undefined;
}

/** `{"Width":..,"Height":..}` of the resize channel. */
export const TerminalSize = z.object({
  Width: z.number().int().min(0).max(65535),
  Height: z.number().int().min(0).max(65535),
});
export type TerminalSize = z.infer<typeof TerminalSize>;

/** One channel message: the channel byte, then the data. Pure. */
export function encodeChannelMessage(channel: number, data: Buffer | Uint8Array = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(data.length + 1);
  out[0] = channel;
  out.set(data, 1);
  return out;
}

export function decodeChannelMessage(msg: Buffer): { channel: number; data: Buffer } | undefined {
  if (msg.length === 0) return undefined;
  return { channel: msg[0]!, data: msg.subarray(1) };
}
