/**
 * What one benchmark run leaves behind, in `--out` (default bench/results/):
 *
 * - `<base>.json`, the **summary** (schema `interlink-bench/2`, below): the figures, small
 *   enough to commit (a few KB, one short line per leaf object);
 * - `<base>.raw.json.gz`, the **raw samples** (schema `interlink-bench-raw/1`, gzip): the
 *   timeline of pods by phase every 0.5 s and each pod's own times. Git-ignored (they were
 *   27k lines of the tree once); `node bench/render.ts <base>.json` redraws the chart from them;
 * - `<base>.svg`, the chart (pods by phase over time), drawn from the raw timeline.
 *
 * `<base>` is `<YYYY-MM-DD>-<N>[-job][-<plugin>][-profile]`. This schema is the
 * documentation of every field and the check the test runs on a real result
 * (test/bench/bench.k8s.test.ts). Units are in the names: `Seconds`, `MiB`, `PerSecond`,
 * `PerPod`. Every time is measured from the first create request ("t0").
 *
 * Summary:
 * {
 *   schema: "interlink-bench/2",
 *   startedAt, finishedAt: ISO 8601,
 *   options: { pods, plugin, concurrency, job, runTimeSeconds, startDelaySeconds,
 *              statusIntervalSeconds, vkWorkers (null = VK default), serviceAccountToken,
 *              vkNodeOptions (extra node flags of the VK process), nodeOptions ({ vk, api,
 *              plugin }: every child's node flags, heap limits included), dist (the
 *              children ran dist/cli/main.js, not src/), schedulerQps (null = the
 *              scheduler's default, 50), profile, cluster: "started" | "reused" | "kubeconfig",
 *              baseline: "kwok" | null (absent in older results) },
 *   machine: { cpus, cpuModel, memoryGiB, kernel, node (version), kubernetes (apiserver
 *              gitVersion), interlink (package version) },
 *   outcome: { created, scheduled, running, succeeded, failed, deleted, createErrors,
 *              complete (every pod finished and was deleted), timedOut, error (null or why) },
 *   milestones: seconds from t0 to: createdAll (last create answered), scheduledAll,
 *              runningAll (every pod started), reportedAll (the apiserver showed every pod
 *              past Pending), finishedAll, deleteStarted, deletedAll, eventsWritten (the VK's
 *              queued Events all written), backendEmpty (mock:
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
 *   pluginOps: { <op>: { count, meanMs } }: the plugin's own time per backend operation
 *              (create, delete, status, ...) during the run; null without the metric, absent
 *              in older results,
 *   backendCommands: { <command>: { count, meanMs } }: the backend commands the plugin ran
 *              (sbatch, squeue, docker_start, ...); null without the metric, absent in older results,
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
 *   events: { vkByOutcome: { written, aggregated, dropped, failed }, writeDelay: { count,
 *              meanSeconds, p99AtMostSeconds (the histogram bucket holding the 99th
 *              percentile) } } (the VK's Events; null when the VK has no such counter, absent
 *              in older results),
 *   profiles: null or { vk|api|plugin: { file, totalMs, busyMs, gcMs, topFunctions,
 *              byModule } },
 *   baseline: null (no --baseline; absent in older results) or, with `--baseline kwok`, the
 *              same burst run next against a KWOK-managed node on the same control plane
 *              (bench/lib/kwok.ts, bench/lib/compare.ts): {
 *     agent: "kwok", version, startedAt (of the KWOK burst; its times from its own t0),
 *     outcome, milestones, latencySeconds: { scheduled, running, reported }, host: as above,
 *     resources: { kwok (ProcFigures of the kwok process), controlPlaneCpuSeconds (apiserver,
 *              etcd, scheduler and controller-manager together) },
 *     requests: { apiserver } and statusWritesPerPod (pods/status writes per pod), as above,
 *     ours: { agentCpuSeconds, agentPeakRssMiB (VK + API + plugin summed),
 *              controlPlaneCpuSeconds } (null when not sampled),
 *     ratios: ours / KWOK's, null when either is missing: { runningAll, reportedAll (the
 *              milestones), runningP50, runningP99, reportedP99 (create→Running and
 *              create→shown past Pending), apiserverRequestsPerPod, agentCpuSeconds (VK + API
 *              + plugin against kwok), agentPeakRssMiB (likewise, summed), controlPlaneCpuSeconds }
 *   },
 *   files: { json, raw (the raw samples; null when they were not kept), svg, logs
 *              (directory of the children's logs; null once removed) }
 * }
 *
 * Raw samples:
 * {
 *   schema: "interlink-bench-raw/1", startedAt (as in the summary), summary (its file name),
 *   timeline: { intervalSeconds, samples: [{ t, unscheduled, scheduled, running, succeeded,
 *              failed, deleted }] },
 *   pods: [{ name, created, scheduled, running, runningFromStartedAt, reported, finished,
 *              deleted, phase }]: seconds from t0 as the benchmark's watch saw them (null when
 *              not reached); empty for results converted from schema 1, which kept none
 * }
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { renderChart, type TimelineSample } from './chart.ts';

/** Name suffixes of a run's files after `<base>`. */
export const SUMMARY_SUFFIX = '.json';
export const RAW_SUFFIX = '.raw.json.gz';
export const CHART_SUFFIX = '.svg';

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

const Outcome = z.strictObject({
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
});
const Milestones = z.strictObject({
  createdAll: MaybeSeconds,
  scheduledAll: MaybeSeconds,
  runningAll: MaybeSeconds,
  reportedAll: MaybeSeconds,
  finishedAll: MaybeSeconds,
  deleteStarted: MaybeSeconds,
  deletedAll: MaybeSeconds,
  backendEmpty: MaybeSeconds,
  /** The VK's rate-limited Event writes all done (absent in older results). */
  eventsWritten: MaybeSeconds.optional(),
});
const Host = z.strictObject({
  loadAverage1m: z.number().min(0),
  busyCpuSeconds: z.number().min(0),
  capacityCpuSeconds: z.number().min(0),
  measuredCpuSeconds: z.number().min(0),
});
const ApiserverRequests = z.strictObject({
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
});

const Ratio = z.number().min(0).nullable();

export const KwokBaseline = z.strictObject({
  agent: z.literal('kwok'),
  version: z.string(),
  startedAt: z.iso.datetime(),
  outcome: Outcome,
  milestones: Milestones,
  latencySeconds: z.strictObject({ scheduled: Summary, running: Summary, reported: Summary }),
  host: Host,
  resources: z.strictObject({
    kwok: ProcFigures,
    controlPlaneCpuSeconds: z.number().min(0).nullable(),
  }),
  requests: z.strictObject({ apiserver: ApiserverRequests }),
  statusWritesPerPod: z.number().min(0),
  ours: z.strictObject({
    agentCpuSeconds: z.number().min(0).nullable(),
    agentPeakRssMiB: z.number().min(0).nullable(),
    controlPlaneCpuSeconds: z.number().min(0).nullable(),
  }),
  ratios: z.strictObject({
    runningAll: Ratio,
    reportedAll: Ratio,
    runningP50: Ratio,
    runningP99: Ratio,
    reportedP99: Ratio,
    apiserverRequestsPerPod: Ratio,
    agentCpuSeconds: Ratio,
    agentPeakRssMiB: Ratio,
    controlPlaneCpuSeconds: Ratio,
  }),
});
export type KwokBaseline = z.infer<typeof KwokBaseline>;

export const BenchSummary = z.strictObject({
  schema: z.literal('interlink-bench/2'),
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
    /** The children ran dist/cli/main.js (true) or src/cli/main.ts; absent before 2026-12-04. */
    dist: z.boolean().optional(),
    /** Every child's node flags (heap limits included); absent in runs before 2026-12-04. */
    nodeOptions: z
      .strictObject({ vk: z.array(z.string()), api: z.array(z.string()), plugin: z.array(z.string()) })
      .optional(),
    schedulerQps: z.number().int().positive().nullable(),
    profile: z.boolean(),
    cluster: z.enum(['started', 'reused', 'kubeconfig']),
    baseline: z.enum(['kwok']).nullable().optional(),
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
  outcome: Outcome,
  milestones: Milestones,
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
  host: Host,
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
  pluginOps: z
    .record(z.string(), z.strictObject({ count: Count, meanMs: z.number().min(0).nullable() }))
    .nullable()
    .optional(),
  backendCommands: z
    .record(z.string(), z.strictObject({ count: Count, meanMs: z.number().min(0).nullable() }))
    .nullable()
    .optional(),
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
    apiserver: ApiserverRequests,
  }),
  statusWrites: z.strictObject({
    apiserverPerPod: z.number().min(0),
    vkPerPod: z.number().min(0).nullable(),
    vkByOutcome: z.record(z.string(), Count),
  }),
  /** The VK's Events by outcome (interlink_vk_events_total); null or absent before it existed. */
  events: z
    .strictObject({
      vkByOutcome: z.record(z.string(), Count),
      /** From recording an Event to its write (interlink_vk_event_write_delay_seconds); absent in older results. */
      writeDelay: z
        .strictObject({
          count: Count,
          meanSeconds: z.number().min(0).nullable(),
          p99AtMostSeconds: z.number().nullable(),
        })
        .nullable()
        .optional(),
    })
    .nullable()
    .optional(),
  profiles: z.partialRecord(z.enum(['vk', 'api', 'plugin']), Profile).nullable(),
  /** With `--baseline kwok`: KWOK's figures and our/KWOK ratios; null without, absent in older results. */
  baseline: KwokBaseline.nullable().optional(),
  files: z.strictObject({
    json: z.string(),
    raw: z.string().nullable(),
    svg: z.string(),
    logs: z.string().nullable(),
  }),
});
export type BenchSummary = z.infer<typeof BenchSummary>;

const Timeline = z.strictObject({
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
});

export const PodSample = z.strictObject({
  name: z.string(),
  created: Seconds,
  scheduled: MaybeSeconds,
  running: MaybeSeconds,
  runningFromStartedAt: z.boolean(),
  reported: MaybeSeconds,
  finished: MaybeSeconds,
  deleted: MaybeSeconds,
  phase: z.string(),
});
export type PodSample = z.infer<typeof PodSample>;

export const BenchRaw = z.strictObject({
  schema: z.literal('interlink-bench-raw/1'),
  startedAt: z.iso.datetime(),
  summary: z.string(),
  timeline: Timeline,
  pods: z.array(PodSample),
});
export type BenchRaw = z.infer<typeof BenchRaw>;

/**
 * Schema 1 (until 2026-12): the summary's figures and the whole timeline in one file.
 * Read only, to convert old results (bench/migrate-v1.ts).
 */
export const BenchResultV1 = BenchSummary.omit({ schema: true, files: true }).extend({
  schema: z.literal('interlink-bench/1'),
  timeline: Timeline,
  files: z.strictObject({ json: z.string(), svg: z.string(), logs: z.string().nullable() }),
});
export type BenchResultV1 = z.infer<typeof BenchResultV1>;

/**
 * A schema-1 result as a summary and its raw samples (pure). Schema 1 kept no per-pod
 * samples, and a converted summary says `raw: null`: its timeline is not kept beside it.
 */
export function splitV1(v1: BenchResultV1): { summary: BenchSummary; raw: BenchRaw } {
  const { timeline, files, schema: _, ...figures } = v1;
  return {
    summary: {
      schema: 'interlink-bench/2',
      ...figures,
      files: { json: files.json, raw: null, svg: files.svg, logs: null },
    },
    raw: {
      schema: 'interlink-bench-raw/1',
      startedAt: v1.startedAt,
      summary: basename(files.json),
      timeline,
      pods: [],
    },
  };
}

/**
 * JSON for a file a person reads and git diffs (pure): indented by two spaces, but an
 * object or array that fits in `width` columns where it starts stays on one line, so a
 * summary is ~100 lines rather than ~500 and a changed figure is a one-line diff.
 */
export function formatJson(value: unknown, width = 120): string {
  // One line, spaced as a person writes it: { "a": 1, "b": [1, 2] }.
  const inline = (v: unknown): string => {
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
    if (Array.isArray(v)) return `[${v.map(inline).join(', ')}]`;
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '{}';
    return `{ ${entries.map(([k, x]) => `${JSON.stringify(k)}: ${inline(x)}`).join(', ')} }`;
  };
  const fmt = (v: unknown, indent: string, prefixLen: number): string => {
    const flat = inline(v);
    if (v === null || typeof v !== 'object' || indent.length + prefixLen + flat.length <= width) return flat;
    const inner = `${indent}  `;
    if (Array.isArray(v)) return `[\n${v.map((x) => inner + fmt(x, inner, 0)).join(',\n')}\n${indent}]`;
    const lines = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => {
        const key = `${JSON.stringify(k)}: `;
        return inner + key + fmt(x, inner, key.length);
      });
    return `{\n${lines.join(',\n')}\n${indent}}`;
  };
  return `${fmt(value, '', 0)}\n`;
}

export interface RunFiles {
  json: string;
  raw: string;
  svg: string;
}

/** The three files of `<base>` in `dir`. */
export function runFiles(dir: string, base: string): RunFiles {
  return {
    json: join(dir, base + SUMMARY_SUFFIX),
    raw: join(dir, base + RAW_SUFFIX),
    svg: join(dir, base + CHART_SUFFIX),
  };
}

/**
 * Write a run: the summary (validated: a drift from the documented schema is a bug here, not
 * in the reader), its raw samples gzipped, and the chart from them. Paths as `runFiles`.
 */
export function writeRun(paths: RunFiles, summary: BenchSummary, raw: BenchRaw): void {
  const s = BenchSummary.parse(summary);
  const r = BenchRaw.parse(raw);
  mkdirSync(join(paths.json, '..'), { recursive: true });
  writeFileSync(paths.json, formatJson(s));
  writeFileSync(paths.raw, gzipSync(`${JSON.stringify(r)}\n`));
  writeFileSync(paths.svg, chartOfResult(s, r.timeline.samples));
}

export function readSummary(path: string): BenchSummary {
  return BenchSummary.parse(JSON.parse(readFileSync(path, 'utf8')));
}

export function readRaw(path: string): BenchRaw {
  return BenchRaw.parse(JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')));
}

/** The run's chart (pods by phase over time) from its summary and raw timeline: bench/render.ts redraws it. */
export function chartOfResult(r: BenchSummary, samples: readonly TimelineSample[]): string {
  const o = r.options;
  const m = r.milestones;
  const markers = [
    { t: m.runningAll, label: 'all Running' },
    { t: m.deleteStarted, label: 'delete' },
  ].filter((x): x is { t: number; label: string } => x.t !== null);
  return renderChart(samples, {
    title: `interlink: ${o.job ? `a Job of ${o.pods}` : `${o.pods} pods`} through the ${o.plugin} plugin`,
    subtitle:
      `${r.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${r.machine.cpus} CPUs · run time ${o.runTimeSeconds} s · ` +
      `p99 create→Running ${r.latencySeconds.running.p99} s · all Running ${m.runningAll ?? '—'} s`,
    markers,
  });
}
