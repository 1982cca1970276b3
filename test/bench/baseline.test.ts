import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Baseline,
  baselineOf,
  CHECKED,
  compareToBaseline,
  figureOf,
  renderVerdicts,
} from '../../bench/lib/baseline.ts';
import { type BenchSummary, readSummary } from '../../bench/lib/result.ts';

const run100 = readSummary(join(import.meta.dirname, '..', '..', 'bench', 'results', '2026-11-28-100.json'));

/** A copy of the 100-pod run with one figure set (dotted path). */
function withFigure(s: BenchSummary, path: string, value: unknown): BenchSummary {
  const copy = structuredClone(s) as unknown as Record<string, unknown>;
  const keys = path.split('.');
  let o = copy;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys.at(-1)!] = value;
  return copy as unknown as BenchSummary;
}

describe('figureOf', () => {
  it.each([
    ['latencySeconds.running.p99', 1.986],
    ['resources.vk.peakRssMiB', run100.resources.vk!.peakRssMiB],
    ['requests.vkToApi.perPod', 2.04],
    ['no.such.path', null],
    ['options.plugin', null],
  ])('%s → %s', (path, want) => {
    expect(figureOf(run100, path)).toBe(want);
  });
  it('is null for a process that was not measured', () => {
    expect(figureOf(withFigure(run100, 'resources.vk', null), 'resources.vk.peakRssMiB')).toBeNull();
  });
});

describe('baselineOf', () => {
  const b = baselineOf(run100);
  it('holds every checked figure of the run and the options it is valid for', () => {
    expect(Object.keys(b.figures)).toEqual(CHECKED.map((f) => f.path));
    expect(b.figures['latencySeconds.running.p50']).toBe(run100.latencySeconds.running.p50);
    expect(b.options).toEqual({ pods: 100, plugin: 'mock', runTimeSeconds: 5, statusIntervalSeconds: 2 });
    expect(b.measuredAt).toBe(run100.startedAt);
    expect(b.machine).toMatch(/^2 CPUs .*Kubernetes v1\.37\.2, load average 6\.56 at start$/);
  });
  it('passes its own run', () => {
    const { verdicts, failures } = compareToBaseline(run100, b);
    expect(failures).toEqual([]);
    expect(verdicts.every((v) => v.status === 'ok')).toBe(true);
  });
});

describe('compareToBaseline', () => {
  const base: Baseline = {
    ...baselineOf(run100),
    figures: {
      'latencySeconds.running.p50': 2,
      'resources.vk.peakRssMiB': 300,
      'requests.vkToApi.perPod': 2,
      deleteSeconds: 0.8,
    },
  };
  const verdictOf = (s: BenchSummary, path: string) =>
    compareToBaseline(s, base).verdicts.find((v) => v.path === path)!;

  it.each<[string, string, number, 'ok' | 'worse', number]>([
    // limit = max(2 × baseline, baseline + slack)
    ['at twice the baseline', 'resources.vk.peakRssMiB', 600, 'ok', 600],
    ['just over twice the baseline', 'resources.vk.peakRssMiB', 600.1, 'worse', 600],
    ['better than the baseline', 'resources.vk.peakRssMiB', 100, 'ok', 600],
    ['a small time within baseline + slack (3 s)', 'deleteSeconds', 3.8, 'ok', 3.8],
    ['a small time over baseline + slack', 'deleteSeconds', 3.81, 'worse', 3.8],
    ['a latency at baseline + slack', 'latencySeconds.running.p50', 5, 'ok', 5],
    ['one /status per pod: requests per pod far over', 'requests.vkToApi.perPod', 12, 'worse', 4],
  ])('%s', (_, path, value, status, limit) => {
    const v = verdictOf(withFigure(run100, path, value), path);
    expect(v).toMatchObject({ value, status, limit, baseline: base.figures[path] });
    const { failures } = compareToBaseline(withFigure(run100, path, value), base);
    expect(failures.some((f) => f.startsWith(`${v.label}:`))).toBe(status === 'worse');
  });

  it('fails on a figure that was not measured', () => {
    const s = withFigure(run100, 'resources.vk', null);
    expect(verdictOf(s, 'resources.vk.peakRssMiB').status).toBe('missing');
    expect(compareToBaseline(s, base).failures).toEqual(['VK peak RSS (MiB): not measured']);
  });

  it('shows a figure without a baseline as new, without failing', () => {
    const v = verdictOf(run100, 'vkInternals.reconciles');
    expect(v).toMatchObject({ status: 'new', baseline: null, limit: null, value: 753 });
  });

  it('fails an incomplete run, with its error', () => {
    const s = withFigure(run100, 'outcome', {
      ...run100.outcome,
      complete: false,
      error: 'timed out after 210 s',
    });
    expect(compareToBaseline(s, base).failures).toEqual(['the run was incomplete: timed out after 210 s']);
  });

  it('fails a run made with other options: not comparable', () => {
    const s = withFigure(run100, 'options.pods', 30);
    expect(compareToBaseline(s, base).failures).toEqual([
      'option pods is 30, the baseline was measured with 100: not comparable',
    ]);
  });
});

describe('renderVerdicts', () => {
  it('prints one aligned row per figure with its status', () => {
    const text = renderVerdicts([
      { path: 'a', label: 'VK peak RSS (MiB)', value: 700, baseline: 300, limit: 600, status: 'worse' },
      { path: 'b', label: 'delete all (s)', value: 1, baseline: 0.8, limit: 3.8, status: 'ok' },
      { path: 'c', label: 'VK reconciles', value: 746, baseline: null, limit: null, status: 'new' },
      { path: 'd', label: 'x', value: null, baseline: 1, limit: 3, status: 'missing' },
    ]);
    expect(text.split('\n')).toEqual([
      'figure             now  baseline  limit',
      '-----------------  ---  --------  -----  -----------------',
      'VK peak RSS (MiB)  700       300    600  WORSE',
      'delete all (s)       1       0.8    3.8  ok',
      'VK reconciles      746         —      —  new (no baseline)',
      'x                    —         1      3  MISSING',
    ]);
  });
});
