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
 * logged. `flush()` waits for queued writes (tests, shutdown).
 */
import {
  type CoreV1Api,
  type CoreV1Event,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';

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
  core: Pick<CoreV1Api, 'createNamespacedEvent' | 'patchNamespacedEvent'>;
  nodeName: string;
  logger: Logger;
  clock?: Clock;
  /** Aggregation window: a repeat within it bumps the count (default 10 min, as client-go). */
  aggregateWindowMs?: number;
  /** Most distinct events remembered for aggregation (default 4096). */
  cacheSize?: number;
  /** Most writes waiting; beyond it new Events are dropped with a log line (default 1000). */
  maxPending?: number;
  /** Concurrent writers; one object's Events always use the same one (default 4). */
  concurrency?: number;
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
  firstTimestamp: Date;
  lastAt: number;
}

export function createEventRecorder(opts: EventRecorderOptions): EventRecorder {
  const clock = opts.clock ?? systemClock;
  const windowMs = opts.aggregateWindowMs ?? 600_000;
  const cacheSize = opts.cacheSize ?? 4096;
  const maxPending = opts.maxPending ?? 1000;
  const log = opts.logger;
  const seen = new Map<string, Seen>();
  let pending = 0;
  const laneCount = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const lanes: Array<Promise<void>> = Array.from({ length: laneCount }, () => Promise.resolve());
  const laneOf = (obj: ObjectRef): number => {
    // FNV-1a of the object's identity: stable, cheap, spreads pods over the lanes.
    let h = 0x811c9dc5;
    const id = `${obj.kind}/${obj.namespace ?? ''}/${obj.name}`;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    return (h >>> 0) % laneCount;
  };
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  async function write(
    obj: ObjectRef,
    type: EventType,
    reason: string,
    message: string,
    at: number,
  ): Promise<void> {
    const namespace = obj.namespace || 'default';
    const key = [
      obj.kind,
      namespace,
      obj.name,
      obj.uid ?? '',
      obj.fieldPath ?? '',
      type,
      reason,
      message,
    ].join('\u0000');
    const now = new Date(at);
    const prev = seen.get(key);
    if (prev && at - prev.lastAt <= windowMs) {
      prev.count++;
      prev.lastAt = at;
      seen.delete(key);
      seen.set(key, prev);
      try {
        await opts.core.patchNamespacedEvent(
          { name: prev.name, namespace: prev.namespace, body: { count: prev.count, lastTimestamp: now } },
          mergePatch,
        );
        return;
      } catch (err) {
        // The Event may have expired (TTL 1 h) or been deleted: write a fresh one.
        if ((err as { code?: number }).code !== 404) throw err;
      }
    }
    const name = `${obj.name}.${(at * 1_000_000 + Math.floor(Math.random() * 1_000_000)).toString(16)}`;
    const event: CoreV1Event = {
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
      source: { component: EVENT_SOURCE, host: opts.nodeName },
      reportingComponent: EVENT_SOURCE,
      reportingInstance: opts.nodeName,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await opts.core.createNamespacedEvent({ namespace, body: event });
    seen.delete(key);
    seen.set(key, { namespace, name, count: 1, firstTimestamp: now, lastAt: at });
    while (seen.size > cacheSize) seen.delete(seen.keys().next().value as string);
  }

  const recorder: EventRecorder = {
    record(obj, type, reason, message) {
      if (!obj.name) return;
      if (pending >= maxPending) {
        log.warn(
          { reason, object: `${obj.kind}/${obj.namespace ?? ''}/${obj.name}` },
          'event dropped: too many pending event writes',
        );
        return;
      }
      pending++;
      const at = clock.now();
      const lane = laneOf(obj);
      lanes[lane] = (lanes[lane] as Promise<void>).then(async () => {
        try {
          await write(obj, type, reason, message, at);
        } catch (err) {
          log.warn(
            { err: (err as Error).message, reason, object: `${obj.kind}/${obj.namespace ?? ''}/${obj.name}` },
            'cannot write event',
          );
        } finally {
          pending--;
        }
      });
    },
    normal: (obj, reason, message) => recorder.record(obj, 'Normal', reason, message),
    warning: (obj, reason, message) => recorder.record(obj, 'Warning', reason, message),
    flush: async () => {
      await Promise.all(lanes);
    },
  };
  return recorder;
}
