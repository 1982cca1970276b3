/**
 * The mock plugin's test/admin state: call counters per pod UID and injected faults.
 * Counters are Maps keyed by UID: a UID is caller data (`constructor`, `__proto__` are valid UIDs).
 */
import { backendError } from '../../errors/index.ts';

export type FaultValue = boolean | string;

/** Injected backend failures: `true` or a message makes every such call fail with BACKEND (502). */
export interface Faults {
  createFails?: FaultValue | undefined;
  deleteFails?: FaultValue | undefined;
  statusFails?: FaultValue | undefined;
  logsFails?: FaultValue | undefined;
  pingFails?: FaultValue | undefined;
}

export interface Counters {
  /** create calls received per pod UID, including repeated, refused and failed ones. */
  create: Map<string, number>;
  /** delete calls received per pod UID. */
  delete: Map<string, number>;
  /** status calls, and the pods they asked about in total. */
  status: number;
  statusPods: number;
  logs: number;
  ping: number;
}

/** The counters as JSON (what GET /mock/calls answers): the per-UID maps as records. */
export type CallCounts = {
  [K in keyof Counters]: Counters[K] extends Map<string, number> ? Record<string, number> : number;
};

export function emptyCounts(): Counters {
  return { create: new Map(), delete: new Map(), status: 0, statusPods: 0, logs: 0, ping: 0 };
}

/** The counters as plain records with no prototype, so no UID can collide with an inherited name. */
export function callCountsOf(c: Counters): CallCounts {
  return { ...c, create: recordOf(c.create), delete: recordOf(c.delete) };
}

function recordOf(counts: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = Object.create(null);
  for (const [uid, n] of counts) out[uid] = n;
  return out;
}

/** Count one more call for `uid`; returns the new count. */
export function bump(counts: Map<string, number>, uid: string): number {
  const n = (counts.get(uid) ?? 0) + 1;
  counts.set(uid, n);
  return n;
}

export function failIf(fault: FaultValue | undefined, op: string): void {
  if (fault === undefined || fault === false) return;
  throw backendError(typeof fault === 'string' ? fault : `mock: injected ${op} failure`);
}
