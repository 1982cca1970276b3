/**
 * The life of one pod in the VK as an explicit state machine: the states, the table of
 * allowed transitions, and the small record the syncer keeps per pod. Pure: no I/O.
 * The table is documented (with what triggers each transition) at the top of syncer.ts.
 */
import type { PodStatus } from '../../wire/interlink.ts';
import type { KPod } from './kpod.ts';

export const PodState = {
  /** Not in the backend yet: resolve and create (a retryable failure stays here). */
  Pending: 'Pending',
  /** A referenced ConfigMap/Secret is missing: waiting for it, bounded in time. */
  WaitingForConfig: 'WaitingForConfig',
  /** The backend runs it (job id known): its status follows the poller's answers. */
  InBackend: 'InBackend',
  /** The backend no longer knows it: the pod is being marked Failed (BackendLost). */
  Lost: 'Lost',
  /** activeDeadlineSeconds passed and the backend job was deleted: being marked Failed. */
  DeadlineExceeded: 'DeadlineExceeded',
  /** Succeeded or Failed: nothing to do until the pod is deleted. */
  Finished: 'Finished',
  /** deletionTimestamp set: the backend delete is retried until it is confirmed. */
  Deleting: 'Deleting',
  /**
   * Backend delete confirmed: report containers terminated, delete the Pod (grace 0, UID
   * precondition); kept until the pod leaves the cache (a re-sync meanwhile does nothing).
   */
  BackendDeleted: 'BackendDeleted',
  /** Pseudo state: the record is dropped (the pod is gone, its backend job too). */
  Gone: 'Gone',
} as const;
export type PodState = (typeof PodState)[keyof typeof PodState];

const S = PodState;
const LIVE = [S.Pending, S.WaitingForConfig, S.InBackend, S.Lost, S.DeadlineExceeded, S.Finished] as const;

/** Allowed transitions: from → to. Anything else is a bug (`transition` throws). */
export const TRANSITIONS: Readonly<Record<PodState, readonly PodState[]>> = {
  [S.Pending]: [S.WaitingForConfig, S.InBackend, S.Finished, S.Deleting, S.Gone],
  [S.WaitingForConfig]: [S.Pending, S.Finished, S.Deleting, S.Gone],
  [S.InBackend]: [S.Lost, S.DeadlineExceeded, S.Finished, S.Deleting, S.Gone],
  [S.Lost]: [S.Finished, S.Deleting, S.Gone],
  [S.DeadlineExceeded]: [S.Finished, S.Deleting, S.Gone],
  [S.Finished]: [S.Deleting, S.Gone],
  [S.Deleting]: [S.BackendDeleted, S.Gone],
  [S.BackendDeleted]: [S.Gone],
  [S.Gone]: [],
};

/** Every allowed transition as "from→to" (tests check each one is exercised). */
export function allTransitions(): string[] {
  return Object.entries(TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from}→${to}`));
}

export const isLive = (s: PodState): boolean => (LIVE as readonly PodState[]).includes(s);

/** What the poller saw of a pod in the backend: its last answer, or that it is lost. */
export const BACKEND_LOST = 'lost' as const;

/**
 * Per-pod state, owned by the syncer; the queue runs one sync per key at a time. The
 * poller writes only `seen` and `missingSince` (observations); every state change is
 * the syncer's.
 */
export interface PodRecord {
  readonly key: string;
  readonly uid: string;
  state: PodState;
  /** The last version of the pod seen (kept after it left the cache, for the backend delete). */
  pod: KPod;
  jobId?: string;
  /** When we created or adopted it (ms). */
  createdAt?: number;
  /** The poller's last answer about it, or BACKEND_LOST. */
  seen?: PodStatus | typeof BACKEND_LOST;
  /** Since when the poller has not found it in the backend's answers (ms). */
  missingSince?: number;
  /** While WaitingForConfig: since when, and what is missing (an Event when it changes). */
  waiting?: { since: number; what: string };
  /** When service-account tokens are due for a refresh (ms). */
  refreshAt?: number;
  /** When the volumes' ConfigMaps and Secrets are looked at again (ms), and what was delivered. */
  resyncAt?: number | undefined;
  sourceVersions?: string | undefined;
  /** Failed backend delete attempts (for the Events). */
  deleteFailures: number;
  /** Counts of the probe and hook Events last reported (status/probe-events.ts). */
  probeEvents?: Map<string, number>;
  /**
   * BackendDeleted and the Pod delete was sent: the record stays until the informer drops
   * the pod (or shows a namesake), so a re-sync in between does not delete in the backend again.
   */
  podDeleted?: boolean;
}

/** Move `rec` to `to`; throws on a transition the table does not allow (a bug). */
export function transition(rec: PodRecord, to: PodState, onTransition?: TransitionHook): void {
  const from = rec.state;
  if (from === to) return;
  if (!TRANSITIONS[from].includes(to)) throw new Error(`pod ${rec.key}: no transition ${from} → ${to}`);
  rec.state = to;
  onTransition?.(rec.key, from, to);
}

export type TransitionHook = (key: string, from: PodState, to: PodState) => void;

/**
 * Whether the poller should call a pod lost: absent from the answers for `lostAfterMs`,
 * and created or adopted at least that long ago.
 */
export function isLost(
  rec: Pick<PodRecord, 'missingSince' | 'createdAt'>,
  now: number,
  lostAfterMs: number,
): boolean {
  const missing = rec.missingSince ?? now;
  return now - missing >= lostAfterMs && now - (rec.createdAt ?? now) >= lostAfterMs;
}
