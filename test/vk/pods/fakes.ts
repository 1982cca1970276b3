/**
 * Fakes for driving the pod syncer, poller and adopter without an apiserver or an
 * interLink API: a cache (the informer), a KubeWriter that applies writes to that cache as
 * the apiserver would, an interLink backend kept in memory, a resolver, an Event
 * recorder, and a FakeClock. `world()` wires them to a PodSyncer and a StatusPoller.
 */
import { Registry } from 'prom-client';
import { FakeClock } from '../../../src/core/clock.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import type { EventType, ObjectRef } from '../../../src/vk/events.ts';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import { keyOf } from '../../../src/vk/pods/kpod.ts';
import type { KubeWriter } from '../../../src/vk/pods/kube-writer.ts';
import type { PodState } from '../../../src/vk/pods/lifecycle.ts';
import { podMetrics } from '../../../src/vk/pods/metrics.ts';
import { createStatusPoller } from '../../../src/vk/pods/poller.ts';
import { PodSyncer } from '../../../src/vk/pods/syncer.ts';
import type { Missing } from '../../../src/vk/resolve/env.ts';
import type { Resolution } from '../../../src/vk/resolve/resolver.ts';
import type {
  CreateStruct,
  DeleteAnswer,
  PodCreateRequests,
  PodStatus,
} from '../../../src/wire/interlink.ts';
import type { KubePodStatus, Pod } from '../../../src/wire/k8s.ts';

export const NS = 'ns';
export const START = 1_700_000_000_000;

type ContainerStatus = NonNullable<PodStatus['containers']>[number];
export const running = (name = 'main'): ContainerStatus => ({
  name,
  ready: true,
  restartCount: 0,
  state: { running: { startedAt: '2023-11-14T22:13:20Z' } },
});
export const terminated = (exitCode: number, name = 'main'): ContainerStatus => ({
  name,
  ready: false,
  restartCount: 0,
  state: {
    terminated: { exitCode, startedAt: '2023-11-14T22:13:20Z', finishedAt: '2023-11-14T22:13:30Z' },
  },
});

export function makePod(
  name: string,
  opts: {
    uid?: string;
    annotations?: Record<string, string>;
    status?: KubePodStatus;
    deadlineSeconds?: number;
  } = {},
): KPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NS,
      uid: opts.uid ?? `uid-${name}`,
      resourceVersion: '1',
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    spec: {
      nodeName: 'vk',
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'busybox' }],
      ...(opts.deadlineSeconds !== undefined ? { activeDeadlineSeconds: opts.deadlineSeconds } : {}),
    },
    ...(opts.status ? { status: opts.status } : {}),
  };
}

/** The informer cache. */
export class FakeCache {
  readonly pods = new Map<string, KPod>();
  hasSynced = true;
  get(key: string): KPod | undefined {
    return this.pods.get(key);
  }
  list(): KPod[] {
    return [...this.pods.values()];
  }
  put(pod: KPod): KPod {
    this.pods.set(keyOf(pod), pod);
    return pod;
  }
  remove(name: string): void {
    this.pods.delete(`${NS}/${name}`);
  }
  /** A change by someone else (a user, the apiserver): a new resourceVersion. */
  update(name: string, change: (p: KPod) => void): KPod {
    const cur = structuredClone(this.pods.get(`${NS}/${name}`));
    if (!cur) throw new Error(`no pod ${name}`);
    change(cur);
    cur.metadata.resourceVersion = String(Number(cur.metadata.resourceVersion) + 1);
    return this.put(cur);
  }
  markDeleted(name: string): KPod {
    return this.update(name, (p) => {
      p.metadata.deletionTimestamp = '2023-11-14T22:20:00Z';
    });
  }
}

/** Applies status writes to the cache as the apiserver would; `failures` are thrown by the next calls. */
export class FakeWriter implements KubeWriter {
  readonly writes: Array<{ key: string; status: KubePodStatus; annotations?: Record<string, string> }> = [];
  readonly deletes: Array<{ key: string; uid: string; gracePeriodSeconds: 0 }> = [];
  readonly failures: Error[] = [];
  /** The informer lags: a deleted Pod stays in the cache until the test removes it. */
  informerLags = false;
  readonly cache: FakeCache;
  constructor(cache: FakeCache) {
    this.cache = cache;
  }

  async writeStatus(pod: KPod, status: KubePodStatus, annotations?: Record<string, string>) {
    const err = this.failures.shift();
    if (err) throw err;
    const cur = this.cache.get(keyOf(pod));
    if (!cur || cur.metadata.uid !== pod.metadata.uid) return undefined;
    this.writes.push({
      key: keyOf(pod),
      status: structuredClone(status),
      ...(annotations ? { annotations } : {}),
    });
    const updated: KPod = {
      ...cur,
      metadata: {
        ...cur.metadata,
        resourceVersion: String(Number(cur.metadata.resourceVersion) + 1),
        ...(annotations ? { annotations: { ...cur.metadata.annotations, ...annotations } } : {}),
      },
      status: structuredClone(status),
    };
    return this.cache.put(updated);
  }

  async deletePod(pod: KPod) {
    const err = this.failures.shift();
    if (err) throw err;
    this.deletes.push({ key: keyOf(pod), uid: pod.metadata.uid, gracePeriodSeconds: 0 });
    const cur = this.cache.get(keyOf(pod));
    if (cur?.metadata.uid === pod.metadata.uid && !this.informerLags) this.cache.pods.delete(keyOf(pod));
  }

  statuses(name: string): KubePodStatus[] {
    return this.writes.filter((w) => w.key === `${NS}/${name}`).map((w) => w.status);
  }
}

/** An interLink API with an in-memory backend; `*Errors` are thrown by the next calls. */
export class FakeInterlink {
  readonly jobs = new Map<string, PodStatus>();
  readonly created: PodCreateRequests[] = [];
  readonly deleted: Pod[] = [];
  readonly cacheDropped: Pod[] = [];
  readonly statusCalls: Pod[][] = [];
  readonly createErrors: Error[] = [];
  readonly deleteErrors: Error[] = [];
  /** What the next deletes answer beyond "done" (a DeleteAnswer), in order. */
  readonly deleteAnswers: DeleteAnswer[] = [];
  readonly statusErrors: Error[] = [];
  #seq = 0;

  describe() {
    return 'fake://interlink';
  }
  async create(req: PodCreateRequests): Promise<CreateStruct> {
    const err = this.createErrors.shift();
    if (err) throw err;
    this.created.push(structuredClone(req));
    const m = req.pod.metadata as { name: string; namespace: string; uid: string };
    const known = this.jobs.get(m.uid);
    const JID = known?.JID ?? `job-${++this.#seq}`;
    if (!known)
      this.jobs.set(m.uid, { name: m.name, namespace: m.namespace, UID: m.uid, JID, containers: [] });
    return { PodUID: m.uid, PodJID: JID };
  }
  async delete(pod: Pod): Promise<DeleteAnswer | undefined> {
    const err = this.deleteErrors.shift();
    if (err) throw err;
    this.deleted.push(pod);
    this.jobs.delete((pod.metadata as { uid: string }).uid);
    return this.deleteAnswers.shift();
  }
  async status(pods: Pod[]): Promise<PodStatus[]> {
    this.statusCalls.push(pods);
    const err = this.statusErrors.shift();
    if (err) throw err;
    return pods.flatMap((p) => {
      const s = this.jobs.get((p.metadata as { uid: string }).uid);
      return s ? [structuredClone(s)] : [];
    });
  }
  async updateCache(pod: Pod): Promise<void> {
    this.cacheDropped.push(pod);
  }
  /** What the backend reports for a pod's containers. */
  report(uid: string, containers: ContainerStatus[]): void {
    const s = this.jobs.get(uid);
    if (!s) throw new Error(`no job for ${uid}`);
    s.containers = containers;
  }
}

export class FakeResolver {
  missing: Missing[] = [];
  refreshAt: number | undefined;
  /** What the volume ConfigMaps and Secrets are at now (Resolution.sourceVersions). */
  versions: string | undefined;
  calls = 0;
  versionLookups = 0;
  async volumeSourceVersions(_pod: KPod): Promise<string | undefined> {
    this.versionLookups++;
    return this.versions;
  }
  async resolve(pod: KPod): Promise<Resolution> {
    this.calls++;
    return {
      request: {
        pod: structuredClone(pod),
        configmaps: [],
        secrets: [],
        projectedvolumesmaps: [],
      },
      missing: [...this.missing],
      warnings: [],
      refreshAt: this.refreshAt,
      sourceVersions: this.versions,
    };
  }
}

export interface RecordedEvent {
  obj: ObjectRef;
  type: EventType;
  reason: string;
  message: string;
}

export class FakeEvents {
  readonly list: RecordedEvent[] = [];
  record(obj: ObjectRef, type: EventType, reason: string, message: string) {
    this.list.push({ obj, type, reason, message });
  }
  normal(obj: ObjectRef, reason: string, message: string) {
    this.record(obj, 'Normal', reason, message);
  }
  warning(obj: ObjectRef, reason: string, message: string) {
    this.record(obj, 'Warning', reason, message);
  }
  reasons(name?: string): string[] {
    return this.list.filter((e) => name === undefined || e.obj.name === name).map((e) => e.reason);
  }
  find(reason: string): RecordedEvent | undefined {
    return this.list.find((e) => e.reason === reason);
  }
}

export const LOST_AFTER_MS = 10_000;
export const MISSING_TIMEOUT_MS = 5_000;

/** Everything wired: a PodSyncer and a StatusPoller over the fakes. */
export function world(
  onTransition?: (key: string, from: PodState, to: PodState) => void,
  opts: { volumeResyncMs?: number; firstLookMs?: number } = {},
) {
  const { firstLookMs, ...syncerOpts } = opts;
  const clock = new FakeClock(START);
  const cache = new FakeCache();
  const writer = new FakeWriter(cache);
  const interlink = new FakeInterlink();
  const resolver = new FakeResolver();
  const events = new FakeEvents();
  const logger = silentLogger();
  const metrics = podMetrics(new Registry(), {
    queueDepth: () => 0,
    queueDelayed: () => 0,
    queueProcessing: () => 0,
    podsByPhase: () => ({}),
    tracked: () => 0,
    oldestPendingSeconds: () => 0,
  });
  const syncer = new PodSyncer({
    cache,
    writer,
    interlink,
    resolver,
    events,
    clock,
    logger,
    metrics,
    hostIP: '10.0.0.5',
    missingResourceTimeoutMs: MISSING_TIMEOUT_MS,
    ...syncerOpts,
    ...(onTransition ? { onTransition } : {}),
  });
  const enqueued: string[] = [];
  const poller = createStatusPoller({
    records: () => syncer.records.values(),
    cache,
    interlink,
    enqueue: (key) => enqueued.push(key),
    events,
    clock,
    logger,
    metrics,
    nodeName: 'vk',
    backendLostTimeoutMs: LOST_AFTER_MS,
    intervalMs: 1_000,
    ...(firstLookMs !== undefined ? { firstLookMs } : {}),
  });
  const key = (name: string) => `${NS}/${name}`;
  const state = (name: string) => syncer.records.get(key(name))?.state ?? 'Gone';
  const sync = (name: string) => syncer.sync(key(name));
  return { clock, cache, writer, interlink, resolver, events, syncer, poller, enqueued, key, state, sync };
}
