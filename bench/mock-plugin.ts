/**
 * Mock plugin benchmark: latency of one /status call for all pods (1,000 and 10,000 pods),
 * through the plugin SDK over a unix socket with the keep-alive HttpClient, as the API
 * calls it. Prints a table and writes bench/results/mock-plugin-<date>.json.
 *
 *   node bench/mock-plugin.ts [--sizes 1000,10000] [--rounds 20]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HttpClient } from '../src/core/http-client.ts';
import { listenOn } from '../src/core/http-server.ts';
import { silentLogger } from '../src/core/logger.ts';
import { createMockPlugin } from '../src/plugins/mock/plugin.ts';
import { buildPluginApp } from '../src/plugins/sdk/server.ts';
import { CreateStruct, PodStatusList } from '../src/wire/interlink.ts';

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,10000' }, rounds: { type: 'string', default: '20' } },
});
const sizes = values.sizes.split(',').map(Number);
const rounds = Number(values.rounds);

function pod(i: number) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `bench-${i}`,
      namespace: 'bench',
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      labels: { app: 'bench' },
    },
    spec: { containers: [{ name: 'main', image: 'busybox', command: ['sleep', 'infinity'] }] },
  };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round2 = (n: number) => Math.round(n * 100) / 100;

interface Result {
  pods: number;
  createPerSecond: number;
  statusRounds: number;
  statusMs: { min: number; p50: number; p99: number; max: number; mean: number };
  requestBytes: number;
  heapUsedMB: number;
}

async function run(n: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-mock-'));
  const mock = createMockPlugin({ defaults: { startDelayMs: 0 } });
  const { app } = buildPluginApp(mock, { logger: silentLogger() });
  const endpoint = { kind: 'unix' as const, path: join(dir, 'plugin.sock') };
  await listenOn(app, endpoint);
  const client = new HttpClient({ endpoint, timeoutMs: 300_000 });
  try {
    const pods = Array.from({ length: n }, (_, i) => pod(i));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n)
          await client.call({
            method: 'POST',
            path: '/create',
            body: { pod: pods[next++] },
            schema: CreateStruct,
          });
      }),
    );
    const createSeconds = (performance.now() - t0) / 1000;
    // One warm-up call (JIT, connection), then the measured rounds.
    await client.call({ method: 'GET', path: '/status', body: pods, schema: PodStatusList });
    const ms: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      const answer = await client.call({ method: 'GET', path: '/status', body: pods, schema: PodStatusList });
      ms.push(performance.now() - start);
      if (answer.length !== n) throw new Error(`status answered ${answer.length} of ${n} pods`);
    }
    ms.sort((a, b) => a - b);
    return {
      pods: n,
      createPerSecond: Math.round(n / createSeconds),
      statusRounds: rounds,
      statusMs: {
        min: round2(ms[0]!),
        p50: round2(percentile(ms, 50)),
        p99: round2(percentile(ms, 99)),
        max: round2(ms[ms.length - 1]!),
        mean: round2(ms.reduce((a, b) => a + b, 0) / ms.length),
      },
      requestBytes: Buffer.byteLength(JSON.stringify(pods)),
      heapUsedMB: round2(process.memoryUsage().heapUsed / 2 ** 20),
    };
  } finally {
    await client.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Result[] = [];
for (const n of sizes) {
  const r = await run(n);
  results.push(r);
  console.log(
    `${String(n).padStart(6)} pods: status p50 ${r.statusMs.p50} ms, p99 ${r.statusMs.p99} ms (min ${r.statusMs.min}, max ${r.statusMs.max}, ${r.statusRounds} calls); ` +
      `create ${r.createPerSecond}/s; request ${(r.requestBytes / 2 ** 20).toFixed(1)} MiB; heap ${r.heapUsedMB} MiB`,
  );
}

const date = new Date().toISOString().slice(0, 10);
const outDir = join(import.meta.dirname, 'results');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `mock-plugin-${date}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ bench: 'mock-plugin', date: new Date().toISOString(), node: process.version, cpus: cpus().length, transport: 'unix', results }, null, 2)}\n`,
);
console.log(`wrote ${file}`);
