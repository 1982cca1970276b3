/** The node controller's Prometheus metrics, registered once per controller. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface NodeMetrics {
  pingTotal: Counter<'result'>;
  pingSeconds: Histogram;
  ready: Gauge;
  /** Writes of the Node and its Lease by kind (lease, status, spec, create) and result. */
  writes: Counter<'kind' | 'result'>;
}

export function nodeMetrics(registry: Registry): NodeMetrics {
  return {
    pingTotal: new Counter({
      name: 'interlink_vk_ping_total',
      help: 'Pings of the interLink API by result (ok, api_down, plugin_down)',
      labelNames: ['result'],
      registers: [registry],
    }),
    pingSeconds: new Histogram({
      name: 'interlink_vk_ping_duration_seconds',
      help: 'Round-trip time of /pinglink',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    ready: new Gauge({
      name: 'interlink_vk_node_ready',
      help: '1 when the virtual node reports Ready=True',
      registers: [registry],
    }),
    writes: new Counter({
      name: 'interlink_vk_node_writes_total',
      help: 'Writes of the Node and its Lease by kind (lease, status, spec, create) and result',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
  };
}
