/**
 * The mock plugin's per-pod record and what is computed from it at call time (status, stats,
 * admin view). Pure: every function takes `now` from the caller's clock.
 */
import type { BackendPod, PodStatus } from '../../wire/interlink.ts';
import { type ContainerPlan, containerStatus, type Phase, podPhase } from './timeline.ts';

export interface PodRecord {
  uid: string;
  namespace: string;
  name: string;
  jid: string;
  createdAt: number;
  hasInit: boolean;
  plans: ContainerPlan[];
  /** Ends the log followers of this pod (called on delete). */
  followers: Set<() => void>;
}

export interface MockPodView {
  uid: string;
  namespace: string;
  name: string;
  jid: string;
  createdAt: string;
  phase: Phase;
}

export function statusOf(rec: PodRecord, now: number): PodStatus {
  const init: PodStatus['containers'] = [];
  const app: PodStatus['containers'] = [];
  for (const c of rec.plans) (c.init ? init : app).push(containerStatus(c, now, rec.hasInit, rec.jid));
  return {
    name: rec.name,
    UID: rec.uid,
    namespace: rec.namespace,
    JID: rec.jid,
    containers: app,
    initContainers: init,
  };
}

export function backendPodOf(r: PodRecord): BackendPod {
  return { UID: r.uid, namespace: r.namespace, name: r.name, JID: r.jid };
}

export function viewOf(rec: PodRecord, now: number): MockPodView {
  return {
    uid: rec.uid,
    namespace: rec.namespace,
    name: rec.name,
    jid: rec.jid,
    createdAt: new Date(rec.createdAt).toISOString(),
    phase: podPhase(rec.plans, now),
  };
}

/** The pod's entry of the stats summary: start times of the pod and of its started containers. */
export function podStatsOf(rec: PodRecord, now: number) {
  return {
    podRef: { name: rec.name, namespace: rec.namespace, uid: rec.uid },
    startTime: new Date(rec.createdAt).toISOString(),
    containers: rec.plans
      .filter((c) => c.startAt !== undefined && c.startAt <= now)
      .map((c) => ({ name: c.name, startTime: new Date(c.startAt!).toISOString() })),
  };
}

/** End every log follower of the pod (on delete and close). */
export function endFollowers(rec: PodRecord): void {
  for (const end of [...rec.followers]) end();
}
