/**
 * The quick benchmark CI runs (`npm run bench:check`, bench/check.ts) against a committed
 * baseline, bench/baseline.json (pure: summary and baseline in, verdicts out; table-tested).
 *
 * It catches accidents, not noise: a figure fails only when it is worse than twice its
 * baseline AND worse than the baseline plus an absolute slack. The slack keeps small
 * figures (a 0.8 s delete of 100 pods, 2 requests per pod) from failing on a busy shared
 * machine, where times easily vary by half; an accident (one /status call per pod instead
 * of one per poll, a status write loop, a leak, a serialised queue) is far beyond both.
 * Every figure checked is "lower is better".
 */
import { z } from 'zod';
import type { BenchSummary } from './result.ts';

export interface CheckedFigure {
  /** Dotted path in the summary (bench/lib/result.ts). */
  path: string;
  label: string;
  /** Absolute headroom on top of the baseline, in the figure's unit. */
  slack: number;
}

/** What the check compares, in the order it prints them. */
export const CHECKED: readonly CheckedFigure[] = [
  { path: 'latencySeconds.running.p50', label: 'create → Running p50 (s)', slack: 3 },
  { path: 'latencySeconds.running.p99', label: 'create → Running p99 (s)', slack: 3 },
  { path: 'latencySeconds.succeeded.p99', label: 'create → Succeeded p99 (s)', slack: 3 },
  { path: 'milestones.runningAll', label: 'all Running (s)', slack: 3 },
  { path: 'deleteSeconds', label: 'delete all (s)', slack: 3 },
  { path: 'resources.vk.peakRssMiB', label: 'VK peak RSS (MiB)', slack: 50 },
  { path: 'resources.api.peakRssMiB', label: 'API peak RSS (MiB)', slack: 50 },
  { path: 'resources.plugin.peakRssMiB', label: 'plugin peak RSS (MiB)', slack: 50 },
  { path: 'resources.vk.cpuSeconds', label: 'VK CPU (s)', slack: 2 },
  { path: 'requests.vkToApi.perPod', label: 'VK → API requests per pod', slack: 0.5 },
  { path: 'requests.apiToPlugin.perPod', label: 'API → plugin requests per pod', slack: 0.5 },
  // First looks (statusFirstLookMs, 250 ms) add up to 2000 / 250 = 8 calls per 2 s interval
  // while pods are being created, more of them the quieter the host; the accident this
  // catches, a /status call per pod, is tens per interval at 100 pods.
  { path: 'requests.statusCallsPerPollInterval', label: 'VK → API /status calls per interval', slack: 8 },
  { path: 'requests.apiserver.perPod', label: 'apiserver requests per pod', slack: 2 },
  { path: 'statusWrites.apiserverPerPod', label: 'pod status writes per pod', slack: 1 },
  { path: 'vkInternals.reconciles', label: 'VK reconciles', slack: 100 },
];

/** The options a baseline holds for: a run with others is not comparable. */
const BaselineOptions = z.strictObject({
  pods: z.number().int().positive(),
  plugin: z.enum(['mock', 'docker', 'slurm']),
  runTimeSeconds: z.number().min(0),
  statusIntervalSeconds: z.number().positive(),
});

export const Baseline = z.strictObject({
  schema: z.literal('interlink-bench-baseline/1'),
  /** When and where it was measured, for the reader (on a shared machine the load says a lot). */
  measuredAt: z.iso.datetime(),
  machine: z.string(),
  options: BaselineOptions,
  figures: z.record(z.string(), z.number().min(0)),
});
export type Baseline = z.infer<typeof Baseline>;

/** The number at a dotted path of the summary; null when absent or not measured. */
export function figureOf(summary: BenchSummary, path: string): number | null {
  let v: unknown = summary;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return null;
    v = (v as Record<string, unknown>)[key];
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function optionsOf(s: BenchSummary): Baseline['options'] {
  const o = s.options;
  return {
    pods: o.pods,
    plugin: o.plugin,
    runTimeSeconds: o.runTimeSeconds,
    statusIntervalSeconds: o.statusIntervalSeconds,
  };
}

/** A new baseline from a complete run. */
export function baselineOf(summary: BenchSummary): Baseline {
  const figures: Record<string, number> = {};
  for (const f of CHECKED) {
    const v = figureOf(summary, f.path);
    if (v !== null) figures[f.path] = v;
  }
  const m = summary.machine;
  return {
    schema: 'interlink-bench-baseline/1',
    measuredAt: summary.startedAt,
    machine:
      `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, node ${m.node}, Kubernetes ${m.kubernetes}, ` +
      `load average ${summary.host.loadAverage1m} at start`,
    options: optionsOf(summary),
    figures,
  };
}

export interface Verdict {
  path: string;
  label: string;
  value: number | null;
  baseline: number | null;
  /** Worst value accepted: max(2 × baseline, baseline + slack); null without a baseline. */
  limit: number | null;
  /** 'ok', 'worse' (over the limit: fails), 'missing' (not measured: fails), 'new' (no baseline yet). */
  status: 'ok' | 'worse' | 'missing' | 'new';
}

export interface CheckOutcome {
  verdicts: Verdict[];
  /** Why the check fails; empty when it passes. */
  failures: string[];
}

const r2 = (n: number) => Math.round(n * 100) / 100;

export function compareToBaseline(summary: BenchSummary, baseline: Baseline): CheckOutcome {
  const failures: string[] = [];
  if (!summary.outcome.complete)
    failures.push(
      `the run was incomplete: ${summary.outcome.error ?? 'not every pod finished and was deleted'}`,
    );
  const got = optionsOf(summary);
  for (const [k, want] of Object.entries(baseline.options)) {
    const have = got[k as keyof typeof got];
    if (have !== want)
      failures.push(`option ${k} is ${have}, the baseline was measured with ${want}: not comparable`);
  }
  const verdicts = CHECKED.map((f): Verdict => {
    const value = figureOf(summary, f.path);
    const base = baseline.figures[f.path] ?? null;
    if (base === null)
      return { path: f.path, label: f.label, value, baseline: null, limit: null, status: 'new' };
    const limit = r2(Math.max(2 * base, base + f.slack));
    const status = value === null ? 'missing' : value > limit ? 'worse' : 'ok';
    if (status === 'missing') failures.push(`${f.label}: not measured`);
    if (status === 'worse') failures.push(`${f.label}: ${value} is over ${limit} (baseline ${base})`);
    return { path: f.path, label: f.label, value, baseline: base, limit, status };
  });
  return { verdicts, failures };
}

const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - s.length));
const lpad = (s: string, n: number) => ' '.repeat(Math.max(0, n - s.length)) + s;

/** The printed table of verdicts. */
export function renderVerdicts(verdicts: readonly Verdict[]): string {
  const head = ['figure', 'now', 'baseline', 'limit', ''];
  const rows = verdicts.map((v) => [
    v.label,
    v.value === null ? '—' : String(v.value),
    v.baseline === null ? '—' : String(v.baseline),
    v.limit === null ? '—' : String(v.limit),
    v.status === 'ok' ? 'ok' : v.status === 'new' ? 'new (no baseline)' : v.status.toUpperCase(),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? pad(c, widths[i]!) : lpad(c, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
