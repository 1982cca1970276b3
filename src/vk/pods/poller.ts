/**
 * The status poller: ONE batched `/status` call per interval for every pod in the backend
 * (DESIGN §7). It only records observations on the syncer's records (`seen`,
 * `missingSince`) and enqueues the keys whose answer changed, as urgent work; it never
 * writes to the cluster. Answers about pods that are not in the cluster (after the first
 * full list) are dangling backend jobs: deleted, retried at each poll until confirmed.
 */
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import { codeOf } from '../../errors/index.ts';
import type { PodStatus } from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import { type EventRecorder, nodeRef } from '../events.ts';
import type { InterlinkClient } from '../interlink-client.ts';
import { sameJson } from '../status/map.ts';
import { errMessage, forApi } from './job.ts';
import { isTerminalPhase, type KPod } from './kpod.ts';
import { BACKEND_LOST, isLost, type PodRecord, PodState } from './lifecycle.ts';
import type { PodMetrics } from './metrics.ts';

export interface StatusPollerDeps {
  /** The syncer's records; the poller writes only `seen` and `missingSince`. */
  records: () => Iterable<PodRecord>;
  cache: { get(key: string): KPod | undefined; list(): KPod[]; readonly hasSynced: boolean };
  interlink: Pick<InterlinkClient, 'status' | 'delete'>;
  /** Queue a key for the syncer (urgent: ahead of creates). */
  enqueue: (key: string) => void;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  clock: Clock;
  logger: Logger;
  metrics: Pick<PodMetrics, 'statusRoundTrips' | 'statusLatency' | 'statusPods' | 'backendCalls'>;
  nodeName: string;
  /** A pod absent from the answers this long (and created at least this long ago) is lost (ms). */
  backendLostTimeoutMs: number;
  intervalMs: number;
}

export interface StatusPoller {
  /** One poll now. Never rejects on backend errors (they become a node Event and a log line). */
  pollOnce(signal?: AbortSignal): Promise<void>;
  /** Poll every `intervalMs` until `signal` aborts. Never rejects. */
  run(signal: AbortSignal): Promise<void>;
}

export function createStatusPoller(d: StatusPollerDeps): StatusPoller {
  const log = d.logger;
  const dangling = new Map<string, Pod>();
  let backendReachable = true;

  /** Pods to ask about: in the backend, not lost, and still live in the cache. */
  function activeRecords(): PodRecord[] {
    return [...d.records()].filter((r) => {
      if (r.state !== PodState.InBackend || r.seen === BACKEND_LOST) return false;
      const cur = d.cache.get(r.key);
      return (
        cur !== undefined &&
        cur.metadata.uid === r.uid &&
        !isTerminalPhase(cur.status?.phase) &&
        !cur.metadata.deletionTimestamp
      );
    });
  }

  function reachable(ok: boolean, asked: number, err?: unknown): void {
    if (ok === backendReachable) return;
    backendReachable = ok;
    if (ok) {
      log.info('interLink status poll works again');
      d.events.normal(
        nodeRef(d.nodeName),
        'BackendReachable',
        'Status polls of the interLink API work again',
      );
      return;
    }
    const message = `Status poll of ${asked} pods failed; pods keep their last known state: ${errMessage(err)}`;
    log.warn({ err: errMessage(err), code: codeOf(err) }, 'interLink status poll failed');
    d.events.warning(nodeRef(d.nodeName), 'BackendUnreachable', message);
  }

  /** Record the answers (or their absence) on the records; enqueue what changed. */
  function record(active: PodRecord[], answers: PodStatus[]): void {
    const now = d.clock.now();
    const byUid = new Map(answers.map((a) => [a.UID, a]));
    for (const r of active) {
      const a = byUid.get(r.uid);
      if (a) {
        r.missingSince = undefined;
        if (!r.seen || !sameJson(a, r.seen)) {
          r.seen = a;
          d.enqueue(r.key);
        }
        continue;
      }
      r.missingSince ??= now;
      if (isLost(r, now, d.backendLostTimeoutMs)) {
        r.seen = BACKEND_LOST;
        d.enqueue(r.key);
      }
    }
  }

  /** Answers about pods that are not (or no longer) in the cluster: dangling backend jobs. */
  function findDangling(answers: PodStatus[]): void {
    if (!d.cache.hasSynced) return;
    const known = new Set<string>();
    for (const r of d.records()) known.add(r.uid);
    for (const p of d.cache.list()) known.add(p.metadata.uid);
    for (const a of answers) {
      if (known.has(a.UID) || dangling.has(a.UID)) continue;
      dangling.set(a.UID, { metadata: { name: a.name, namespace: a.namespace, uid: a.UID } } as Pod);
    }
  }

  async function deleteDangling(): Promise<void> {
    for (const [uid, pod] of dangling) {
      try {
        await d.interlink.delete(pod);
        dangling.delete(uid);
        d.metrics.backendCalls.inc({ op: 'delete', outcome: 'ok' });
        log.info(
          { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid },
          'deleted a backend pod that has no Pod in the cluster',
        );
      } catch (err) {
        d.metrics.backendCalls.inc({ op: 'delete', outcome: 'error' });
        log.warn(
          { uid, err: errMessage(err) },
          'deleting a dangling backend pod failed; retrying at the next poll',
        );
      }
    }
  }

  async function pollOnce(signal?: AbortSignal): Promise<void> {
    const active = activeRecords();
    if (active.length === 0) return;
    const started = d.clock.now();
    let answers: PodStatus[];
    try {
      answers = await d.interlink.status(
        active.map((r) => forApi(d.cache.get(r.key) ?? r.pod)),
        signal,
      );
      d.metrics.statusRoundTrips.inc({ outcome: 'ok' });
      d.metrics.statusLatency.observe((d.clock.now() - started) / 1000);
      d.metrics.statusPods.observe(active.length);
    } catch (err) {
      d.metrics.statusRoundTrips.inc({ outcome: 'error' });
      if (signal?.aborted) return;
      reachable(false, active.length, err);
      return;
    }
    reachable(true, active.length);
    record(active, answers);
    findDangling(answers);
    await deleteDangling();
  }

  async function run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await d.clock.sleep(d.intervalMs, signal).catch(() => {});
      if (signal.aborted) break;
      try {
        await pollOnce(signal);
      } catch (err) {
        log.error({ err }, 'status poll failed unexpectedly');
      }
    }
  }

  return { pollOnce, run };
}
