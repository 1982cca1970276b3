/** Pod-side metrics on the VK's registry (prefix `interlink_vk_`). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { KubePodStatus } from '../../wire/k8s.ts';
import type { KPod } from './kpod.ts';

export interface PodMetrics {
  reconcile: Histogram<'outcome'>;
  statusRoundTrips: Counter<'outcome'>;
  statusLatency: Histogram<never>;
  statusPods: Histogram<never>;
  backendCalls: Counter<'op' | 'outcome'>;
  statusWrites: Counter<'outcome'>;
  relists: Counter<'reason'>;
  /** Pod creation (creationTimestamp) → the first status write that says Running. */
  podStart: Histogram<never>;
  /** Service-account token refreshes delivered to the backend, by outcome. */
  tokenRefreshes: Counter<'outcome'>;
}

export interface PodGauges {
  queueDepth: () => number;
  queueDelayed: () => number;
  queueProcessing: () => number;
  podsByPhase: () => Record<string, number>;
  tracked: () => number;
  /** Age of the oldest Pending pod not being deleted, seconds; 0 when there is none. */
  oldestPendingSeconds: () => number;
}

export function podMetrics(registry: Registry, gauges: PodGauges): PodMetrics {
  const registers = [registry];
  /** A gauge read from `read` at each scrape. */
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge('interlink_vk_queue_depth', 'Pod keys waiting in the work queue', () => gauges.queueDepth());
  gauge('interlink_vk_queue_delayed', 'Pod keys waiting for a retry backoff or a delayed re-check', () =>
    gauges.queueDelayed(),
  );
  gauge('interlink_vk_queue_processing', 'Pod keys being reconciled now', () => gauges.queueProcessing());
  gauge('interlink_vk_backend_pods', 'Pods this VK tracks in the backend', () => gauges.tracked());
  const phases = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];
  new Gauge({
    name: 'interlink_vk_pods',
    help: 'Pods bound to this node, by phase (from the informer cache)',
    labelNames: ['phase'],
    registers,
    collect() {
      const counts = gauges.podsByPhase();
      for (const p of new Set([...phases, ...Object.keys(counts)])) this.set({ phase: p }, counts[p] ?? 0);
    },
  });
  gauge(
    'interlink_vk_oldest_pending_pod_age_seconds',
    'Age of the oldest Pending pod on this node that is not being deleted (0 when none): pods stuck in create, or queued in the backend',
    () => gauges.oldestPendingSeconds(),
  );
  const m: PodMetrics = {
    reconcile: new Histogram({
      name: 'interlink_vk_reconcile_duration_seconds',
      help: 'Duration of one pod reconcile (sync), by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    statusRoundTrips: new Counter({
      name: 'interlink_vk_status_roundtrips_total',
      help: 'Batched /status calls to the interLink API, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    statusLatency: new Histogram({
      name: 'interlink_vk_status_roundtrip_duration_seconds',
      help: 'Latency of one batched /status call',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    statusPods: new Histogram({
      name: 'interlink_vk_status_batch_pods',
      help: 'Pods asked for in one /status call',
      buckets: [0, 1, 10, 100, 500, 1000, 2000, 5000, 10000],
      registers,
    }),
    backendCalls: new Counter({
      name: 'interlink_vk_backend_calls_total',
      help: 'create/delete/updateCache calls to the interLink API, by outcome',
      labelNames: ['op', 'outcome'],
      registers,
    }),
    statusWrites: new Counter({
      name: 'interlink_vk_pod_status_writes_total',
      help: 'Writes of pods/status, by outcome (ok, conflict, gone, error)',
      labelNames: ['outcome'],
      registers,
    }),
    relists: new Counter({
      name: 'interlink_vk_informer_relists_total',
      help: 'Pod relists after the first, by reason (expired, error)',
      labelNames: ['reason'],
      registers,
    }),
    podStart: new Histogram({
      name: 'interlink_vk_pod_start_duration_seconds',
      help: "Time from a pod's creation to the VK writing phase Running (second resolution: creationTimestamp)",
      buckets: [0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    tokenRefreshes: new Counter({
      name: 'interlink_vk_token_refreshes_total',
      help: 'Service-account token refreshes delivered to the backend (an idempotent re-create), by outcome',
      labelNames: ['outcome'],
      registers,
    }),
  };
  // Bounded label values exist from the start: rates and alerts see 0 rather than no series.
  for (const outcome of ['ok', 'error']) {
    m.reconcile.zero({ outcome });
    m.statusRoundTrips.inc({ outcome }, 0);
    m.tokenRefreshes.inc({ outcome }, 0);
    for (const op of ['create', 'delete', 'refresh']) m.backendCalls.inc({ op, outcome }, 0);
  }
  for (const outcome of ['ok', 'conflict', 'gone', 'error']) m.statusWrites.inc({ outcome }, 0);
  for (const reason of ['expired', 'error']) m.relists.inc({ reason }, 0);
  return m;
}

const createdAt = (pod: KPod): number | undefined => {
  const t = pod.metadata.creationTimestamp ? Date.parse(pod.metadata.creationTimestamp) : Number.NaN;
  return Number.isNaN(t) ? undefined : t;
};

/**
 * Seconds from the pod's creation to `nowMs` when `written` moves it to Running from any
 * other phase (the create→Running latency), else undefined. Pure.
 */
export function startLatencySeconds(before: KPod, written: KubePodStatus, nowMs: number): number | undefined {
  if (written.phase !== 'Running' || before.status?.phase === 'Running') return undefined;
  const t = createdAt(before);
  return t === undefined ? undefined : Math.max(0, (nowMs - t) / 1000);
}

/** Age in seconds of the oldest Pending pod without a deletionTimestamp; 0 when none. Pure. */
export function oldestPendingSeconds(pods: Iterable<KPod>, nowMs: number): number {
  let oldest: number | undefined;
  for (const p of pods) {
    if ((p.status?.phase ?? 'Pending') !== 'Pending' || p.metadata.deletionTimestamp) continue;
    const t = createdAt(p);
    if (t !== undefined && (oldest === undefined || t < oldest)) oldest = t;
  }
  return oldest === undefined ? 0 : Math.max(0, (nowMs - oldest) / 1000);
}
