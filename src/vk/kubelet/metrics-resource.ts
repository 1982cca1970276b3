/**
 * The kubelet's `/metrics/resource` endpoint (Prometheus text, version 0.0.4), rendered from a
 * stats/v1alpha1 Summary: what metrics-server scrapes for `kubectl top`. Names, help texts and
 * labels follow the kubelet's resource metrics collector (pkg/kubelet/metrics/collectors/
 * resource_metrics.go): cumulative CPU in core-seconds, working-set memory in bytes, container
 * start times, every sample stamped with the time it was measured (ms) — metrics-server needs
 * the stamps to compute a rate from two scrapes. A value the summary lacks is left out, never
 * reported as 0. Pure; tested by tables.
 */

interface CpuStats {
  time?: unknown;
  usageCoreNanoSeconds?: unknown;
}
interface MemoryStats {
  time?: unknown;
  workingSetBytes?: unknown;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: string[];
}

function family(name: string, help: string, type: Family['type']): Family {
  return { name, help: `[STABLE] ${help}`, type, samples: [] };
}

/** Label value escaping of the text format: backslash, double quote, newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: [string, string][]): string {
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** RFC 3339 → ms since the epoch, or undefined. */
function ms(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

/** Go's %g-like formatting is not needed: Prometheus parses any float literal. */
function num(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(15)));
}

function addCpu(f: Family, l: string, cpu: CpuStats | undefined, fallback: number): void {
  if (!cpu || !finite(cpu.usageCoreNanoSeconds)) return;
  f.samples.push(`${f.name}${l} ${num(cpu.usageCoreNanoSeconds / 1e9)} ${ms(cpu.time) ?? fallback}`);
}

function addMemory(f: Family, l: string, mem: MemoryStats | undefined, fallback: number): void {
  if (!mem || !finite(mem.workingSetBytes)) return;
  f.samples.push(`${f.name}${l} ${num(mem.workingSetBytes)} ${ms(mem.time) ?? fallback}`);
}

/**
 * Render `summary` (a stats/v1alpha1 Summary, possibly partial) as `/metrics/resource`.
 * `scrapeError` is true when the summary could not be fetched at all (then only
 * `scrape_error 1` and the empty families are reported). `now` stamps values with no time.
 */
export function renderResourceMetrics(summary: unknown, now: Date, scrapeError = false): string {
  const fallback = now.getTime();
  const nodeCpu = family(
    'node_cpu_usage_seconds_total',
    'Cumulative cpu time consumed by the node in core-seconds',
    'counter',
  );
  const nodeMem = family(
    'node_memory_working_set_bytes',
    'Current working set of the node in bytes',
    'gauge',
  );
  const podCpu = family(
    'pod_cpu_usage_seconds_total',
    'Cumulative cpu time consumed by the pod in core-seconds',
    'counter',
  );
  const podMem = family('pod_memory_working_set_bytes', 'Current working set of the pod in bytes', 'gauge');
  const ctrCpu = family(
    'container_cpu_usage_seconds_total',
    'Cumulative cpu time consumed by the container in core-seconds',
    'counter',
  );
  const ctrMem = family(
    'container_memory_working_set_bytes',
    'Current working set of the container in bytes',
    'gauge',
  );
  const ctrStart = family(
    'container_start_time_seconds',
    'Start time of the container since unix epoch in seconds',
    'gauge',
  );

  const doc = obj(summary);
  const node = obj(doc?.node);
  addCpu(nodeCpu, '', obj(node?.cpu), fallback);
  addMemory(nodeMem, '', obj(node?.memory), fallback);
  for (const p of Array.isArray(doc?.pods) ? doc.pods : []) {
    const pod = obj(p);
    const ref = obj(pod?.podRef);
    if (typeof ref?.name !== 'string' || typeof ref.namespace !== 'string') continue;
    const podLabels: [string, string][] = [
      ['namespace', ref.namespace],
      ['pod', ref.name],
    ];
    addCpu(podCpu, labels(podLabels), obj(pod?.cpu), fallback);
    addMemory(podMem, labels(podLabels), obj(pod?.memory), fallback);
    for (const c of Array.isArray(pod?.containers) ? pod.containers : []) {
      const ctr = obj(c);
      if (typeof ctr?.name !== 'string') continue;
      const l = labels([['container', ctr.name], ...podLabels]);
      addCpu(ctrCpu, l, obj(ctr.cpu), fallback);
      addMemory(ctrMem, l, obj(ctr.memory), fallback);
      const started = ms(ctr.startTime);
      if (started !== undefined)
        ctrStart.samples.push(`${ctrStart.name}${l} ${num(started / 1000)} ${started}`);
    }
  }
  const scrape = family(
    'scrape_error',
    '1 if there was an error while getting container metrics, 0 otherwise',
    'gauge',
  );
  scrape.help = scrape.help.replace('[STABLE]', '[ALPHA]');
  scrape.samples.push(`scrape_error ${scrapeError ? 1 : 0}`);

  const out: string[] = [];
  for (const f of [ctrCpu, ctrMem, ctrStart, nodeCpu, nodeMem, podCpu, podMem, scrape]) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.samples);
  }
  return `${out.join('\n')}\n`;
}
