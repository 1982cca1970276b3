/** The node controller's Prometheus metrics, registered once per controller. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface NodeMetrics {
  pingTotal: Counter<'result'>;
  pingSeconds: Histogram;
  ready: Gauge;
  /** 1 when the last ping reached the interLink API (whatever the plugin said). */
  apiUp: Gauge;
  /** 1 when the last ping reached the plugin through the API. */
  pluginUp: Gauge;
  /** Writes of the Node and its Lease by kind (lease, status, spec, create) and result. */
  writes: Counter<'kind' | 'result'>;
}

export function nodeMetrics(registry: Registry): NodeMetrics {
  const m: NodeMetrics = {
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
    apiUp: new Gauge({
      name: 'interlink_vk_api_up',
      help: '1 when the last /pinglink reached the interLink API, 0 when it did not',
      registers: [registry],
    }),
    pluginUp: new Gauge({
      name: 'interlink_vk_plugin_up',
      help: '1 when the last /pinglink reached the plugin through the interLink API, 0 when the API or the plugin was down',
      registers: [registry],
    }),
    writes: new Counter({
      name: 'interlink_vk_node_writes_total',
      help: 'Writes of the Node and its Lease by kind (lease, status, spec, create) and result',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
  };
  // Every result exists from the start, so rates and alerts see 0 rather than no series.
  for (const result of ['ok', 'api_down', 'plugin_down']) m.pingTotal.inc({ result }, 0);
  return m;
}
