/**
 * From observations to reported figures (pure): milestones and latencies from the pod
 * records, request counts from before/after metric scrapes.
 */
import { counterDelta, type Sample, sumBy, total } from './prom.ts';
import type { PodSample } from './result.ts';
import { round3, type Summary, summarize } from './stats.ts';
import type { PodRecord } from './tracker.ts';

export interface Milestones {
  scheduledAll: number | null;
  runningAll: number | null;
  reportedAll: number | null;
  finishedAll: number | null;
  deletedAll: number | null;
}

/** The moment the `expected`-th pod reached each stage; null when fewer did. */
export function milestonesOf(records: readonly PodRecord[], expected: number): Milestones {
  const last = (pick: (r: PodRecord) => number | undefined) => {
    const times = records.map(pick).filter((t): t is number => t !== undefined);
    if (expected <= 0 || times.length < expected) return null;
    return round3(times.sort((a, b) => a - b)[expected - 1]!);
  };
  return {
    scheduledAll: last((r) => r.scheduled),
    runningAll: last((r) => r.running),
    reportedAll: last((r) => r.reported),
    finishedAll: last((r) => r.finished),
    deletedAll: last((r) => r.deleted),
  };
}

export interface Latencies {
  scheduled: Summary;
  running: Summary;
  reported: Summary;
  succeeded: Summary;
}

export function latenciesOf(records: readonly PodRecord[]): Latencies {
  const since = (pick: (r: PodRecord) => number | undefined, keep: (r: PodRecord) => boolean = () => true) =>
    summarize(
      records
        .filter(keep)
        .map((r) => {
          const t = pick(r);
          return t === undefined ? undefined : Math.max(0, t - r.created);
        })
        .filter((v): v is number => v !== undefined),
    );
  return {
    scheduled: since((r) => r.scheduled),
    running: since((r) => r.running),
    reported: since((r) => r.reported),
    succeeded: since(
      (r) => r.finished,
      (r) => r.phase === 'Succeeded',
    ),
  };
}

export interface Scrape {
  api: Sample[];
  plugin: Sample[];
  vk: Sample[];
  apiserver: Sample[];
}

/** Our own scrapes and probes, not traffic of the chain. */
const OWN_ROUTES = new Set(['/metrics', '/healthz', '/readyz']);
const isChainRoute = (l: Record<string, string>) =>
  !OWN_ROUTES.has(l.route ?? '') && !(l.route ?? '').startsWith('/mock/');

const r2 = (n: number) => Math.round(n * 100) / 100;

function byRoute(before: Sample[], after: Sample[], metric: string) {
  const d = counterDelta(
    sumBy(before, metric, ['method', 'route'], isChainRoute),
    sumBy(after, metric, ['method', 'route'], isChainRoute),
  );
  return Object.fromEntries([...d.entries()].sort((a, b) => b[1] - a[1]));
}

export interface RequestInput {
  before: Scrape;
  after: Scrape;
  pods: number;
  statusIntervalSeconds: number;
  /** Seconds during which the VK had pods to poll (t0 → all deleted). */
  activeSeconds: number | null;
}

export function requestFigures(input: RequestInput) {
  const perPod = (n: number) => r2(n / Math.max(1, input.pods));
  const vkToApi = byRoute(input.before.api, input.after.api, 'interlink_api_http_requests_total');
  const apiToPlugin = byRoute(
    input.before.plugin,
    input.after.plugin,
    'interlink_plugin_http_requests_total',
  );
  const sumOf = (m: Record<string, number>) => Object.values(m).reduce((s, v) => s + v, 0);
  const statusCalls = (vkToApi['GET /status'] ?? 0) + (vkToApi['POST /status'] ?? 0);
  const intervals = input.activeSeconds ? input.activeSeconds / input.statusIntervalSeconds : 0;

  const key = ['verb', 'resource', 'subresource'];
  const api = counterDelta(
    sumBy(input.before.apiserver, 'apiserver_request_total', key),
    sumBy(input.after.apiserver, 'apiserver_request_total', key),
  );
  const byVerbResource = [...api.entries()]
    .map(([k, count]) => {
      const [verb = '', resource = '', subresource = ''] = k.split(' ');
      return { verb, resource, subresource, count, perPod: perPod(count) };
    })
    .sort((a, b) => b.count - a.count);
  const statusWrites = byVerbResource
    .filter(
      (e) =>
        e.resource === 'pods' && e.subresource === 'status' && ['PATCH', 'UPDATE', 'APPLY'].includes(e.verb),
    )
    .reduce((s, e) => s + e.count, 0);

  const vkWrites = counterDelta(
    sumBy(input.before.vk, 'interlink_vk_pod_status_writes_total', ['outcome']),
    sumBy(input.after.vk, 'interlink_vk_pod_status_writes_total', ['outcome']),
  );
  const vkHasMetric = input.after.vk.some((s) => s.name === 'interlink_vk_pod_status_writes_total');
  const vkEvents = counterDelta(
    sumBy(input.before.vk, 'interlink_vk_events_total', ['outcome']),
    sumBy(input.after.vk, 'interlink_vk_events_total', ['outcome']),
  );
  return {
    requests: {
      vkToApi: { total: sumOf(vkToApi), perPod: perPod(sumOf(vkToApi)), byRoute: vkToApi },
      apiToPlugin: { total: sumOf(apiToPlugin), perPod: perPod(sumOf(apiToPlugin)), byRoute: apiToPlugin },
      statusCallsPerPollInterval: intervals > 0 ? r2(statusCalls / intervals) : null,
      apiserver: { total: total(api), perPod: perPod(total(api)), byVerbResource },
    },
    statusWrites: {
      apiserverPerPod: perPod(statusWrites),
      vkPerPod: vkHasMetric ? perPod(total(vkWrites)) : null,
      vkByOutcome: Object.fromEntries(vkWrites),
    },
    // The VK's Events: written (create/patch), aggregated into a pending write, dropped, failed.
    events: input.after.vk.some((s) => s.name === 'interlink_vk_events_total')
      ? {
          vkByOutcome: { written: 0, aggregated: 0, dropped: 0, failed: 0, ...Object.fromEntries(vkEvents) },
          writeDelay: histogramP99Of(
            input.before.vk,
            input.after.vk,
            'interlink_vk_event_write_delay_seconds',
          ),
        }
      : null,
  };
}

/**
 * A histogram's observations during the run: count, mean (s) and the upper bound of the
 * bucket holding the 99th percentile (s; null when it is past the last bucket). Null without
 * the metric.
 */
export function histogramP99Of(
  before: Sample[],
  after: Sample[],
  name: string,
): { count: number; meanSeconds: number | null; p99AtMostSeconds: number | null } | null {
  const { count, meanMs } = histogramMeanMs(before, after, name);
  if (count === null) return null;
  const buckets = counterDelta(
    sumBy(before, `${name}_bucket`, ['le']),
    sumBy(after, `${name}_bucket`, ['le']),
  );
  const bounds = [...buckets.entries()]
    .filter(([le]) => le !== '+Inf')
    .map(([le, n]) => [Number(le), n] as const)
    .sort((a, b) => a[0] - b[0]);
  const at = bounds.find(([, n]) => n >= 0.99 * count);
  return {
    count,
    meanSeconds: meanMs === null ? null : meanMs / 1000,
    p99AtMostSeconds: count > 0 && at ? at[0] : null,
  };
}

/** Mean of a histogram's observations during the run, ms; null without the metric or observations. */
function histogramMeanMs(
  before: Sample[],
  after: Sample[],
  name: string,
): { count: number | null; meanMs: number | null } {
  const get = (samples: Sample[], suffix: string) =>
    samples.filter((s) => s.name === `${name}_${suffix}`).reduce((sum, s) => sum + s.value, 0);
  if (!after.some((s) => s.name === `${name}_count`)) return { count: null, meanMs: null };
  const count = get(after, 'count') - get(before, 'count');
  const sum = get(after, 'sum') - get(before, 'sum');
  return { count, meanMs: count > 0 ? Math.round((sum / count) * 1000 * 10) / 10 : null };
}

/** Count and mean duration per `label` value of histogram `name` over the run; null without it. */
function histogramByLabel(
  before: Sample[],
  after: Sample[],
  name: string,
  label: string,
): Record<string, { count: number; meanMs: number | null }> | null {
  if (!after.some((s) => s.name === `${name}_count`)) return null;
  const d = (suffix: string) =>
    counterDelta(sumBy(before, `${name}_${suffix}`, [label]), sumBy(after, `${name}_${suffix}`, [label]));
  const counts = d('count');
  const sums = d('sum');
  const out: Record<string, { count: number; meanMs: number | null }> = {};
  for (const [key, count] of [...counts.entries()].sort()) {
    const sum = sums.get(key) ?? 0;
    out[key] = { count, meanMs: count > 0 ? Math.round((sum / count) * 1000 * 10) / 10 : null };
  }
  return out;
}

/**
 * The plugin's own time per backend operation during the run
 * (`interlink_plugin_backend_call_duration_seconds` by op): how long a create or a delete
 * took inside the plugin, apart from the hops in front of it. Null without the metric.
 */
export function pluginOpsOf(before: Sample[], after: Sample[]) {
  return histogramByLabel(before, after, 'interlink_plugin_backend_call_duration_seconds', 'op');
}

/**
 * The backend commands the plugin ran during the run and their mean duration
 * (`interlink_plugin_backend_command_duration_seconds` by command: sbatch, squeue, docker_start,
 * ...): e.g. whether Slurm is asked once per status poll whatever the pod count. Null without it.
 */
export function backendCommandsOf(before: Sample[], after: Sample[]) {
  return histogramByLabel(before, after, 'interlink_plugin_backend_command_duration_seconds', 'command');
}

/** What the VK's own metrics say about where its time went. */
export function vkInternalsOf(before: Sample[], after: Sample[], queueDepthPeak: number | null) {
  const rec = histogramMeanMs(before, after, 'interlink_vk_reconcile_duration_seconds');
  const st = histogramMeanMs(before, after, 'interlink_vk_status_roundtrip_duration_seconds');
  return {
    queueDepthPeak,
    reconciles: rec.count,
    reconcileMeanMs: rec.meanMs,
    statusRoundTrips: st.count,
    statusRoundTripMeanMs: st.meanMs,
  };
}

/** One pod's record as a raw sample: every time, null when not reached. */
export function podSample(r: PodRecord): PodSample {
  const t = (v: number | undefined) => (v === undefined ? null : round3(v));
  return {
    name: r.name,
    created: round3(r.created),
    scheduled: t(r.scheduled),
    running: t(r.running),
    runningFromStartedAt: r.runningFromStartedAt === true,
    reported: t(r.reported),
    finished: t(r.finished),
    deleted: t(r.deleted),
    phase: r.phase,
  };
}
