/**
 * `npm run bench:idle [-- --seconds 10] [--dist] [--no-heap-limits] [--reuse-cluster |
 * --kubeconfig FILE] [--out DIR] [--name BASE]`:
 * the memory of each process before its first pod. Starts the plugin, the API and the VK
 * exactly as `npm run bench` does (bench/lib/chain.ts: three processes, unix sockets, a
 * token), waits until the VK is ready, lets them idle, then prints and writes per process
 * RSS (now and peak) and the V8 heap in use from its /metrics. The result is the base a
 * per-pod cost adds to (docs/performance.md, Memory).
 *
 * Writes `<out>/<name>.json` (default bench/results/mem/idle-<date>.json). Exit 0 when all three
 * ran, 1 when one failed to start.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { type ChildName, nodeOptions, startChain } from './lib/chain.ts';
import { acquireCluster } from './lib/cluster.ts';
import { ProcSampler } from './lib/procstat.ts';

const log = (line: string) => process.stderr.write(`[bench:idle] ${line}\n`);

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    'reuse-cluster': { type: 'boolean', default: false },
    kubeconfig: { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'mem') },
    'node-options': { type: 'string', multiple: true, default: [] },
    dist: { type: 'boolean', default: false },
    'no-heap-limits': { type: 'boolean', default: false },
    name: { type: 'string', default: `idle-${new Date().toISOString().slice(0, 10)}` },
  },
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds < 0) {
  process.stderr.write('bench:idle: --seconds: not a number of seconds\n');
  process.exit(2);
}

/** `<prefix>_nodejs_heap_size_used_bytes` of a Prometheus text, in MiB (null when absent). */
function heapUsedMiB(text: string): number | null {
  const line = text.split('\n').find((l) => /^\w+_nodejs_heap_size_used_bytes /.test(l));
  return line ? Math.round((Number(line.split(' ')[1]) / 1048576) * 10) / 10 : null;
}

const cluster = await acquireCluster(
  {
    cluster: values['reuse-cluster']
      ? { kind: 'reuse' }
      : values.kubeconfig
        ? { kind: 'kubeconfig', path: values.kubeconfig }
        : { kind: 'start' },
    schedulerQps: undefined,
  },
  log,
);
const dir = await mkdtemp(join(tmpdir(), 'interlink-idle-'));
let code = 0;
try {
  const chain = await startChain({
    dir,
    kubeconfig: cluster.kubeconfig,
    nodeName: `idle-${process.pid}`,
    plugin: 'mock',
    pods: 0,
    statusIntervalMs: 2_000,
    vkNodeOptions: values['node-options'],
    heapLimits: !values['no-heap-limits'],
    dist: values.dist,
    log,
  });
  try {
    const sampler = new ProcSampler();
    for (const [name, pid] of Object.entries(chain.pids)) sampler.track(name, pid);
    for (let t = 0; t < seconds * 2; t++) {
      await sleep(500);
      sampler.sample();
      const dead = chain.deadChild();
      if (dead) throw new Error(dead);
    }
    const scrapes: Record<ChildName, () => Promise<string>> = {
      plugin: chain.scrapePlugin,
      api: chain.scrapeApi,
      vk: chain.scrapeVk,
    };
    const processes: Record<string, unknown> = {};
    for (const name of ['vk', 'api', 'plugin'] as const) {
      const f = sampler.figures(name);
      const heap = heapUsedMiB(await scrapes[name]().catch(() => ''));
      processes[name] = {
        rssMiB: f?.lastRssMiB ?? null,
        peakRssMiB: f?.peakRssMiB ?? null,
        heapUsedMiB: heap,
      };
      log(`${name.padEnd(6)} RSS ${f?.lastRssMiB} MiB (peak ${f?.peakRssMiB}), V8 heap in use ${heap} MiB`);
    }
    const now = new Date();
    const result = {
      schema: 'interlink-bench-idle/1',
      date: now.toISOString(),
      seconds,
      node: process.version,
      dist: values.dist,
      nodeOptions: {
        vk: nodeOptions(
          { heapLimits: !values['no-heap-limits'], vkNodeOptions: values['node-options'] },
          'vk',
        ),
        api: nodeOptions({ heapLimits: !values['no-heap-limits'] }, 'api'),
        plugin: nodeOptions({ heapLimits: !values['no-heap-limits'] }, 'plugin'),
      },
      processes,
    };
    const out = resolve(values.out);
    mkdirSync(out, { recursive: true });
    const file = join(out, `${values.name}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(processes)}\n`);
    log(`wrote ${file}`);
  } finally {
    await chain.stop();
  }
} catch (err) {
  log(`failed: ${(err as Error).message}`);
  code = 1;
} finally {
  await cluster.release();
  await rm(dir, { recursive: true, force: true });
}
process.exit(code);
