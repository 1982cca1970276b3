import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type Burst, kwokBaseline, ratio, sumProcs } from '../../bench/lib/compare.ts';
import { kwokNode, kwokStages } from '../../bench/lib/kwok.ts';
import { renderReport } from '../../bench/lib/report.ts';
import { BenchSummary, readSummary } from '../../bench/lib/result.ts';
import { VIRTUAL_NODE_TAINT } from '../../bench/lib/workload.ts';

interface StageDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { delay?: unknown; next: { statusTemplate?: string; finalizers?: unknown; delete?: boolean } };
}

const results = join(import.meta.dirname, '..', '..', 'bench', 'results');
const proc = (pid: number, cpuSeconds: number, peakRssMiB: number) => ({
  pid,
  peakRssMiB,
  lastRssMiB: peakRssMiB,
  cpuSeconds,
  cpuSecondsTotal: cpuSeconds,
});
const raw = {
  schema: 'interlink-bench-raw/1' as const,
  startedAt: '',
  summary: '',
  timeline: { intervalSeconds: 0.5, samples: [] },
  pods: [],
};

describe('ratio and sumProcs', () => {
  it.each<[number | null | undefined, number | null | undefined, number | null]>([
    [12.2, 7, 1.74],
    [7, 7, 1],
    [null, 7, null],
    [3, 0, null],
    [3, undefined, null],
  ])('%s / %s = %s', (a, b, want) => {
    expect(ratio(a, b)).toBe(want);
  });

  it('adds CPU seconds and peak RSS of the processes found, null when none', () => {
    const procs = { vk: proc(1, 1.5, 100), api: proc(2, 0.25, 50), plugin: null };
    expect(sumProcs(procs, ['vk', 'api', 'plugin'])).toEqual({ cpuSeconds: 1.75, peakRssMiB: 150 });
    expect(sumProcs(procs, ['kwok'])).toBeNull();
  });
});

describe('kwokBaseline', () => {
  const ours = readSummary(join(results, '2026-11-28-100.json'));
  const theirs: BenchSummary = {
    ...ours,
    milestones: { ...ours.milestones, runningAll: ours.milestones.runningAll! / 2 },
    requests: {
      ...ours.requests,
      apiserver: { ...ours.requests.apiserver, perPod: ours.requests.apiserver.perPod / 4 },
    },
  };
  const o: Burst = {
    result: { ...ours, options: { ...ours.options, baseline: 'kwok' }, baseline: null },
    raw,
    procs: { vk: proc(1, 6, 200), api: proc(2, 3, 100), plugin: proc(3, 1, 80), apiserver: proc(4, 10, 300) },
  };
  const k: Burst = { result: theirs, raw, procs: { kwok: proc(5, 2, 60), apiserver: proc(4, 5, 300) } };
  const b = kwokBaseline(o, k, '0.7.0');

  it('keeps KWOK’s figures and divides ours by them', () => {
    expect(b.version).toBe('0.7.0');
    expect(b.milestones).toEqual(theirs.milestones);
    expect(b.resources.kwok).toEqual(proc(5, 2, 60));
    expect(b.ours).toEqual({ agentCpuSeconds: 10, agentPeakRssMiB: 380, controlPlaneCpuSeconds: 10 });
    expect(b.ratios.runningAll).toBe(2);
    expect(b.ratios.runningP50).toBe(1);
    expect(b.ratios.apiserverRequestsPerPod).toBe(4);
    expect(b.ratios.agentCpuSeconds).toBe(5);
    expect(b.ratios.agentPeakRssMiB).toBe(6.33);
    expect(b.ratios.controlPlaneCpuSeconds).toBe(2);
  });

  it('fits the summary schema, and the report prints the ratio table', () => {
    const summary = BenchSummary.parse({ ...o.result, baseline: b });
    const text = renderReport(summary);
    expect(text).toContain('baseline: KWOK v0.7.0');
    expect(text).toMatch(/all Running \(started\) .* 2\.00×/);
    expect(text).toMatch(/apiserver requests per pod .* 4\.00×/);
  });
});

describe('KWOK configuration', () => {
  it('has pod stages: Running at once, Succeeded after the run time, gone when deleted', () => {
    const docs = parseAllDocuments(kwokStages(2_500)).map((d) => d.toJS() as StageDoc);
    expect(docs.map((d) => d.metadata.name)).toEqual(['pod-ready', 'pod-complete', 'pod-delete']);
    for (const d of docs) expect(d).toMatchObject({ apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Stage' });
    expect(docs[0]!.spec.next.statusTemplate).toContain('phase: Running');
    expect(docs[1]!.spec.delay).toEqual({ durationMilliseconds: 2_500 });
    expect(docs[1]!.spec.next.statusTemplate).toContain('phase: Succeeded');
    expect(docs[2]!.spec.next).toEqual({ finalizers: { empty: true }, delete: true });
  });

  it('makes a node the benchmark’s pods select and tolerate, as the virtual node', () => {
    const n = kwokNode('kwok-abc');
    expect(n.metadata?.labels?.['kubernetes.io/hostname']).toBe('kwok-abc');
    expect(n.spec?.taints).toEqual([{ key: VIRTUAL_NODE_TAINT, effect: 'NoSchedule' }]);
  });
});
