/**
 * One benchmark run, end to end: control plane → plugin, API and VK as child processes →
 * N pods (or a Job) onto the virtual node → watch them to Succeeded → delete them all →
 * figures. Everything it started is stopped on the way out, on success, failure, timeout
 * or abort; the result is written even for an incomplete run (outcome.complete = false).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchV1Api, CoreV1Api, type KubeConfig, VersionApi } from '@kubernetes/client-node';
import { type Chain, nodeOptions, startChain } from './chain.ts';
import type { TimelineSample } from './chart.ts';
import { acquireCluster, type ClusterHandle } from './cluster.ts';
import { type Burst, kwokBaseline } from './compare.ts';
import {
  backendCommandsOf,
  latenciesOf,
  milestonesOf,
  pluginOpsOf,
  podSample,
  requestFigures,
  type Scrape,
  vkInternalsOf,
} from './figures.ts';
import { httpGetOk } from './http.ts';
import { type Agent, KWOK_VERSION, startKwok } from './kwok.ts';
import type { BenchOptions } from './options.ts';
import { type PodWatch, watchPods } from './pod-watch.ts';
import { PooledKubeConfig } from './pooled-kubeconfig.ts';
import { ProcSampler, readHostCpu } from './procstat.ts';
import { type CpuProfile, summarizeProfile } from './profile.ts';
import { parsePrometheus, type Sample } from './prom.ts';
import { type BenchRaw, type BenchSummary, type RunFiles, runFiles, writeRun } from './result.ts';
import { rate, round3, sustainedRate } from './stats.ts';
import { PodTracker } from './tracker.ts';
import { benchJob, benchPod, RUN_LABEL, type WorkloadSpec } from './workload.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const TIMELINE_INTERVAL_MS = 500;
const HEAP_INTERVAL_MS = 2_000;

/** A path relative to the repository when inside it, else absolute. */
const shown = (p: string) => {
  const rel = relative(REPO_ROOT, p);
  return rel === '' || rel.startsWith('..') ? p : rel;
};

export interface BenchIo {
  log: (line: string) => void;
  /** Aborting ends the run early (reported as an error), with the usual cleanup. */
  signal?: AbortSignal;
}

export interface BenchOutput {
  result: BenchSummary;
  jsonPath: string;
  rawPath: string;
  svgPath: string;
}

const r2 = (n: number) => Math.round(n * 100) / 100;

class StopRun extends Error {
  override name = 'StopRun';
  readonly timedOut: boolean;
  constructor(message: string, timedOut: boolean) {
    super(message);
    this.timedOut = timedOut;
  }
}

/**
 * `<date>-<N>[-job][-<plugin>][-profile]`: the results' file name without extension. A
 * profiled run is kept apart: profiling slows the children down.
 */
export function resultBaseName(
  opts: Pick<BenchOptions, 'pods' | 'job' | 'plugin' | 'profile'>,
  startedAt: Date,
): string {
  const date = startedAt.toISOString().slice(0, 10);
  return (
    `${date}-${opts.pods}${opts.job ? '-job' : ''}${opts.plugin === 'mock' ? '' : `-${opts.plugin}`}` +
    `${opts.profile ? '-profile' : ''}`
  );
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

const retryableStatus = new Set([429, 500, 502, 503, 504]);

/**
 * A create (or delete) that retries overload answers and transport errors; a 409 after a
 * retry means an earlier attempt got through.
 */
async function withRetry(fn: () => Promise<unknown>, attempts = 6): Promise<void> {
  for (let k = 0; ; k++) {
    try {
      await fn();
      return;
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 409 && k > 0) return;
      const retryable = code === undefined || retryableStatus.has(code);
      if (!retryable || k >= attempts - 1) throw err;
      await sleep(200 * 2 ** k);
    }
  }
}

/** The VK's `interlink_vk_events_pending`; 0 when it has none (older VKs, a failed scrape). */
function eventsPending(metrics: string): number {
  return parsePrometheus(metrics).find((s) => s.name === 'interlink_vk_events_pending')?.value ?? 0;
}

/**
 * One run, or two with `--baseline kwok`: the burst through the chain, then the same burst
 * against a KWOK node on the same control plane (acquired once, released at the end); the
 * second run's figures and our/KWOK ratios go into the summary's `baseline`.
 */
export async function runBench(opts: BenchOptions, io: BenchIo): Promise<BenchOutput> {
  const startedAt = new Date();
  const base = resultBaseName(opts, startedAt);
  const outDir = resolve(REPO_ROOT, opts.outDir);
  mkdirSync(outDir, { recursive: true });
  const paths = runFiles(outDir, base);
  const profileDir = opts.profile ? join(outDir, `${base}-profiles`) : undefined;
  if (profileDir) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  let cluster: ClusterHandle | undefined;
  const acquire = async () => {
    cluster ??= await acquireCluster(opts, io.log);
    return cluster;
  };
  let ours: Burst;
  try {
    ours = await runBurst(opts, io, { agent: 'interlink', acquire, startedAt, paths, profileDir });
    // An interrupted run stops here; a failed one still gets its baseline, for comparison.
    if (opts.baseline === 'kwok' && !io.signal?.aborted) {
      io.log('baseline: the same burst against a KWOK node on the same control plane');
      const log = (line: string) => io.log(`[kwok] ${line}`);
      const kwok = await runBurst(
        opts,
        { ...io, log },
        { agent: 'kwok', acquire, startedAt: new Date(), paths },
      );
      ours.result.baseline = kwokBaseline(ours, kwok, KWOK_VERSION);
    }
  } finally {
    await cluster?.release().catch((e) => io.log(`stopping the control plane: ${(e as Error).message}`));
  }
  ours.result.finishedAt = new Date().toISOString();
  writeRun(paths, ours.result, ours.raw);
  return { result: ours.result, jsonPath: paths.json, rawPath: paths.raw, svgPath: paths.svg };
}

interface BurstContext {
  /** What manages the node: the interlink chain (VK, API, plugin) or KWOK. */
  agent: 'interlink' | 'kwok';
  /** The control plane, acquired by the first burst and shared by the second. */
  acquire: () => Promise<ClusterHandle>;
  startedAt: Date;
  paths: RunFiles;
  profileDir?: string | undefined;
}

/** N pods (or a Job) onto one node managed by `ctx.agent`, measured; nothing written. */
async function runBurst(opts: BenchOptions, io: BenchIo, ctx: BurstContext): Promise<Burst> {
  const log = io.log;
  const { startedAt, paths, profileDir } = ctx;
  const runId = randomBytes(3).toString('hex');
  const namespace = `bench-${runId}`;
  const nodeName = `${ctx.agent === 'kwok' ? 'kwok' : 'bench'}-${runId}`;
  const labelSelector = `${RUN_LABEL}=${runId}`;
  const dir = await mkdtemp(join(tmpdir(), 'interlink-bench-'));
  const deadline = Date.now() + opts.timeoutMs;

  // Our clock: seconds since t0 (the first create request), monotonic.
  let t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  const tracker = new PodTracker(() => performance.timeOrigin + t0);
  let trackerReady = false;
  const sampler = new ProcSampler();
  const timeline: TimelineSample[] = [];
  const timers: NodeJS.Timeout[] = [];

  let cluster: ClusterHandle | undefined;
  let chain: Chain | undefined;
  let agent: Agent | undefined;
  let watch: PodWatch | undefined;
  let kc: KubeConfig | undefined;
  let error: string | null = null;
  let timedOut = false;
  let kubernetesVersion = 'unknown';
  let createdAll: number | null = null;
  let deleteStarted: number | null = null;
  let backendEmpty: number | null = null;
  let eventsWritten: number | null = null;
  let createErrors = 0;
  let createdOk = 0;
  let before: Scrape | undefined;
  let after: Scrape | undefined;
  let expected = opts.pods;
  const loadAverage1m = Math.round(loadavg()[0]! * 100) / 100;
  let hostBefore: ReturnType<typeof readHostCpu> | undefined;
  let hostAfter: ReturnType<typeof readHostCpu> | undefined;
  const heapPeak: Record<'vk' | 'api' | 'plugin', number | null> = { vk: null, api: null, plugin: null };
  let queueDepthPeak: number | null = null;

  const check = () => {
    if (io.signal?.aborted) throw new StopRun('interrupted', false);
    const dead = agent?.deadChild();
    if (dead) throw new StopRun(dead, false);
    if (Date.now() > deadline) throw new StopRun(`timed out after ${opts.timeoutMs / 1000} s`, true);
  };
  const waitUntil = async (cond: () => boolean | Promise<boolean>, pollMs = 100) => {
    for (;;) {
      if (await cond()) return;
      check();
      await sleep(pollMs);
    }
  };

  const scrapeApiserver = async (): Promise<Sample[]> => {
    const cluster = kc!.getCurrentCluster()!;
    const tls: Record<string, unknown> = {};
    await kc!.applyToHTTPSOptions(tls);
    const text = await httpGetOk(`${cluster.server}/metrics`, {
      tls: tls as { ca?: Buffer; cert?: Buffer; key?: Buffer },
    });
    // Only the request counter: the whole scrape is megabytes of histograms.
    return parsePrometheus(
      text
        .split('\n')
        .filter((l) => l.startsWith('apiserver_request_total{'))
        .join('\n'),
    );
  };
  const scrape = async (): Promise<Scrape> => {
    // KWOK has none of the chain's /metrics.
    const none = async () => '';
    const [api, plugin, vk, apiserver] = await Promise.all([
      (chain?.scrapeApi ?? none)().then(parsePrometheus),
      (chain?.scrapePlugin ?? none)().then(parsePrometheus),
      (chain?.scrapeVk ?? none)().then(parsePrometheus),
      scrapeApiserver(),
    ]);
    return { api, plugin, vk, apiserver };
  };

  try {
    cluster = await ctx.acquire();
    // client-node 2.0.1 makes a new connection (a TLS handshake) per request; the VK's pooled
    // kubeconfig keeps one, so the benchmark's own load on the apiserver stays small.
    const loaded = new PooledKubeConfig();
    loaded.loadFromFile(cluster.kubeconfig);
    const core = loaded.makeApiClient(CoreV1Api);
    const batch = loaded.makeApiClient(BatchV1Api);
    kc = loaded;
    kubernetesVersion = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;

    if (ctx.agent === 'kwok') {
      agent = await startKwok({
        dir,
        kubeconfig: cluster.kubeconfig,
        nodeName,
        runTimeMs: opts.runTimeMs,
        core,
        log,
      });
    } else {
      chain = await startChain({
        dir,
        kubeconfig: cluster.kubeconfig,
        nodeName,
        plugin: opts.plugin,
        pluginConfig: opts.pluginConfig,
        pods: opts.pods,
        statusIntervalMs: opts.statusIntervalMs,
        vkWorkers: opts.vkWorkers,
        vkNodeOptions: opts.vkNodeOptions,
        heapLimits: opts.heapLimits,
        dist: opts.dist,
        profileDir,
        log,
      });
      agent = chain;
    }
    for (const [name, pid] of Object.entries(agent.pids)) sampler.track(name, pid);
    sampler.track('bench', process.pid);
    for (const [name, pid] of Object.entries(cluster.pids)) sampler.track(name, pid);

    // The node must be Ready before the scheduler binds anything to it.
    await waitUntil(async () => {
      try {
        const node = await core.readNode({ name: nodeName });
        return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      } catch {
        return false;
      }
    }, 250);
    await core.createNamespace({ body: { metadata: { name: namespace, labels: { [RUN_LABEL]: runId } } } });
    // Pods are refused until the namespace's default ServiceAccount exists.
    await waitUntil(async () => {
      try {
        await core.readNamespacedServiceAccount({ name: 'default', namespace });
        return true;
      } catch {
        return false;
      }
    }, 100);

    watch = watchPods({
      kc,
      core,
      namespace,
      labelSelector,
      onEvent: (type, pod) => {
        if (trackerReady) tracker.observe(type, pod, now());
      },
      onRelist: (uids) => tracker.relisted(uids, now()),
      log,
    });
    await watch.ready;

    before = await scrape();
    sampler.baseline();
    hostBefore = readHostCpu();
    t0 = performance.now();
    trackerReady = true;
    const sampleTimeline = () => {
      sampler.sample();
      timeline.push({ t: round3(now()), ...tracker.counts() });
    };
    sampleTimeline();
    timers.push(setInterval(sampleTimeline, TIMELINE_INTERVAL_MS));
    if (opts.progressMs > 0) {
      timers.push(
        setInterval(() => {
          const c = tracker.counts();
          const mem = Object.keys(agent?.pids ?? {})
            .map((n) => `${n} ${sampler.rssMiB(n)?.toFixed(0) ?? '?'} MiB`)
            .join(', ');
          log(
            `${now().toFixed(1)} s: seen ${tracker.size}/${opts.pods}, unscheduled ${c.unscheduled}, scheduled ${c.scheduled}, ` +
              `Running ${c.running}, Succeeded ${c.succeeded}, Failed ${c.failed}, deleted ${c.deleted} | ${mem}`,
          );
        }, opts.progressMs),
      );
    }
    let heapBusy = false;
    const sampleHeaps = async () => {
      if (heapBusy || !chain) return;
      heapBusy = true;
      const c = chain;
      const scrapes = { vk: c.scrapeVk, api: c.scrapeApi, plugin: c.scrapePlugin };
      try {
        for (const [name, get] of Object.entries(scrapes) as Array<
          [keyof typeof scrapes, () => Promise<string>]
        >) {
          const text = await get().catch(() => '');
          const lines = text.split('\n');
          if (name === 'vk') {
            const q = lines.find((l) => l.startsWith('interlink_vk_queue_depth '));
            if (q) queueDepthPeak = Math.max(queueDepthPeak ?? 0, Number(q.split(' ')[1]));
          }
          const line = lines.find((l) => /^\w+_nodejs_heap_size_used_bytes /.test(l));
          if (!line) continue;
          const mib = Math.round((Number(line.split(' ')[1]) / 1048576) * 10) / 10;
          if (mib > (heapPeak[name] ?? 0)) heapPeak[name] = mib;
        }
      } finally {
        heapBusy = false;
      }
    };
    void sampleHeaps();
    timers.push(setInterval(() => void sampleHeaps(), HEAP_INTERVAL_MS));
    for (const t of timers) t.unref();

    const spec: WorkloadSpec = {
      runId,
      namespace,
      nodeName,
      plugin: opts.plugin,
      runTimeMs: opts.runTimeMs,
      startDelayMs: opts.startDelayMs,
      image: opts.image,
      serviceAccountToken: opts.serviceAccountToken,
    };
    log(
      opts.job
        ? `creating a Job with ${opts.pods} completions in ${namespace}`
        : `creating ${opts.pods} pods in ${namespace}, ${opts.concurrency} at a time`,
    );
    if (opts.job) {
      await batch.createNamespacedJob({ namespace, body: benchJob(spec, opts.pods) });
      await waitUntil(() => tracker.size >= opts.pods);
      createdAll = round3(Math.max(...tracker.records().map((r) => r.created)));
      createdOk = tracker.size;
    } else {
      let next = 0;
      let firstError: string | undefined;
      await Promise.all(
        Array.from({ length: Math.min(opts.concurrency, opts.pods) }, async () => {
          while (next < opts.pods) {
            check();
            const i = next++;
            const body = benchPod(spec, i);
            tracker.requested(body.metadata!.name!, now());
            try {
              await withRetry(() => core.createNamespacedPod({ namespace, body }));
              createdOk++;
            } catch (err) {
              createErrors++;
              firstError ??= (err as Error).message;
              tracker.abandoned(body.metadata!.name!);
            }
          }
        }),
      );
      createdAll = round3(now());
      if (createErrors > 0) log(`${createErrors} creates failed; the first: ${firstError}`);
      expected = createdOk;
    }
    log(`all ${createdOk} created after ${createdAll.toFixed(1)} s; waiting for them to finish`);

    await waitUntil(() => tracker.finishedCount() >= expected);
    log(`all finished after ${now().toFixed(1)} s; deleting`);
    deleteStarted = round3(now());
    if (opts.job) {
      await batch.deleteNamespacedJob({ name: 'bench', namespace, propagationPolicy: 'Background' });
    } else {
      // One DELETE per pod, C at a time, as `kubectl delete pods -l` does. (A
      // deletecollection would measure the apiserver's single delete-collection worker.)
      const names = tracker.records().map((r) => r.name);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(opts.concurrency, names.length) }, async () => {
          while (next < names.length) {
            check();
            const name = names[next++]!;
            await withRetry(() =>
              core.deleteNamespacedPod({ name, namespace }).catch((err: { code?: number }) => {
                if (err.code !== 404) throw err;
              }),
            );
          }
        }),
      );
    }
    await waitUntil(() => tracker.deletedCount() >= expected);
    log(`all deleted after ${now().toFixed(1)} s`);
    if (chain && opts.plugin === 'mock') {
      await waitUntil(async () => (await chain!.mockPodCount()) === 0, 200);
      backendEmpty = round3(now());
    }
    if (chain) {
      // The VK writes Events at the kubelet's rate: what a burst queued goes out afterwards,
      // and counts (CPU, requests, Events written) only when it has.
      const c = chain;
      await waitUntil(async () => eventsPending(await c.scrapeVk().catch(() => '')) === 0, 500);
      eventsWritten = round3(now());
    }
    after = await scrape();
  } catch (err) {
    if (err instanceof StopRun) {
      timedOut = err.timedOut;
      error = err.message;
    } else {
      error = (err as Error).stack ?? String(err);
    }
    log(`run stopped: ${error}`);
    if (agent && before && !after) {
      after = await scrape().catch(() => undefined);
    }
  } finally {
    for (const t of timers) clearInterval(t);
    // The last state (everything deleted) belongs on the chart even between two ticks.
    if (trackerReady) timeline.push({ t: round3(now()), ...tracker.counts() });
    sampler.sample();
    if (hostBefore) hostAfter = readHostCpu();
    watch?.stop();
    if (agent) await agent.stop();
    // In a shared cluster, leave nothing behind (a started one is thrown away whole).
    if (cluster && kc && cluster.kind !== 'started') {
      const core = kc.makeApiClient(CoreV1Api);
      await core.deleteNamespace({ name: namespace }).catch(() => {});
      await core.deleteNode({ name: nodeName }).catch(() => {});
    }
  }

  // Figures.
  const records = tracker.records();
  const ms = milestonesOf(records, expected);
  const outcome = {
    created: opts.job ? tracker.size : createdOk,
    scheduled: records.filter((r) => r.scheduled !== undefined).length,
    running: records.filter((r) => r.running !== undefined).length,
    succeeded: records.filter((r) => r.phase === 'Succeeded').length,
    failed: records.filter((r) => r.phase === 'Failed').length,
    deleted: tracker.deletedCount(),
    createErrors,
    complete: false,
    timedOut,
    error,
  };
  outcome.complete =
    error === null &&
    expected === opts.pods &&
    outcome.deleted >= expected &&
    tracker.finishedCount() >= expected;
  const deleteSeconds =
    ms.deletedAll !== null && deleteStarted !== null
      ? round3(Math.max(0, ms.deletedAll - deleteStarted))
      : null;
  const empty: Scrape = { api: [], plugin: [], vk: [], apiserver: [] };
  const req = requestFigures({
    before: before ?? empty,
    after: after ?? before ?? empty,
    pods: expected,
    statusIntervalSeconds: opts.statusIntervalMs / 1000,
    activeSeconds: ms.deletedAll ?? (timeline.length ? timeline[timeline.length - 1]!.t : null),
  });

  let profiles: BenchSummary['profiles'] = null;
  if (chain && profileDir) {
    profiles = {};
    for (const name of ['vk', 'api', 'plugin'] as const) {
      const file = chain.profilePath(name)!;
      try {
        const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, {
          repoRoot: REPO_ROOT,
        });
        profiles[name] = { file: shown(file), ...summary };
      } catch (err) {
        log(`no profile of ${name}: ${(err as Error).message}`);
      }
    }
  }

  // An incomplete run keeps the children's logs (a failure before they started has none).
  const keepLogs = !outcome.complete && readdirSync(dir).some((f) => f.endsWith('.log'));
  const result: BenchSummary = {
    schema: 'interlink-bench/2',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: {
      pods: opts.pods,
      plugin: opts.plugin,
      concurrency: opts.concurrency,
      job: opts.job,
      runTimeSeconds: opts.runTimeMs / 1000,
      startDelaySeconds: opts.startDelayMs / 1000,
      statusIntervalSeconds: opts.statusIntervalMs / 1000,
      vkWorkers: opts.vkWorkers ?? null,
      serviceAccountToken: opts.serviceAccountToken,
      vkNodeOptions: opts.vkNodeOptions,
      dist: opts.dist,
      nodeOptions: {
        vk: nodeOptions(opts, 'vk'),
        api: nodeOptions(opts, 'api'),
        plugin: nodeOptions(opts, 'plugin'),
      },
      schedulerQps: opts.schedulerQps ?? null,
      profile: opts.profile,
      baseline: opts.baseline,
      cluster:
        cluster?.kind ??
        (opts.cluster.kind === 'start' ? 'started' : opts.cluster.kind === 'reuse' ? 'reused' : 'kubeconfig'),
    },
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      kernel: release(),
      node: process.version,
      kubernetes: kubernetesVersion,
      interlink: packageVersion(),
    },
    outcome,
    milestones: { createdAll, ...ms, deleteStarted, backendEmpty, eventsWritten },
    deleteSeconds,
    latencySeconds: latenciesOf(records),
    runningFromStartedAt: records.filter((r) => r.runningFromStartedAt).length,
    throughput: {
      createPerSecond: rate(outcome.created, createdAll ?? 0),
      scheduledPerSecond: rate(expected, ms.scheduledAll ?? 0),
      runningPerSecond: rate(expected, ms.runningAll ?? 0),
      finishedPerSecond: rate(expected, ms.finishedAll ?? 0),
      runningSustainedPerSecond: sustainedRate(
        records.map((r) => r.running).filter((t): t is number => t !== undefined),
        expected,
      ),
      deletedPerSecond: rate(outcome.deleted, deleteSeconds ?? 0),
    },
    host: {
      loadAverage1m,
      busyCpuSeconds: hostAfter && hostBefore ? r2(hostAfter.busySeconds - hostBefore.busySeconds) : 0,
      capacityCpuSeconds: hostAfter && hostBefore ? r2(hostAfter.totalSeconds - hostBefore.totalSeconds) : 0,
      measuredCpuSeconds: r2(
        sampler.names().reduce((sum, n) => sum + (sampler.figures(n)?.cpuSeconds ?? 0), 0),
      ),
    },
    heapUsedPeakMiB: heapPeak,
    vkInternals: vkInternalsOf(before?.vk ?? [], after?.vk ?? before?.vk ?? [], queueDepthPeak),
    pluginOps: pluginOpsOf(before?.plugin ?? [], after?.plugin ?? before?.plugin ?? []),
    backendCommands: backendCommandsOf(before?.plugin ?? [], after?.plugin ?? before?.plugin ?? []),
    resources: {
      vk: sampler.figures('vk'),
      api: sampler.figures('api'),
      plugin: sampler.figures('plugin'),
      bench: sampler.figures('bench'),
      apiserver: sampler.figures('apiserver'),
      etcd: sampler.figures('etcd'),
      scheduler: sampler.figures('scheduler'),
      controllerManager: sampler.figures('controllerManager'),
    },
    ...req,
    profiles,
    baseline: null,
    files: {
      json: shown(paths.json),
      raw: shown(paths.raw),
      svg: shown(paths.svg),
      logs: keepLogs ? dir : null,
    },
  };
  const raw: BenchRaw = {
    schema: 'interlink-bench-raw/1',
    startedAt: result.startedAt,
    summary: basename(paths.json),
    timeline: { intervalSeconds: TIMELINE_INTERVAL_MS / 1000, samples: timeline },
    pods: records.map(podSample),
  };
  if (!keepLogs) rmSync(dir, { recursive: true, force: true });
  const procs: Burst['procs'] = {};
  for (const name of sampler.names()) procs[name] = sampler.figures(name);
  return { result, raw, procs };
}
