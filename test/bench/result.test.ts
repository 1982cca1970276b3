import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type BenchRaw,
  BenchResultV1,
  BenchSummary,
  formatJson,
  readRaw,
  readSummary,
  runFiles,
  splitV1,
  writeRun,
} from '../../bench/lib/result.ts';

const repo = join(import.meta.dirname, '..', '..');
const resultsDir = join(repo, 'bench', 'results');

/** Every committed summary (the mock plugin's micro-benchmark has its own shape). */
function committedSummaries(dir = resultsDir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return committedSummaries(p);
    return /^\d{4}-\d{2}-\d{2}-.*\.json$/.test(e.name) ? [p] : [];
  });
}

describe('formatJson', () => {
  it.each([
    ['a number', 1.5, '1.5'],
    ['a string', 'a"b', '"a\\"b"'],
    ['null', null, 'null'],
    ['an empty object', {}, '{}'],
    ['an empty array', [], '[]'],
    [
      'a short object, spaced on one line',
      { a: 1, b: [1, 2], c: null },
      '{ "a": 1, "b": [1, 2], "c": null }',
    ],
    ['an undefined field, left out', { a: 1, b: undefined }, '{ "a": 1 }'],
  ])('%s', (_, value, want) => {
    expect(formatJson(value)).toBe(`${want}\n`);
  });

  it('breaks what does not fit, and keeps inner objects that fit on one line', () => {
    const value = {
      latency: { p50: 1.25, p99: 9.5 },
      list: [
        { verb: 'PATCH', count: 3977 },
        { verb: 'POST', count: 1 },
      ],
    };
    expect(formatJson(value, 40)).toBe(
      [
        '{',
        '  "latency": { "p50": 1.25, "p99": 9.5 },',
        '  "list": [',
        '    { "verb": "PATCH", "count": 3977 },',
        '    { "verb": "POST", "count": 1 }',
        '  ]',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('round-trips every committed summary and keeps each line within the width', () => {
    for (const file of committedSummaries()) {
      const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      const text = formatJson(value, 120);
      expect(JSON.parse(text), file).toEqual(value);
      for (const line of text.split('\n')) {
        // A line longer than the width is only a leaf that cannot be broken further.
        if (line.length > 120)
          expect(line.trimEnd().endsWith('{') || line.trimEnd().endsWith('['), line).toBe(false);
      }
    }
  });
});

describe('committed results', () => {
  const files = committedSummaries();
  it('are there (docs/performance.md quotes them)', () => {
    expect(files.map((f) => relative(repo, f))).toContain('bench/results/2026-11-28-1000.json');
    expect(files.length).toBeGreaterThanOrEqual(14);
  });
  it.each(files.map((f) => [relative(repo, f), f]))('%s is a small summary in the file format', (_, file) => {
    const text = readFileSync(file, 'utf8');
    const summary = BenchSummary.parse(JSON.parse(text));
    expect(text).toBe(formatJson(summary));
    // ~300 lines; a KWOK baseline adds its own apiserver requests by verb and resource.
    expect(text.split('\n').length).toBeLessThan(summary.baseline ? 400 : 320);
    expect(summary.files.json).toBe(relative(repo, file));
  });
  it('have no raw samples in git: .gitignore keeps them out, summaries and charts in', () => {
    const ignored = (p: string) => {
      try {
        execFileSync('git', ['check-ignore', '-q', p], { cwd: repo });
        return true;
      } catch {
        return false;
      }
    };
    expect(ignored('bench/results/2026-12-04-100.raw.json.gz')).toBe(true);
    expect(ignored('bench/results/variants/x/2026-12-04-1000.raw.json.gz')).toBe(true);
    expect(ignored('bench/results/2026-12-04-100.json')).toBe(false);
    expect(ignored('bench/results/2026-12-04-100.svg')).toBe(false);
  });
});

describe('writeRun', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-result-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const zero = { unscheduled: 0, scheduled: 0, running: 0, succeeded: 0, failed: 0, deleted: 0 };
  const paths = runFiles(dir, '2026-12-04-2');
  const summary: BenchSummary = {
    ...readSummary(join(resultsDir, '2026-11-28-100.json')),
    files: { json: paths.json, raw: paths.raw, svg: paths.svg, logs: null },
  };
  const raw: BenchRaw = {
    schema: 'interlink-bench-raw/1',
    startedAt: summary.startedAt,
    summary: '2026-12-04-2.json',
    timeline: {
      intervalSeconds: 0.5,
      samples: [
        { t: 0, ...zero, unscheduled: 2 },
        { t: 0.5, ...zero, running: 2 },
        { t: 1, ...zero, deleted: 2 },
      ],
    },
    pods: [
      {
        name: 'bench-0',
        created: 0,
        scheduled: 0.2,
        running: 0.4,
        runningFromStartedAt: false,
        reported: 0.4,
        finished: 0.8,
        deleted: 1,
        phase: 'Succeeded',
      },
      {
        name: 'bench-1',
        created: 0,
        scheduled: null,
        running: null,
        runningFromStartedAt: false,
        reported: null,
        finished: null,
        deleted: null,
        phase: 'Pending',
      },
    ],
  };
  writeRun(paths, summary, raw);

  it('writes <base>.json, <base>.raw.json.gz and <base>.svg', () => {
    expect(readdirSync(dir).sort()).toEqual([
      '2026-12-04-2.json',
      '2026-12-04-2.raw.json.gz',
      '2026-12-04-2.svg',
    ]);
    expect(readFileSync(paths.svg, 'utf8')).toMatch(/^<svg [\s\S]*<\/svg>\n$/);
  });
  it('keeps the figures in the summary and the samples out of it', () => {
    const text = readFileSync(paths.json, 'utf8');
    expect(readSummary(paths.json)).toEqual(summary);
    expect(text).not.toContain('timeline');
    expect(text).not.toContain('bench-0');
  });
  it('gzips the raw samples, which read back whole', () => {
    const bytes = readFileSync(paths.raw);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    expect(JSON.parse(gunzipSync(bytes).toString('utf8'))).toEqual(raw);
    expect(readRaw(paths.raw)).toEqual(raw);
  });
  it('refuses a summary that drifted from its schema, before writing anything', () => {
    const other = runFiles(dir, 'drift');
    const bad = { ...summary, extra: 1 } as BenchSummary;
    expect(() => writeRun(other, bad, raw)).toThrow();
    expect(readdirSync(dir).some((f) => f.startsWith('drift'))).toBe(false);
  });
});

describe('splitV1', () => {
  const summary = readSummary(join(resultsDir, '2026-11-28-100.json'));
  const { files, schema: _, ...figures } = summary;
  const samples = [{ t: 0, unscheduled: 1, scheduled: 0, running: 0, succeeded: 0, failed: 0, deleted: 0 }];
  const v1 = BenchResultV1.parse({
    ...figures,
    schema: 'interlink-bench/1',
    timeline: { intervalSeconds: 0.5, samples },
    files: { json: 'bench/results/old.json', svg: 'bench/results/old.svg', logs: '/tmp/x' },
  });
  const split = splitV1(v1);
  it('keeps every figure in the summary, says the raw samples are not kept beside it', () => {
    expect(split.summary).toEqual({
      ...summary,
      files: { json: 'bench/results/old.json', raw: null, svg: 'bench/results/old.svg', logs: null },
    });
  });
  it('moves the timeline to the raw samples (no per-pod samples in schema 1)', () => {
    expect(split.raw).toEqual({
      schema: 'interlink-bench-raw/1',
      startedAt: summary.startedAt,
      summary: 'old.json',
      timeline: { intervalSeconds: 0.5, samples },
      pods: [],
    });
  });
});
