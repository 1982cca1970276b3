/**
 * Our run against the KWOK baseline of the same invocation (pure): KWOK's own figures and the
 * our/KWOK ratios `npm run bench -- --baseline kwok` writes into the summary's `baseline`
 * (schema: bench/lib/result.ts) and the report prints. A ratio above 1 means we are slower,
 * make more requests, or use more; null when either side lacks the figure (or KWOK's is 0).
 */
import type { BenchRaw, BenchSummary, KwokBaseline } from './result.ts';

type Proc = NonNullable<BenchSummary['resources']['vk']>;

/** One burst's figures, before they are written: the summary, raw samples and every sampled process. */
export interface Burst {
  result: BenchSummary;
  raw: BenchRaw;
  procs: Record<string, Proc | null>;
}

const CONTROL_PLANE = ['apiserver', 'etcd', 'scheduler', 'controllerManager'] as const;
const OUR_AGENT = ['vk', 'api', 'plugin'] as const;
const r2 = (n: number) => Math.round(n * 100) / 100;

/** Summed CPU seconds and peak RSS of the named processes; null when none was sampled. */
export function sumProcs(
  procs: Burst['procs'],
  names: readonly string[],
): { cpuSeconds: number; peakRssMiB: number } | null {
  const found = names.map((n) => procs[n]).filter((p): p is Proc => p != null);
  if (found.length === 0) return null;
  return {
    cpuSeconds: r2(found.reduce((s, p) => s + p.cpuSeconds, 0)),
    peakRssMiB: r2(found.reduce((s, p) => s + p.peakRssMiB, 0)),
  };
}

/** ours / theirs, two decimals; null when either is missing or theirs is 0. */
export function ratio(ours: number | null | undefined, theirs: number | null | undefined): number | null {
  if (ours == null || theirs == null || theirs <= 0) return null;
  return r2(ours / theirs);
}

export function kwokBaseline(ours: Burst, kwok: Burst, version: string): KwokBaseline {
  const k = kwok.result;
  const o = ours.result;
  const kwokAgent = sumProcs(kwok.procs, ['kwok']);
  const ourAgent = sumProcs(ours.procs, OUR_AGENT);
  const kwokCp = sumProcs(kwok.procs, CONTROL_PLANE);
  const ourCp = sumProcs(ours.procs, CONTROL_PLANE);
  return {
    agent: 'kwok',
    version,
    startedAt: k.startedAt,
    outcome: k.outcome,
    milestones: k.milestones,
    latencySeconds: {
      scheduled: k.latencySeconds.scheduled,
      running: k.latencySeconds.running,
      reported: k.latencySeconds.reported,
    },
    host: k.host,
    resources: { kwok: kwok.procs.kwok ?? null, controlPlaneCpuSeconds: kwokCp?.cpuSeconds ?? null },
    requests: { apiserver: k.requests.apiserver },
    statusWritesPerPod: k.statusWrites.apiserverPerPod,
    ours: {
      agentCpuSeconds: ourAgent?.cpuSeconds ?? null,
      agentPeakRssMiB: ourAgent?.peakRssMiB ?? null,
      controlPlaneCpuSeconds: ourCp?.cpuSeconds ?? null,
    },
    ratios: {
      runningAll: ratio(o.milestones.runningAll, k.milestones.runningAll),
      reportedAll: ratio(o.milestones.reportedAll, k.milestones.reportedAll),
      runningP50: ratio(o.latencySeconds.running.p50, k.latencySeconds.running.p50),
      runningP99: ratio(o.latencySeconds.running.p99, k.latencySeconds.running.p99),
      reportedP99: ratio(o.latencySeconds.reported.p99, k.latencySeconds.reported.p99),
      apiserverRequestsPerPod: ratio(o.requests.apiserver.perPod, k.requests.apiserver.perPod),
      agentCpuSeconds: ratio(ourAgent?.cpuSeconds, kwokAgent?.cpuSeconds),
      agentPeakRssMiB: ratio(ourAgent?.peakRssMiB, kwokAgent?.peakRssMiB),
      controlPlaneCpuSeconds: ratio(ourCp?.cpuSeconds, kwokCp?.cpuSeconds),
    },
  };
}
