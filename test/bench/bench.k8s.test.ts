/**
 * The benchmark itself works: `npm run bench` (bench/run.ts) against the shared control
 * plane with 30 pods runs the whole chain as child processes, cleans up after itself and
 * writes a summary and gzipped raw samples that match their documented schemas, with figures
 * that add up; with `--baseline kwok` it then runs the same burst against a KWOK node (built
 * by scripts/kwok/build.sh, cached; .ci/run builds it beforehand) and adds KWOK's figures.
 * No timing is asserted: only that each figure exists, has the right type and is consistent.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BenchRaw, BenchSummary, readRaw } from '../../bench/lib/result.ts';
import { heapFlags } from '../../src/cli/heap-limits.ts';
import { isAlive } from '../../src/devcluster/process.ts';

const run = promisify(execFile);
const N = 30;
const repo = join(import.meta.dirname, '..', '..');

describe(`npm run bench -- --pods ${N} --baseline kwok`, () => {
  let out: string;
  let stdout: string;
  let result: BenchSummary;
  let json: Record<string, unknown>;
  let raw: BenchRaw;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'bench-test-'));
    // Built once per machine (minutes), outside the benchmark's own timeout.
    await run('bash', ['scripts/kwok/build.sh'], { cwd: repo, timeout: 1_500_000 });
    const child = await run(
      process.execPath,
      [
        'bench/run.ts',
        '--pods',
        String(N),
        '--kubeconfig',
        inject('kubeconfig'),
        '--out',
        out,
        '--run-time',
        '2s',
        '--progress',
        '0',
        '--baseline',
        'kwok',
      ],
      { cwd: repo, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 },
    ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`bench failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
    });
    stdout = child.stdout;
    const file = readdirSync(out).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`no result in ${out}: ${readdirSync(out).join(', ')}\n${child.stderr}`);
    json = JSON.parse(readFileSync(join(out, file), 'utf8')) as Record<string, unknown>;
    result = BenchSummary.parse(json);
    raw = readRaw(join(out, file.replace(/\.json$/, '.raw.json.gz')));
  }, 1_700_000);

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('writes the summary <date>-<N>.json, the raw samples and an SVG chart beside it', () => {
    const files = readdirSync(out).sort();
    expect(files).toHaveLength(3);
    expect(files[0]).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2}-${N}\\.json$`));
    expect(files[1]).toBe(files[0]!.replace(/\.json$/, '.raw.json.gz'));
    expect(files[2]).toBe(files[0]!.replace(/\.json$/, '.svg'));
    const svg = readFileSync(join(out, files[2]!), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('</svg>');
    expect(svg).not.toMatch(/NaN|undefined/);
    expect(result.files.json).toBe(join(out, files[0]!));
    expect(result.files.raw).toBe(join(out, files[1]!));
    expect(raw.summary).toBe(files[0]);
    expect(raw.startedAt).toBe(result.startedAt);
  });

  it('has every documented field (the schema is strict: no extra, none missing)', () => {
    const keys = Object.keys(BenchSummary.shape).sort();
    expect(Object.keys(json).sort()).toEqual(keys);
    expect(result.options).toMatchObject({
      pods: N,
      plugin: 'mock',
      concurrency: 50,
      job: false,
      cluster: 'kubeconfig',
      baseline: 'kwok',
    });
    // The children ran from src/ with the heap limits they ship with (src/cli/heap-limits.ts).
    expect(result.options.dist).toBe(false);
    expect(result.options.nodeOptions).toEqual({
      vk: heapFlags('vk'),
      api: heapFlags('api'),
      plugin: heapFlags('plugin'),
    });
    expect(result.machine.kubernetes).toMatch(/^v1\.\d+\.\d+/);
    expect(result.machine.node).toBe(process.version);
  });

  it('ran every pod through the chain and deleted it', () => {
    expect(result.outcome).toEqual({
      created: N,
      scheduled: N,
      running: N,
      succeeded: N,
      failed: 0,
      deleted: N,
      createErrors: 0,
      complete: true,
      timedOut: false,
      error: null,
    });
    expect(result.files.logs).toBeNull();
  });

  it('has consistent latencies and milestones', () => {
    const l = result.latencySeconds;
    for (const s of [l.scheduled, l.running, l.reported, l.succeeded]) {
      expect(s.count).toBe(N);
      expect(s.p50).toBeLessThanOrEqual(s.p90);
      expect(s.p90).toBeLessThanOrEqual(s.p99);
      expect(s.p99).toBeLessThanOrEqual(s.max);
    }
    // A pod is scheduled before it runs, and runs before it succeeds.
    expect(l.scheduled.max).toBeLessThanOrEqual(l.running.max);
    expect(l.running.p50).toBeLessThanOrEqual(l.reported.p50);
    expect(l.reported.p50).toBeLessThanOrEqual(l.succeeded.p50);
    const m = result.milestones;
    const order = [
      m.scheduledAll,
      m.runningAll,
      m.reportedAll,
      m.finishedAll,
      m.deleteStarted,
      m.deletedAll,
      m.backendEmpty,
    ];
    expect(m.createdAll).toBeTypeOf('number');
    for (const t of order) expect(t).toBeTypeOf('number');
    for (let i = 1; i < order.length; i++) expect(order[i]!).toBeGreaterThanOrEqual(order[i - 1]!);
    expect(result.deleteSeconds).toBeCloseTo(m.deletedAll! - m.deleteStarted!, 2);
    expect(result.throughput.runningPerSecond).toBeGreaterThan(0);
    expect(raw.timeline.samples.length).toBeGreaterThan(1);
    expect(raw.timeline.samples.at(-1)).toMatchObject({ deleted: N, running: 0 });
  });

  it("keeps each pod's own times in the raw samples, which the latencies come from", () => {
    expect(raw.pods).toHaveLength(N);
    for (const p of raw.pods) {
      expect(p.phase).toBe('Succeeded');
      for (const t of [p.scheduled, p.running, p.reported, p.finished, p.deleted])
        expect(t).toBeTypeOf('number');
      expect(p.created).toBeLessThanOrEqual(p.scheduled!);
      expect(p.scheduled!).toBeLessThanOrEqual(p.running!);
      expect(p.running!).toBeLessThanOrEqual(p.finished!);
      expect(p.finished!).toBeLessThanOrEqual(p.deleted!);
    }
    const slowest = Math.max(...raw.pods.map((p) => p.running! - p.created));
    expect(result.latencySeconds.running.max).toBeCloseTo(slowest, 2);
  });

  it('counts the requests of each hop per pod', () => {
    const q = result.requests;
    // Exactly one create and one delete per pod on both hops (the mock counts calls too).
    expect(q.vkToApi.byRoute['POST /create']).toBe(N);
    expect(q.apiToPlugin.byRoute['POST /create']).toBe(N);
    expect((q.vkToApi.byRoute['DELETE /delete'] ?? 0) + (q.vkToApi.byRoute['POST /delete'] ?? 0)).toBe(N);
    expect(q.vkToApi.byRoute['GET /status']).toBeGreaterThan(0);
    expect(q.vkToApi.perPod).toBeCloseTo(q.vkToApi.total / N, 2);
    expect(Object.keys(q.vkToApi.byRoute)).not.toContain('GET /metrics');
    expect(q.statusCallsPerPollInterval).toBeGreaterThan(0);
    const apiserver = (verb: string, resource: string, sub = '') =>
      q.apiserver.byVerbResource.find(
        (e) => e.verb === verb && e.resource === resource && e.subresource === sub,
      );
    expect(apiserver('POST', 'pods')?.count).toBeGreaterThanOrEqual(N);
    expect(apiserver('POST', 'pods', 'binding')?.count).toBeGreaterThanOrEqual(N);
    expect(
      apiserver('PATCH', 'pods', 'status')?.count ?? apiserver('UPDATE', 'pods', 'status')?.count,
    ).toBeGreaterThan(0);
    expect(q.apiserver.total).toBe(q.apiserver.byVerbResource.reduce((s, e) => s + e.count, 0));
    // Each pod's status was written at least once (Running or Succeeded), by the VK.
    expect(result.statusWrites.apiserverPerPod).toBeGreaterThanOrEqual(1);
    expect(result.statusWrites.vkPerPod).toBeGreaterThanOrEqual(1);
  });

  it('measured the three processes, which are gone now', () => {
    for (const name of ['vk', 'api', 'plugin'] as const) {
      const f = result.resources[name]!;
      expect(f, name).not.toBeNull();
      expect(f.peakRssMiB).toBeGreaterThan(20);
      expect(f.cpuSecondsTotal).toBeGreaterThan(0);
      expect(isAlive(f.pid), `${name} pid ${f.pid} still alive`).toBe(false);
      expect(result.heapUsedPeakMiB[name]).toBeGreaterThan(1);
    }
    // The shared cluster is a devcluster: its cluster.json gives the control plane's pids.
    expect(result.resources.apiserver?.peakRssMiB).toBeGreaterThan(20);
    // Every pod was reconciled at least for its create and its delete.
    expect(result.vkInternals.reconciles).toBeGreaterThanOrEqual(2 * N);
    expect(result.vkInternals.reconcileMeanMs).toBeGreaterThan(0);
    expect(result.vkInternals.statusRoundTrips).toBeGreaterThan(0);
    expect(result.vkInternals.queueDepthPeak).toBeTypeOf('number');
    expect(result.host.capacityCpuSeconds).toBeGreaterThan(0);
    expect(result.host.measuredCpuSeconds).toBeGreaterThan(0);
  });

  it('ran the same burst against KWOK on the same control plane, and divides by its figures', () => {
    const b = result.baseline!;
    expect(b).toMatchObject({ agent: 'kwok', version: '0.7.0' });
    expect(b.outcome).toEqual({ ...result.outcome });
    expect(b.latencySeconds.running.count).toBe(N);
    expect(b.startedAt > result.startedAt).toBe(true);
    // KWOK writes each pod's status itself: Running, then Succeeded.
    expect(b.statusWritesPerPod).toBeGreaterThanOrEqual(2);
    const binding = b.requests.apiserver.byVerbResource.find(
      (e) => e.verb === 'POST' && e.resource === 'pods' && e.subresource === 'binding',
    );
    // The apiserver's counters are cluster-wide, and the test cluster is shared: test files
    // running beside this one bind their own pods in the same window (as in the hop above).
    expect(binding?.count).toBeGreaterThanOrEqual(N);
    expect(b.resources.kwok?.cpuSecondsTotal).toBeGreaterThan(0);
    expect(isAlive(b.resources.kwok!.pid)).toBe(false);
    expect(b.ratios.runningAll).toBeCloseTo(result.milestones.runningAll! / b.milestones.runningAll!, 1);
    expect(b.ratios.apiserverRequestsPerPod).toBeCloseTo(
      result.requests.apiserver.perPod / b.requests.apiserver.perPod,
      1,
    );
    expect(b.ours.agentPeakRssMiB).toBeCloseTo(
      result.resources.vk!.peakRssMiB +
        result.resources.api!.peakRssMiB +
        result.resources.plugin!.peakRssMiB,
      0,
    );
    expect(stdout).toMatch(/baseline: KWOK v0\.7\.0/);
    expect(stdout).toMatch(/all Running \(started\) +[\d.]+ s +[\d.]+ s +[\d.]+×/);
  });

  it('prints the report and leaves nothing in the cluster', async () => {
    expect(stdout).toContain('outcome: COMPLETE');
    expect(stdout).toMatch(/create → Running/);
    const kc = new KubeConfig();
    kc.loadFromFile(inject('kubeconfig'));
    const core = kc.makeApiClient(CoreV1Api);
    const nodes = await core.listNode();
    expect(nodes.items.filter((n) => /^(bench|kwok)-/.test(n.metadata?.name ?? ''))).toEqual([]);
    const ns = await core.listNamespace();
    const left = ns.items.filter(
      (n) => n.metadata?.name?.startsWith('bench-') && !n.metadata.deletionTimestamp,
    );
    expect(left).toEqual([]);
  });
});
