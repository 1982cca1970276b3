/** Pod-side metrics on the VK's registry (prefix `interlink_vk_`). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface PodMetrics {
  reconcile: Histogram<'outcome'>;
  statusRoundTrips: Counter<'outcome'>;
  statusLatency: Histogram<never>;
  statusPods: Histogram<never>;
  backendCalls: Counter<'op' | 'outcome'>;
  statusWrites: Counter<'outcome'>;
  relists: Counter<'reason'>;
}

export interface PodGauges {
  queueDepth: () => number;
  queueDelayed: () => number;
  queueProcessing: () => number;
  podsByPhase: () => Record<string, number>;
  tracked: () => number;
}

export function podMetrics(registry: Registry, gauges: PodGauges): PodMetrics {
  const registers = [registry];
  new Gauge({
    name: 'interlink_vk_queue_depth',
    help: 'Pod keys waiting in the work queue',
    registers,
    collect() {
      this.set(gauges.queueDepth());
    },
  });
  new Gauge({
    name: 'interlink_vk_queue_delayed',
    help: 'Pod keys waiting for a retry backoff or a delayed re-check',
    registers,
    collect() {
      this.set(gauges.queueDelayed());
    },
  });
  new Gauge({
    name: 'interlink_vk_queue_processing',
    help: 'Pod keys being reconciled now',
    registers,
    collect() {
      this.set(gauges.queueProcessing());
    },
  });
  new Gauge({
    name: 'interlink_vk_backend_pods',
    help: 'Pods this VK tracks in the backend',
    registers,
    collect() {
      this.set(gauges.tracked());
    },
  });
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
  return {
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
  };
}
