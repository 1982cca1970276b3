/**
 * The pure parts of the kubelet's stream endpoints: paths, query names, protocol
 * negotiation, the streams each protocol opens, error-stream bytes and refusal bodies.
 */
import type { Duplex } from 'node:stream';
import { refuseUpgrade } from '../../../core/stream-upgrade.ts';
import { codeOf, ErrorCode, InterlinkError } from '../../../errors/index.ts';
import {
  type ExecQuery,
  exitCodeOf,
  type MetaStatus,
  STREAM_PROTOCOL_V1,
  STREAM_PROTOCOL_V2,
  STREAM_PROTOCOL_V3,
  STREAM_PROTOCOL_V4,
  STREAM_PROTOCOL_V5,
} from '../../../wire/streams.ts';

export const EXEC_SPDY_PROTOCOLS = [
  STREAM_PROTOCOL_V4,
  STREAM_PROTOCOL_V3,
  STREAM_PROTOCOL_V2,
  STREAM_PROTOCOL_V1,
];
export const EXEC_WS_PROTOCOLS = [STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4];

export type StreamKind = 'exec' | 'attach' | 'portForward';

export interface ParsedStreamPath {
  kind: StreamKind;
  namespace: string;
  pod: string;
  uid?: string | undefined;
  container?: string | undefined;
}

/** `/exec/ns/pod[/uid]/container`, `/portForward/ns/pod[/uid]` → parts; undefined if not one. Pure. */
export function parseStreamPath(pathname: string): ParsedStreamPath | undefined {
  const parts = pathname.split('/').slice(1).map(decodeURIComponent);
  const [head, ...rest] = parts;
  if (head === 'exec' || head === 'attach') {
    if (rest.length === 3) return { kind: head, namespace: rest[0]!, pod: rest[1]!, container: rest[2]! };
    if (rest.length === 4)
      return { kind: head, namespace: rest[0]!, pod: rest[1]!, uid: rest[2]!, container: rest[3]! };
    return undefined;
  }
  if (head === 'portForward') {
    if (rest.length === 2) return { kind: head, namespace: rest[0]!, pod: rest[1]! };
    if (rest.length === 3) return { kind: head, namespace: rest[0]!, pod: rest[1]!, uid: rest[2]! };
  }
  return undefined;
}

/**
 * The apiserver calls the kubelet with `input`, `output`, `error` (the kubelet's names,
 * pkg/apis/core ExecStdinParam...); direct clients may use the pod API's `stdin`, `stdout`,
 * `stderr`. Both → the wire's names. Pure.
 */
export function kubeletExecQuery(q: Record<string, string | string[]>): Record<string, string | string[]> {
  const out = { ...q };
  for (const [kubelet, wire] of [
    ['input', 'stdin'],
    ['output', 'stdout'],
    ['error', 'stderr'],
  ] as const) {
    const v = q[kubelet];
    if (v !== undefined && out[wire] === undefined) out[wire] = v;
    delete out[kubelet];
  }
  return out;
}

/** httpstream.Handshake's choice: the first client protocol we support. Pure. */
export function negotiate(
  headerValues: string | string[] | undefined,
  supported: readonly string[],
): string | undefined {
  const offered = (Array.isArray(headerValues) ? headerValues : headerValues ? [headerValues] : [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  return offered.find((p) => supported.includes(p));
}

/** Which SPDY streams the client opens for an exec/attach, as the kubelet expects them. Pure. */
export function expectedStreams(
  protocol: string,
  q: Pick<ExecQuery, 'stdin' | 'stdout' | 'stderr' | 'tty'>,
): string[] {
  const out = ['error'];
  if (q.stdin) out.push('stdin');
  if (q.stdout) out.push('stdout');
  if (q.stderr && (!q.tty || protocol === STREAM_PROTOCOL_V1)) out.push('stderr');
  if (q.tty && (protocol === STREAM_PROTOCOL_V3 || protocol === STREAM_PROTOCOL_V4)) out.push('resize');
  return out;
}

/** The bytes of the error stream for a status: v4 JSON, older protocols the message only. Pure. */
export function errorStreamBytes(protocol: string, status: MetaStatus): Buffer {
  if (protocol === STREAM_PROTOCOL_V4 || protocol === STREAM_PROTOCOL_V5)
    return Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1', ...status }));
  if (status.status === 'Success') return Buffer.alloc(0);
  const code = exitCodeOf(status);
  return Buffer.from(
    code !== undefined ? `command terminated with non-zero exit code: ${code}` : (status.message ?? 'error'),
  );
}

/** A metav1.Status body (refused upgrades, unsupported routes): the apiserver, client-go and kubectl print its message as is. */
export function statusJson(code: number, reason: string, message: string): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  });
}

/** Refuse an upgrade whose protocol could not be negotiated, naming the protocols we speak (as the kubelet does). */
export function refuseProtocol(socket: Duplex, message: string, accepted: readonly string[]): void {
  refuseUpgrade(socket, 403, statusJson(403, 'Forbidden', `unable to upgrade: ${message}`), {
    contentType: 'application/json',
    headers: { 'X-Accepted-Stream-Protocol-Versions': accepted.join(', ') },
  });
}

const REASON: Partial<Record<ErrorCode, string>> = {
  NOT_FOUND: 'NotFound',
  NOT_SUPPORTED: 'NotImplemented',
  INVALID_INPUT: 'BadRequest',
  UNAVAILABLE: 'ServiceUnavailable',
  FORBIDDEN: 'Forbidden',
  TIMEOUT: 'Timeout',
};

export function mapError(
  err: unknown,
  kind: StreamKind,
  nodeName: string,
): { code: number; reason: string; message: string } {
  const code = codeOf(err);
  const http: Partial<Record<ErrorCode, number>> = {
    NOT_FOUND: 404,
    NOT_SUPPORTED: 501,
    INVALID_INPUT: 400,
    UNAVAILABLE: 503,
    FORBIDDEN: 403,
    TIMEOUT: 504,
  };
  const status = http[code] ?? 500;
  let message = err instanceof InterlinkError ? err.message : 'internal error';
  // 501 from a plugin without the method; 404 for the route itself from an API or plugin
  // that predates streaming (ours says "no streaming route", Go's mux "404 page not found").
  const noRoute = code === ErrorCode.NOT_FOUND && /no streaming route|page not found|^Route /i.test(message);
  if (code === ErrorCode.NOT_SUPPORTED || noRoute) {
    message = `${kind} is not supported by the interLink plugin behind node ${nodeName} (the API or plugin has no streaming routes; interLink 0.6 has none): ${message}`;
    return { code: 501, reason: 'NotImplemented', message };
  }
  return { code: status, reason: REASON[code] ?? 'InternalError', message };
}

export function portForwardError(err: unknown, pod: string, port: number): string {
  const code = codeOf(err);
  const text = err instanceof Error ? err.message : 'failed';
  if (code === ErrorCode.NOT_SUPPORTED)
    return `port-forward is not supported by the interLink plugin of pod ${pod}`;
  return `error forwarding port ${port} to pod ${pod}: ${text}`;
}
