/**
 * The benchmark's result file, `bench/results/<YYYY-MM-DD>-<N>[-job][-<plugin>].json`.
 * This schema is the documentation of every field and the check the test runs on a real
 * result (test/bench/bench.k8s.test.ts). Units are in the names: `Seconds`, `MiB`,
 * `PerSecond`, `PerPod`. Every time is measured from the first create request ("t0").
 *
 * {
 *   schema: "interlink-bench/1",
 *   startedAt, finishedAt: ISO 8601,
 *   options: { pods, plugin, concurrency, job, runTimeSeconds, startDelaySeconds,
 *              statusIntervalSeconds, vkWorkers (null = VK default), serviceAccountToken,
 *              vkNodeOptions (node flags of the VK process), schedulerQps (null = the
 *              scheduler's default, 50), profile, cluster: "started" | "reused" | "kubeconfig" },
 *   machine: { cpus, cpuModel, memoryGiB, kernel, node (version), kubernetes (apiserver
 *              gitVersion), interlink (package version) },
 *   outcome: { created, scheduled, running, succeeded, failed, deleted, createErrors,
 *              complete (every pod finished and was deleted), timedOut, error (null or why) },
 *   milestones: seconds from t0 to: createdAll (last create answered), scheduledAll,
 *              runningAll (every pod started), reportedAll (the apiserver showed every pod
 *              past Pending), finishedAll, deleteStarted, deletedAll, backendEmpty (mock:
 *              the plugin holds no pod; null otherwise); null when not reached,
 *   deleteSeconds: deletedAll − deleteStarted (null when not reached),
 *   latencySeconds: { scheduled, running, reported, succeeded }: Summary of
 *              create→scheduled (bound to the node), create→Running (the pod started:
 *              seen Running, or its containers' startedAt when it was never seen Running),
 *              create→reported (the apiserver first showed it Running, Succeeded or
 *              Failed: what a user sees), create→Succeeded per pod; Summary = { count,
 *              p50, p90, p99, max, mean } (nearest-rank percentiles),
 *   runningFromStartedAt: pods never seen Running (they finished before the VK wrote
 *              Running) whose Running time comes from their containers' startedAt,
 *   throughput: { createPerSecond, scheduledPerSecond, runningPerSecond, finishedPerSecond
 *              (N / milestone), runningSustainedPerSecond (pods reaching Running per second
 *              between the 10 % and 90 % marks; null for tiny runs), deletedPerSecond },
 *   host: { loadAverage1m (at the start), busyCpuSeconds (whole host, during the run),
 *              capacityCpuSeconds (cores × run time), measuredCpuSeconds (the processes
 *              below): a shared machine shows as busy ≫ measured },
 *   heapUsedPeakMiB: { vk, api, plugin }: highest V8 heap in use seen on their /metrics
 *              (every 2 s; null when never read): live data, unlike RSS which includes
 *              garbage not yet collected and the code,
 *   vkInternals: { queueDepthPeak (highest interlink_vk_queue_depth, read every 2 s: a
 *              backlog inside the VK), reconciles, reconcileMeanMs, statusRoundTrips,
 *              statusRoundTripMeanMs } during the run, from the VK's /metrics; null when absent,
 *   resources: { vk, api, plugin, bench, apiserver, etcd, scheduler, controllerManager }:
 *              null (pid unknown) or { pid, peakRssMiB (max of sampled VmRSS and VmHWM),
 *              lastRssMiB, cpuSeconds (during the run), cpuSecondsTotal (since start) },
 *   requests: {
 *     vkToApi:     { total, perPod, byRoute: { "GET /status": n, ... } }  (API /metrics),
 *     apiToPlugin: { total, perPod, byRoute }                              (plugin /metrics),
 *     statusCallsPerPollInterval: VK→API /status calls per status interval while pods were
 *              active (target: 1, whatever N),
 *     apiserver:   { total, perPod, byVerbResource: [{ verb, resource, subresource, count,
 *              perPod }] } (apiserver_request_total, every client: the bench, VK, scheduler,
 *              controllers),
 *   },
 *   statusWrites: { apiserverPerPod (PATCH/UPDATE of pods/status, every writer),
 *              vkPerPod (the VK's own counter; null when unavailable), vkByOutcome },
 *   timeline: { intervalSeconds, samples: [{ t, unscheduled, scheduled, running, succeeded,
 *              failed, deleted }] },
 *   profiles: null or { vk|api|plugin: { file, totalMs, busyMs, gcMs, topFunctions,
 *              byModule } },
 *   files: { json, svg, logs (directory of the children's logs; null once removed) }
 * }
 */
import { z } from 'zod';
import { renderChart } from './chart.ts';

const Count = z.number().int().min(0);
const Seconds = z.number().min(0);
const MaybeSeconds = Seconds.nullable();

export const Summary = z.object({
  count: Count,
  p50: Seconds,
  p90: Seconds,
  p99: Seconds,
  max: Seconds,
  mean: Seconds,
});

export const ProcFigures = z
  .object({
    pid: z.number().int().positive(),
    peakRssMiB: z.number().min(0),
    lastRssMiB: z.number().min(0),
    cpuSeconds: z.number().min(0),
    cpuSecondsTotal: z.number().min(0),
  })
  .nullable();

const Requests = z.object({
  total: Count,
  perPod: z.number().min(0),
  byRoute: z.record(z.string(), Count),
});

const HotSpot = z.object({ name: z.string(), selfMs: z.number().min(0), percent: z.number().min(0) });
const Profile = z.object({
  file: z.string(),
  totalMs: z.number().min(0),
  busyMs: z.number().min(0),
  gcMs: z.number().min(0),
  topFunctions: z.array(HotSpot),
  byModule: z.array(HotSpot),
});

export const BenchResult = z.strictObject({
  schema: z.literal('interlink-bench/1'),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  options: z.strictObject({
    pods: z.number().int().positive(),
    plugin: z.enum(['mock', 'docker', 'slurm']),
    concurrency: z.number().int().positive(),
    job: z.boolean(),
    runTimeSeconds: Seconds,
    startDelaySeconds: Seconds,
    statusIntervalSeconds: z.number().positive(),
    vkWorkers: z.number().int().positive().nullable(),
    serviceAccountToken: z.boolean(),
    vkNodeOptions: z.array(z.string()),
    schedulerQps: z.number().int().positive().nullable(),
    profile: z.boolean(),
    cluster: z.enum(['started', 'reused', 'kubeconfig']),
  }),
  machine: z.strictObject({
    cpus: z.number().int().positive(),
    cpuModel: z.string(),
    memoryGiB: z.number().positive(),
    kernel: z.string(),
    node: z.string(),
    kubernetes: z.string(),
    interlink: z.string(),
  }),
  outcome: z.strictObject({
    created: Count,
    scheduled: Count,
    running: Count,
    succeeded: Count,
    failed: Count,
    deleted: Count,
    createErrors: Count,
    complete: z.boolean(),
    timedOut: z.boolean(),
    error: z.string().nullable(),
  }),
  milestones: z.strictObject({
    createdAll: MaybeSeconds,
    scheduledAll: MaybeSeconds,
    runningAll: MaybeSeconds,
    reportedAll: MaybeSeconds,
    finishedAll: MaybeSeconds,
    deleteStarted: MaybeSeconds,
    deletedAll: MaybeSeconds,
    backendEmpty: MaybeSeconds,
  }),
  deleteSeconds: MaybeSeconds,
  latencySeconds: z.strictObject({
    scheduled: Summary,
    running: Summary,
    reported: Summary,
    succeeded: Summary,
  }),
  runningFromStartedAt: Count,
  throughput: z.strictObject({
    createPerSecond: z.number().min(0),
    scheduledPerSecond: z.number().min(0),
    runningPerSecond: z.number().min(0),
    finishedPerSecond: z.number().min(0),
    runningSustainedPerSecond: z.number().min(0).nullable(),
    deletedPerSecond: z.number().min(0),
  }),
  host: z.strictObject({
    loadAverage1m: z.number().min(0),
    busyCpuSeconds: z.number().min(0),
    capacityCpuSeconds: z.number().min(0),
    measuredCpuSeconds: z.number().min(0),
  }),
  heapUsedPeakMiB: z.strictObject({
    vk: z.number().positive().nullable(),
    api: z.number().positive().nullable(),
    plugin: z.number().positive().nullable(),
  }),
  vkInternals: z.strictObject({
    queueDepthPeak: Count.nullable(),
    reconciles: Count.nullable(),
    reconcileMeanMs: z.number().min(0).nullable(),
    statusRoundTrips: Count.nullable(),
    statusRoundTripMeanMs: z.number().min(0).nullable(),
  }),
  resources: z.strictObject({
    vk: ProcFigures,
    api: ProcFigures,
    plugin: ProcFigures,
    bench: ProcFigures,
    apiserver: ProcFigures,
    etcd: ProcFigures,
    scheduler: ProcFigures,
    controllerManager: ProcFigures,
  }),
  requests: z.strictObject({
    vkToApi: Requests,
    apiToPlugin: Requests,
    statusCallsPerPollInterval: z.number().min(0).nullable(),
    apiserver: z.strictObject({
      total: Count,
      perPod: z.number().min(0),
      byVerbResource: z.array(
        z.strictObject({
          verb: z.string(),
          resource: z.string(),
          subresource: z.string(),
          count: Count,
          perPod: z.number().min(0),
        }),
      ),
    }),
  }),
  statusWrites: z.strictObject({
    apiserverPerPod: z.number().min(0),
    vkPerPod: z.number().min(0).nullable(),
    vkByOutcome: z.record(z.string(), Count),
  }),
  timeline: z.strictObject({
    intervalSeconds: z.number().positive(),
    samples: z.array(
      z.strictObject({
        t: Seconds,
        unscheduled: Count,
        scheduled: Count,
        running: Count,
        succeeded: Count,
        failed: Count,
        deleted: Count,
      }),
    ),
  }),
  profiles: z.partialRecord(z.enum(['vk', 'api', 'plugin']), Profile).nullable(),
  files: z.strictObject({ json: z.string(), svg: z.string(), logs: z.string().nullable() }),
});
export type BenchResult = z.infer<typeof BenchResult>;

/** The run's chart (pods by phase over time), from its result alone: re-rendered by bench/render.ts. */
export function chartOfResult(r: BenchResult): string {
  const o = r.options;
  const m = r.milestones;
  const markers = [
    { t: m.runningAll, label: 'all Running' },
    { t: m.deleteStarted, label: 'delete' },
  ].filter((x): x is { t: number; label: string } => x.t !== null);
  return renderChart(r.timeline.samples, {
    title: `interlink: ${o.job ? `a Job of ${o.pods}` : `${o.pods} pods`} through the ${o.plugin} plugin`,
    subtitle:
      `${r.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${r.machine.cpus} CPUs · run time ${o.runTimeSeconds} s · ` +
      `p99 create→Running ${r.latencySeconds.running.p99} s · all Running ${m.runningAll ?? '—'} s`,
    markers,
  });
}
