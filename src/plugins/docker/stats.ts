/**
 * `stats` of the docker plugin: real CPU and memory of every running container of this plugin
 * instance, in TWO docker calls per collection whatever the number of pods — one `docker ps`
 * (the pod labels of the running containers) and one batched `docker stats --no-stream`.
 *
 * `docker stats` reports a CPU *rate* (CPUPerc, in % of one core) and the working set
 * (MemUsage: usage minus inactive file cache, as the kubelet computes it); the kubelet
 * summary wants a cumulative `usageCoreNanoSeconds`. The plugin integrates the rate between
 * collections (`CpuIntegrator`): the counter starts at 0 when a container is first seen and
 * is monotonic, so the rate metrics-server derives from two scrapes is the rate docker
 * measured. Works with a remote DOCKER_HOST (no cgroup files needed).
 *
 * Parsing and summary building are pure; tested by tables.
 */

import type { ContainerStats, StatsSummary } from '../../wire/stats.ts';
import type { DockerCli } from './cli.ts';
import { LABEL } from './names.ts';

const PS_FIELDS = [LABEL.podUid, LABEL.podNamespace, LABEL.podName, LABEL.containerName, LABEL.role] as const;

/** `docker ps` of the running containers of `instance`: id, created-at, then the pod labels. Pure. */
export function runningArgs(instance: string): string[] {
  const format = ['{{.ID}}', '{{.CreatedAt}}', ...PS_FIELDS.map((l) => `{{.Label "${l}"}}`)].join('\t');
  return [
    'ps',
    '--no-trunc',
    '--filter',
    `label=${LABEL.instance}=${instance}`,
    '--filter',
    'status=running',
    '--format',
    format,
  ];
}

/** One batched `docker stats` sample of `ids` (full ids: never options). Pure. */
export function statsArgs(ids: string[]): string[] {
  return ['stats', '--no-stream', '--no-trunc', '--format', '{{json .}}', '--', ...ids];
}

export interface RunningContainer {
  id: string;
  /** ms since the epoch, when Docker's CreatedAt parsed. */
  createdAt?: number;
  uid: string;
  namespace: string;
  pod: string;
  container: string;
  role: string;
}

/** Docker's `2026-12-04 06:10:03 +0000 UTC` → ms, or undefined. */
export function parseDockerTime(text: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)/.exec(text.trim());
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`);
  return Number.isFinite(t) ? t : undefined;
}

/** `runningArgs` output → containers; lines without a full pod identity are skipped. Pure. */
export function parseRunning(stdout: string): RunningContainer[] {
  const out: RunningContainer[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const [id, created, uid, namespace, pod, container, role] = line.split('\t').map((s) => s.trim());
    if (!id || !/^[0-9a-f]{12,64}$/.test(id) || !uid || !namespace || !pod || !container || !role) continue;
    const createdAt = parseDockerTime(created ?? '');
    out.push({ id, uid, namespace, pod, container, role, ...(createdAt === undefined ? {} : { createdAt }) });
  }
  return out;
}

const UNITS: Record<string, number> = {
  B: 1,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
};

/** `216KiB`, `1.5GiB`, `0B`, `12.3MB` → bytes (rounded), or undefined. Pure. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toUpperCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

export interface ContainerSample {
  id: string;
  /** CPU in cores (CPUPerc / 100; 2 busy cores = 2). */
  cores: number;
  workingSetBytes: number;
}

/** `docker stats --format '{{json .}}'` output → samples; malformed lines are skipped. Pure. */
export function parseStats(stdout: string): ContainerSample[] {
  const out: ContainerSample[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    let doc: { ID?: unknown; CPUPerc?: unknown; MemUsage?: unknown };
    try {
      doc = JSON.parse(line) as typeof doc;
    } catch {
      continue;
    }
    if (typeof doc.ID !== 'string' || typeof doc.CPUPerc !== 'string' || typeof doc.MemUsage !== 'string')
      continue;
    const perc = /^\s*([0-9]+(?:\.[0-9]+)?)%\s*$/.exec(doc.CPUPerc);
    const mem = parseSize(doc.MemUsage.split('/')[0] ?? '');
    if (!perc || mem === undefined) continue;
    out.push({ id: doc.ID, cores: Number(perc[1]) / 100, workingSetBytes: mem });
  }
  return out;
}

/**
 * Cumulative CPU counters from rate samples: each `observe` adds rate × time since the key's
 * previous observation. A key not observed in a collection is forgotten by `retain`.
 * Time comes from the caller (an injected clock). Not thread-safe: one collection at a time.
 */
export class CpuIntegrator {
  readonly #last = new Map<string, { at: number; total: number }>();

  /** The counter of `key` in core-nanoseconds after a `cores` sample at `atMs`. */
  observe(key: string, cores: number, atMs: number): number {
    const prev = this.#last.get(key);
    const total = prev ? prev.total + Math.max(0, atMs - prev.at) * 1e6 * cores : 0;
    this.#last.set(key, { at: Math.max(atMs, prev?.at ?? atMs), total });
    return Math.round(total);
  }

  /** Forget every key not in `keep`. */
  retain(keep: Set<string>): void {
    for (const k of this.#last.keys()) if (!keep.has(k)) this.#last.delete(k);
  }
}

const NODE_KEY = '\0node';

type Usage = {
  time: string;
  usageNanoCores: number;
  usageCoreNanoSeconds: number;
};

/**
 * The kubelet `/stats/summary` document (stats/v1alpha1) of `running` containers with
 * their `samples`, measured at `atMs`. The infra container counts in its pod's totals but is
 * no container of the pod; containers without a sample are left out. The node's usage is the
 * sum of its pods' (a virtual node uses what its pods use). Updates `cpu`.
 */
export function buildSummary(
  running: RunningContainer[],
  samples: ContainerSample[],
  cpu: CpuIntegrator,
  atMs: number,
  startTime: string,
): StatsSummary {
  const time = new Date(atMs).toISOString();
  const byId = new Map(samples.map((s) => [s.id, s]));
  const usage = (key: string, cores: number): Usage => ({
    time,
    usageNanoCores: Math.round(cores * 1e9),
    usageCoreNanoSeconds: cpu.observe(key, cores, atMs),
  });
  const pods = new Map<
    string,
    { ref: RunningContainer; cores: number; mem: number; containers: ContainerStats[] }
  >();
  let nodeCores = 0;
  let nodeMem = 0;
  const seen = new Set<string>([NODE_KEY]);
  for (const c of running) {
    const s = byId.get(c.id);
    if (!s) continue;
    seen.add(c.id);
    seen.add(`pod\0${c.uid}`);
    const pod = pods.get(c.uid) ?? { ref: c, cores: 0, mem: 0, containers: [] };
    pods.set(c.uid, pod);
    pod.cores += s.cores;
    pod.mem += s.workingSetBytes;
    nodeCores += s.cores;
    nodeMem += s.workingSetBytes;
    if (c.role === 'infra') {
      cpu.observe(c.id, s.cores, atMs);
      continue;
    }
    pod.containers.push({
      name: c.container,
      ...(c.createdAt === undefined ? {} : { startTime: new Date(c.createdAt).toISOString() }),
      cpu: usage(c.id, s.cores),
      memory: { time, workingSetBytes: s.workingSetBytes, usageBytes: s.workingSetBytes },
    });
  }
  cpu.retain(seen);
  return {
    node: {
      startTime,
      cpu: usage(NODE_KEY, nodeCores),
      memory: { time, workingSetBytes: nodeMem, usageBytes: nodeMem },
    },
    pods: [...pods.entries()].map(([uid, p]) => ({
      podRef: { name: p.ref.pod, namespace: p.ref.namespace, uid },
      startTime: new Date(
        Math.min(...running.filter((c) => c.uid === uid).map((c) => c.createdAt ?? atMs)),
      ).toISOString(),
      containers: p.containers,
      cpu: usage(`pod\0${uid}`, p.cores),
      memory: { time, workingSetBytes: p.mem, usageBytes: p.mem },
    })),
  };
}

/**
 * One collection: the running containers, then one `docker stats` of them all. A container
 * that goes away between the two calls fails `docker stats`; the collection is then tried
 * once more with a fresh list.
 */
export async function collectDockerStats(
  cli: DockerCli,
  instance: string,
  cpu: CpuIntegrator,
  now: () => number,
  startTime: string,
): Promise<ReturnType<typeof buildSummary>> {
  for (let attempt = 0; ; attempt++) {
    const running = parseRunning(await cli.check(runningArgs(instance), 'listing running containers'));
    if (running.length === 0) return buildSummary([], [], cpu, now(), startTime);
    try {
      const out = await cli.check(statsArgs(running.map((c) => c.id)), 'docker stats');
      return buildSummary(running, parseStats(out), cpu, now(), startTime);
    } catch (err) {
      if (attempt >= 1) throw err;
    }
  }
}
