/**
 * Node conditions from the last ping of the interLink API. Pure: the controller feeds in
 * the ping outcome, the previous conditions and the time; a table tests the result.
 *
 * We own exactly these condition types and patch only them (strategic merge by `type`),
 * so conditions other agents add to the Node survive our patches.
 */
import type { V1NodeCondition } from '@kubernetes/client-node';
import { codeOf, ErrorCode } from '../../errors/index.ts';
import type { PingResponse } from '../../wire/interlink.ts';

export const OUR_CONDITIONS = [
  'Ready',
  'MemoryPressure',
  'DiskPressure',
  'PIDPressure',
  'NetworkUnavailable',
  'InterlinkConnectivity',
] as const;

/** What one ping told us. `api-down`: no answer from the API; `plugin-down`: the API answered that its plugin is. */
export type PingOutcome =
  | { kind: 'ok'; response: PingResponse | undefined }
  | { kind: 'api-down'; message: string }
  | { kind: 'plugin-down'; message: string }
  /** No ping has completed yet. */
  | { kind: 'unknown'; message: string };

export const REASONS = {
  ready: 'KubeletReady',
  apiDown: 'InterlinkUnreachable',
  pluginDown: 'PluginUnreachable',
  starting: 'KubeletNotReady',
  connected: 'InterlinkReachable',
} as const;

/**
 * Sort a failed ping: the API answering 503 (or 502) means it is up and its plugin is not;
 * a transport failure or timeout means the API itself is unreachable.
 */
export function classifyPingError(err: unknown): PingOutcome {
  const message = err instanceof Error ? err.message : String(err);
  const code = codeOf(err);
  // The HTTP client marks errors that came with an HTTP answer by the status it mapped;
  // transport failures carry a cause (ECONNREFUSED, a timeout) instead.
  const answered =
    typeof err === 'object' && err !== null && (err as { cause?: unknown }).cause === undefined;
  if ((code === ErrorCode.UNAVAILABLE || code === ErrorCode.BACKEND) && answered)
    return { kind: 'plugin-down', message };
  return { kind: 'api-down', message };
}

/** Our conditions for `outcome`, carrying lastTransitionTime over from `previous` when a status did not change. */
export function computeConditions(
  outcome: PingOutcome,
  previous: V1NodeCondition[] | undefined,
  now: Date,
): V1NodeCondition[] {
  const ok = outcome.kind === 'ok';
  const desired: Array<Omit<V1NodeCondition, 'lastHeartbeatTime' | 'lastTransitionTime'>> = [
    readyCondition(outcome),
    {
      type: 'MemoryPressure',
      status: 'False',
      reason: 'KubeletHasSufficientMemory',
      message: 'the virtual node has no memory pressure',
    },
    {
      type: 'DiskPressure',
      status: 'False',
      reason: 'KubeletHasNoDiskPressure',
      message: 'the virtual node has no disk pressure',
    },
    {
      type: 'PIDPressure',
      status: 'False',
      reason: 'KubeletHasSufficientPID',
      message: 'the virtual node has sufficient PID available',
    },
    {
      type: 'NetworkUnavailable',
      status: 'False',
      reason: 'RouteCreated',
      message: 'networking is handled by the remote site',
    },
    ok
      ? {
          type: 'InterlinkConnectivity',
          status: 'True',
          reason: REASONS.connected,
          message: 'the interLink API and its plugin answer pings',
        }
      : {
          type: 'InterlinkConnectivity',
          status: 'False',
          reason: readyCondition(outcome).reason,
          message: readyCondition(outcome).message,
        },
  ];
  return desired.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    const transition =
      before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now;
    return { ...c, lastHeartbeatTime: now, lastTransitionTime: transition };
  });
}

function readyCondition(
  outcome: PingOutcome,
): Omit<V1NodeCondition, 'lastHeartbeatTime' | 'lastTransitionTime'> {
  const notReady = (reason: string, message: string) => ({ type: 'Ready', status: 'False', reason, message });
  switch (outcome.kind) {
    case 'ok':
      return {
        type: 'Ready',
        status: 'True',
        reason: REASONS.ready,
        message: 'virtual kubelet is ready: the interLink API and its plugin answer',
      };
    case 'api-down':
      return notReady(REASONS.apiDown, `the interLink API is unreachable: ${outcome.message}`);
    case 'plugin-down':
      return notReady(REASONS.pluginDown, `the interLink plugin is unreachable: ${outcome.message}`);
    case 'unknown':
      return notReady(REASONS.starting, outcome.message);
  }
}

/** True when the Ready status or reason differs: worth an Event and an immediate status patch. */
export function readinessChanged(before: V1NodeCondition[] | undefined, after: V1NodeCondition[]): boolean {
  const a = before?.find((c) => c.type === 'Ready');
  const b = after.find((c) => c.type === 'Ready');
  return a?.status !== b?.status || a?.reason !== b?.reason;
}
