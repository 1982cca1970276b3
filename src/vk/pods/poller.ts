/**
 * The status poller: ONE batched `/status` call per interval for every pod in the backend
 * (DESIGN §7). It only records observations on the syncer's records (`seen`,
 * `missingSince`) and enqueues the keys whose answer changed, as urgent work; it never
 * writes to the cluster. Answers about pods that are not in the cluster (after the first
 * full list) are dangling backend jobs: deleted, retried at each poll until confirmed.
 *
 * First look: a pod just created in the backend is asked about `firstLookMs` after its
 * create (`submitted()`), in one call for every pod created meanwhile that has no answer
 * yet, instead of at the next interval: with a backend that starts pods at once, Running
 * shows up to a whole interval earlier. Calls stay batched and bounded: at most one first
 * look per `firstLookMs`, only during creates, only about unanswered pods.
 */
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import { codeOf } from '../../errors/index.ts';
import type { PodStatus } from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import { type EventRecorder, nodeRef } from '../events.ts';
import type { InterlinkClient } from '../interlink-client.ts';
import { sameJson } from '../status/map.ts';
import { errMessage, forStatus } from './job.ts';
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
  /** Delay of the first look after a create (ms); 0 or absent: none, pods wait for the interval. */
  firstLookMs?: number;
}

export interface StatusPoller {
  /** One poll now. Never rejects on backend errors (they become a node Event and a log line). */
  pollOnce(signal?: AbortSignal): Promise<void>;
  /** Poll every `intervalMs` until `signal` aborts. Never rejects. */
  run(signal: AbortSignal): Promise<void>;
  /** A pod was just created in the backend: ask about it soon (coalesced; only while `run` runs). */
  submitted(): void;
}

export function createStatusPoller(d: StatusPollerDeps): StatusPoller {
  return new BatchedPoller(d);
}

class BatchedPoller implements StatusPoller {
  readonly #d: StatusPollerDeps;
  readonly #dangling = new Map<string, Pod>();
  #backendReachable = true;
  /** The signal of `run`, while it runs: first looks stop with it. */
  #running: AbortSignal | undefined;
  #firstLookDue = false;
  #firstLookActive = false;

  constructor(d: StatusPollerDeps) {
    this.#d = d;
  }

  /** Pods to ask about: in the backend, not lost, and still live in the cache. */
  #activeRecords(): PodRecord[] {
    return [...this.#d.records()].filter((r) => {
      if (r.state !== PodState.InBackend || r.seen === BACKEND_LOST) return false;
      const cur = this.#d.cache.get(r.key);
      return (
        cur !== undefined &&
        cur.metadata.uid === r.uid &&
        !isTerminalPhase(cur.status?.phase) &&
        !cur.metadata.deletionTimestamp
      );
    });
  }

  #reachable(ok: boolean, asked: number, err?: unknown): void {
    if (ok === this.#backendReachable) return;
    this.#backendReachable = ok;
    const { logger: log, events, nodeName } = this.#d;
    if (ok) {
      log.info('interLink status poll works again');
      events.normal(nodeRef(nodeName), 'BackendReachable', 'Status polls of the interLink API work again');
      return;
    }
    const message = `Status poll of ${asked} pods failed; pods keep their last known state: ${errMessage(err)}`;
    log.warn({ err: errMessage(err), code: codeOf(err) }, 'interLink status poll failed');
    events.warning(nodeRef(nodeName), 'BackendUnreachable', message);
  }

  /** Record the answers (or their absence) on the records; enqueue what changed. */
  #record(active: PodRecord[], answers: PodStatus[]): void {
    const now = this.#d.clock.now();
    const byUid = new Map(answers.map((a) => [a.UID, a]));
    for (const r of active) {
      const a = byUid.get(r.uid);
      if (a) {
        r.missingSince = undefined;
        if (!r.seen || !sameJson(a, r.seen)) {
          r.seen = a;
          this.#d.enqueue(r.key);
        }
        continue;
      }
      r.missingSince ??= now;
      if (isLost(r, now, this.#d.backendLostTimeoutMs)) {
        r.seen = BACKEND_LOST;
        this.#d.enqueue(r.key);
      }
    }
  }

  /** Answers about pods that are not (or no longer) in the cluster: dangling backend jobs. */
  #findDangling(answers: PodStatus[]): void {
    if (!this.#d.cache.hasSynced) return;
    const known = new Set<string>();
    for (const r of this.#d.records()) known.add(r.uid);
    for (const p of this.#d.cache.list()) known.add(p.metadata.uid);
    for (const a of answers) {
      if (known.has(a.UID) || this.#dangling.has(a.UID)) continue;
      this.#dangling.set(a.UID, { metadata: { name: a.name, namespace: a.namespace, uid: a.UID } } as Pod);
    }
  }

  async #deleteDangling(): Promise<void> {
    const { interlink, metrics, logger: log } = this.#d;
    for (const [uid, pod] of this.#dangling) {
      try {
        await interlink.delete(pod);
        this.#dangling.delete(uid);
        metrics.backendCalls.inc({ op: 'delete', outcome: 'ok' });
        log.info(
          { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid },
          'deleted a backend pod that has no Pod in the cluster',
        );
      } catch (err) {
        metrics.backendCalls.inc({ op: 'delete', outcome: 'error' });
        log.warn(
          { uid, err: errMessage(err) },
          'deleting a dangling backend pod failed; retrying at the next poll',
        );
      }
    }
  }

  pollOnce(signal?: AbortSignal): Promise<void> {
    return this.#poll(this.#activeRecords(), signal);
  }

  submitted(): void {
    const ms = this.#d.firstLookMs ?? 0;
    const signal = this.#running;
    if (ms <= 0 || !signal || signal.aborted) return;
    this.#firstLookDue = true;
    if (this.#firstLookActive) return;
    this.#firstLookActive = true;
    void this.#firstLooks(ms, signal);
  }

  /** First looks, one per `ms` while creates keep coming: only pods with no answer yet. */
  async #firstLooks(ms: number, signal: AbortSignal): Promise<void> {
    try {
      while (this.#firstLookDue && !signal.aborted) {
        this.#firstLookDue = false;
        await this.#d.clock.sleep(ms, signal).catch(() => {});
        if (signal.aborted) break;
        await this.#poll(
          this.#activeRecords().filter((r) => r.seen === undefined),
          signal,
        );
      }
    } catch (err) {
      this.#d.logger.error({ err }, 'first-look status poll failed unexpectedly');
    } finally {
      this.#firstLookActive = false;
    }
  }

  async #poll(active: PodRecord[], signal?: AbortSignal): Promise<void> {
    const { interlink, metrics, clock, cache } = this.#d;
    if (active.length === 0) return;
    const started = clock.now();
    let answers: PodStatus[];
    try {
      answers = await interlink.status(
        active.map((r) => forStatus(cache.get(r.key) ?? r.pod)),
        signal,
      );
      metrics.statusRoundTrips.inc({ outcome: 'ok' });
      metrics.statusLatency.observe((clock.now() - started) / 1000);
      metrics.statusPods.observe(active.length);
    } catch (err) {
      metrics.statusRoundTrips.inc({ outcome: 'error' });
      if (signal?.aborted) return;
      this.#reachable(false, active.length, err);
      return;
    }
    this.#reachable(true, active.length);
    this.#record(active, answers);
    this.#findDangling(answers);
    await this.#deleteDangling();
  }

  async run(signal: AbortSignal): Promise<void> {
    this.#running = signal;
    while (!signal.aborted) {
      await this.#d.clock.sleep(this.#d.intervalMs, signal).catch(() => {});
      if (signal.aborted) break;
      try {
        await this.pollOnce(signal);
      } catch (err) {
        this.#d.logger.error({ err }, 'status poll failed unexpectedly');
      }
    }
  }
}
