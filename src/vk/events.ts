/**
 * Kubernetes Events (core/v1) for the VK, pod side and node side alike: source component
 * `interlink-vk`, host = the node. Repeats of the same (object, type, reason, message)
 * are aggregated like client-go's EventCorrelator: the existing Event's `count` and
 * `lastTimestamp` are patched instead of creating a new object.
 *
 * Recording never blocks and never throws (an Event is informational; a failing apiserver
 * must not stop a reconcile): writes are queued and done in the background by a few
 * concurrent writers ("lanes"); the Events of one object always take the same lane, so they
 * are written in order and a repeat aggregates onto the Event its lane wrote. One lane was a
 * serial apiserver stream that overflowed at 5,000 pods (docs/performance.md). Failures are
 * logged. `flush()` waits for queued writes (tests); `close()` writes what is queued without
 * the rate limit (shutdown).
 *
 * Writes are rate limited as the kubelet's (`eventRecordQPS` 50, `eventBurst` 100): a burst
 * of pods moving at once must not spend the apiserver on Events while status writes, which
 * users and controllers wait for, queue behind them. Events of a burst are written late, not
 * lost: `interlink_vk_event_write_delay_seconds` shows how late.
 *
 * The queue is a keyed pending set, as the kubelet's recorder aggregates: a repeat of an
 * Event still waiting to be written only bumps that entry's count (one write for all of
 * them, with their total count), so a burst of identical Events costs one slot. Only
 * distinct Events take a slot; beyond `maxPending` of them an Event is dropped (counted in
 * `interlink_vk_events_total{outcome="dropped"}`, one log line per overflow episode).
 */

import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { tokenBucket } from '../core/rate-limit.ts';
import { type CoreApi, MERGE_PATCH } from './kube-api.ts';

export const EVENT_SOURCE = 'interlink-vk';

export interface ObjectRef {
  kind: string;
  apiVersion?: string;
  namespace?: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
  /** e.g. `spec.containers{main}` for container-level events. */
  fieldPath?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  /** Record an Event; never blocks, never throws. */
  record(obj: ObjectRef, type: EventType, reason: string, message: string): void;
  normal(obj: ObjectRef, reason: string, message: string): void;
  warning(obj: ObjectRef, reason: string, message: string): void;
  /** Resolves when every Event recorded so far was written (or failed). */
  flush(): Promise<void>;
  /** Stop rate limiting and write everything queued (shutdown); resolves when done. */
  close(): Promise<void>;
  /** What became of the Events recorded so far (also `interlink_vk_events_total{outcome}`). */
  stats(): EventStats;
}

/**
 * Recorded Events by outcome: `written` (one create or patch, carrying every repeat it
 * aggregated), `aggregated` (a repeat folded into a pending write), `dropped` (the pending
 * set was full), `failed` (the write failed).
 */
export interface EventStats {
  written: number;
  aggregated: number;
  dropped: number;
  failed: number;
}

/** Works on client-node V1Pods and on raw JSON pods alike. */
export function podRef(
  pod: V1Pod | { metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string } },
  fieldPath?: string,
): ObjectRef {
  const m = pod.metadata ?? {};
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    name: m.name ?? '',
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(m.uid ? { uid: m.uid } : {}),
    ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
    ...(fieldPath ? { fieldPath } : {}),
  };
}

/** The kubelet uses the node name as the uid of Node events; so do we. */
export function nodeRef(nodeName: string): ObjectRef {
  return { kind: 'Node', apiVersion: 'v1', name: nodeName, uid: nodeName };
}

export interface EventRecorderOptions {
  core: Pick<CoreApi, 'createNamespacedEvent' | 'patchNamespacedEvent'>;
  nodeName: string;
  logger: Logger;
  clock?: Clock;
  /** Aggregation window: a repeat within it bumps the count (default 10 min, as client-go). */
  aggregateWindowMs?: number;
  /** Most distinct events remembered for aggregation (default 4096). */
  cacheSize?: number;
  /**
   * Most distinct Events waiting to be written (repeats of a waiting one take no slot);
   * beyond it new ones are dropped (default 50,000: about 20 MiB; at the default rate a
   * 5,000-pod burst queues ~15,000).
   */
  maxPending?: number;
  /** Event writes per second after the burst (kubelet `eventRecordQPS`, default 50); 0 = no limit. */
  qps?: number;
  /** Event writes that may go at once after a quiet spell (kubelet `eventBurst`, default 100). */
  burst?: number;
  /** Where `interlink_vk_events_total{outcome}` is registered (none: not exported). */
  registry?: Registry;
  /** Concurrent writers; one object's Events always use the same one (default 4). */
  concurrency?: number;
}

interface Pending {
  obj: ObjectRef;
  type: EventType;
  reason: string;
  message: string;
  /** Occurrences folded into this write. */
  count: number;
  /** When the latest of them was recorded (ms). */
  at: number;
  /** When the first of them was recorded (ms): the write's delay is counted from it. */
  firstAt: number;
}

/** The aggregation key: same object, type, reason and message. */
function eventKey(obj: ObjectRef, type: EventType, reason: string, message: string): string {
  return [
    obj.kind,
    obj.namespace || 'default',
    obj.name,
    obj.uid ?? '',
    obj.fieldPath ?? '',
    type,
    reason,
    message,
  ].join('\u0000');
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
  firstTimestamp: Date;
  lastAt: number;
}

/** The Event object of a first write (later repeats patch its count). Pure. */
function eventObject(p: Pending, name: string, namespace: string, now: Date, nodeName: string): CoreV1Event {
  const { obj, type, reason, message } = p;
  return {
    metadata: { name, namespace },
    involvedObject: {
      kind: obj.kind,
      name: obj.name,
      ...(obj.apiVersion ? { apiVersion: obj.apiVersion } : {}),
      ...(obj.namespace ? { namespace: obj.namespace } : {}),
      ...(obj.uid ? { uid: obj.uid } : {}),
      ...(obj.resourceVersion ? { resourceVersion: obj.resourceVersion } : {}),
      ...(obj.fieldPath ? { fieldPath: obj.fieldPath } : {}),
    },
    type,
    reason,
    // The apiserver rejects messages over 1 KiB.
    message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
    source: { component: EVENT_SOURCE, host: nodeName },
    reportingComponent: EVENT_SOURCE,
    reportingInstance: nodeName,
    firstTimestamp: now,
    lastTimestamp: now,
    count: p.count,
  };
}

/** FNV-1a of the object's identity: stable and cheap; spreads objects over the write lanes. */
function objectHash(obj: ObjectRef): number {
  let h = 0x811c9dc5;
  const id = `${obj.kind}/${obj.namespace ?? ''}/${obj.name}`;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function recorderMetrics(registry: Registry, pendingNow: () => number) {
  return {
    outcomes: new Counter({
      name: 'interlink_vk_events_total',
      help: 'Kubernetes Events recorded by the VK, by outcome (written, aggregated into a pending write, dropped, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'interlink_vk_events_pending',
      help: 'Distinct Kubernetes Events waiting to be written (rate limit, slow apiserver)',
      registers: [registry],
      collect() {
        this.set(pendingNow());
      },
    }),
    delay: new Histogram({
      name: 'interlink_vk_event_write_delay_seconds',
      help: 'From recording an Event to the start of its write (rate limit and queueing)',
      buckets: [0.01, 0.05, 0.25, 1, 5, 15, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
  };
}

interface WriteContext {
  core: EventRecorderOptions['core'];
  nodeName: string;
  /** Events written recently, by key: a repeat within `windowMs` patches their count. */
  seen: Map<string, Seen>;
  windowMs: number;
  cacheSize: number;
}

/** One write: a patch of the count of the Event a recent repeat created, else a new Event. */
async function writeEvent(ctx: WriteContext, key: string, p: Pending): Promise<void> {
  const { seen } = ctx;
  const { obj, at } = p;
  const namespace = obj.namespace || 'default';
  const now = new Date(at);
  const prev = seen.get(key);
  if (prev && at - prev.lastAt <= ctx.windowMs) {
    prev.count += p.count;
    prev.lastAt = at;
    seen.delete(key);
    seen.set(key, prev);
    try {
      await ctx.core.patchNamespacedEvent(
        { name: prev.name, namespace: prev.namespace, body: { count: prev.count, lastTimestamp: now } },
        MERGE_PATCH,
      );
      return;
    } catch (err) {
      // The Event may have expired (TTL 1 h) or been deleted: write a fresh one.
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
  const name = `${obj.name}.${(at * 1_000_000 + Math.floor(Math.random() * 1_000_000)).toString(16)}`;
  const event = eventObject(p, name, namespace, now, ctx.nodeName);
  await ctx.core.createNamespacedEvent({ namespace, body: event });
  seen.delete(key);
  seen.set(key, { namespace, name, count: p.count, firstTimestamp: now, lastAt: at });
  while (seen.size > ctx.cacheSize) seen.delete(seen.keys().next().value as string);
}

export function createEventRecorder(opts: EventRecorderOptions): EventRecorder {
  const clock = opts.clock ?? systemClock;
  const maxPending = opts.maxPending ?? 50_000;
  const log = opts.logger;
  const writes: WriteContext = {
    core: opts.core,
    nodeName: opts.nodeName,
    seen: new Map(),
    windowMs: opts.aggregateWindowMs ?? 600_000,
    cacheSize: opts.cacheSize ?? 4096,
  };
  const pending = new Map<string, Pending>();
  const stats: EventStats = { written: 0, aggregated: 0, dropped: 0, failed: 0 };
  const metrics = opts.registry ? recorderMetrics(opts.registry, () => pending.size) : undefined;
  const count = (outcome: keyof EventStats, n = 1) => {
    stats[outcome] += n;
    metrics?.outcomes.inc({ outcome }, n);
  };
  const limiter = tokenBucket({ qps: opts.qps ?? 50, burst: opts.burst ?? 100, clock });
  let limited = true;
  /** Drops in the current overflow episode (logged once when it starts and once when it ends). */
  let droppedInEpisode = 0;
  const laneCount = Math.max(1, Math.floor(opts.concurrency ?? 4));
  /** Each lane's keys in the order recorded; a lane's writer takes them one at a time. */
  const queues: string[][] = Array.from({ length: laneCount }, () => []);
  /** A lane's writer while it has work (none when its queue is empty). */
  const writers: Array<Promise<void> | undefined> = new Array(laneCount).fill(undefined);
  const laneOf = (obj: ObjectRef): number => objectHash(obj) % laneCount;

  async function drain(queue: string[]): Promise<void> {
    // Start after the recording caller's turn: repeats it records right away still fold in.
    await undefined;
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      // Wait for the rate limit before taking the Event off the pending set, so repeats
      // recorded meanwhile still fold into this write.
      const wait = limited ? limiter.reserve() : 0;
      if (wait > 0) await clock.sleep(wait);
      const p = pending.get(key) as Pending;
      pending.delete(key);
      metrics?.delay.observe((clock.now() - p.firstAt) / 1000);
      try {
        await writeEvent(writes, key, p);
        count('written');
      } catch (err) {
        count('failed');
        const { obj } = p;
        log.warn(
          {
            err: (err as Error).message,
            reason: p.reason,
            object: `${obj.kind}/${obj.namespace ?? ''}/${obj.name}`,
          },
          'cannot write event',
        );
      }
    }
  }

  function startWriter(lane: number): void {
    if (writers[lane]) return;
    writers[lane] = drain(queues[lane] as string[]).finally(() => {
      writers[lane] = undefined;
      // A key queued between the loop's last look and now.
      if ((queues[lane] as string[]).length > 0) startWriter(lane);
    });
  }

  async function flush(): Promise<void> {
    while (writers.some(Boolean)) await Promise.all(writers);
  }

  const recorder: EventRecorder = {
    record(obj, type, reason, message) {
      if (!obj.name) return;
      const at = clock.now();
      const key = eventKey(obj, type, reason, message);
      const waiting = pending.get(key);
      if (waiting) {
        waiting.count++;
        waiting.at = at;
        count('aggregated');
        return;
      }
      if (pending.size >= maxPending) {
        if (droppedInEpisode++ === 0)
          log.warn(
            { reason, object: `${obj.kind}/${obj.namespace ?? ''}/${obj.name}`, maxPending },
            'event dropped: too many distinct pending event writes (further drops are counted until the queue drains)',
          );
        count('dropped');
        return;
      }
      if (droppedInEpisode > 0) {
        log.warn({ dropped: droppedInEpisode }, 'events were dropped while the event queue was full');
        droppedInEpisode = 0;
      }
      pending.set(key, { obj, type, reason, message, count: 1, at, firstAt: at });
      const lane = laneOf(obj);
      (queues[lane] as string[]).push(key);
      startWriter(lane);
    },
    normal: (obj, reason, message) => recorder.record(obj, 'Normal', reason, message),
    warning: (obj, reason, message) => recorder.record(obj, 'Warning', reason, message),
    flush,
    close: async () => {
      limited = false;
      await flush();
    },
    stats: () => ({ ...stats }),
  };
  return recorder;
}
