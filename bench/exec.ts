/**
 * `npm run bench:exec [-- --runs 50 --mib 100 --out bench/results]`: the latency of
 * `kubectl exec -- true` and the throughput of `kubectl port-forward` on the docker plugin,
 * through the whole chain (a control plane from src/devcluster, the VK, the interLink API and
 * the docker plugin as separate processes, bench/lib/chain.ts). Needs dockerd (DOCKER_HOST,
 * e.g. the test one: unix://$HOME/.cache/interlink/dockerd/docker.sock) and a busybox image
 * (BENCH_IMAGE, default interlink-test/busybox:1, made by scripts/docker/make-test-image.sh).
 *
 * Prints the figures and writes `exec-<date>.json` (p50/p99/mean of exec in ms, MiB/s of the
 * download through port-forward). A measurement, not a test: nothing here passes or fails.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { runProcess } from '../src/core/command.ts';
import { startCluster } from '../src/devcluster/cluster.ts';
import { startChain } from './lib/chain.ts';
import { round3, summarize } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '50' },
    mib: { type: 'string', default: '100' },
    out: { type: 'string', default: join(import.meta.dirname, 'results') },
  },
});
const runs = Number(values.runs);
const mib = Number(values.mib);
const log = (line: string) => process.stderr.write(`[bench:exec] ${line}\n`);
const dockerHost =
  process.env.DOCKER_HOST ?? `unix://${process.env.HOME}/.cache/interlink/dockerd/docker.sock`;
const image = process.env.BENCH_IMAGE ?? 'interlink-test/busybox:1';

const dir = await mkdtemp(join(tmpdir(), 'interlink-bench-exec-'));
const cluster = await startCluster({ log: (l) => log(`[devcluster] ${l}`) });
const instance = `bench-exec-${process.pid}`;
const pluginConfig = join(dir, 'docker.yaml');
await writeFile(
  pluginConfig,
  stringify({
    dockerHost,
    dataRoot: join(dir, 'data'),
    instance,
    infraImage: image,
    infraCommand: ['sleep', '2147483647'],
  }),
);
const nodeName = 'bench-exec';
const kubectl = (args: string[], timeoutMs = 120_000) =>
  runProcess(join(cluster.binDir, 'kubectl'), ['--kubeconfig', cluster.kubeconfig, ...args], { timeoutMs });
let chain: Awaited<ReturnType<typeof startChain>> | undefined;
try {
  chain = await startChain({
    dir,
    kubeconfig: cluster.kubeconfig,
    nodeName,
    plugin: 'docker',
    pluginConfig,
    pods: 10,
    statusIntervalMs: 1000,
    kubeletTls: true,
    log,
  });
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      nodeName,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'main',
          image,
          command: [
            'sh',
            '-c',
            `mkdir -p /www && head -c ${mib * 1048576} /dev/zero > /www/big && exec httpd -f -p 8080 -h /www`,
          ],
          readinessProbe: { exec: { command: ['test', '-s', '/www/big'] }, periodSeconds: 1 },
        },
      ],
    },
  };
  await writeFile(join(dir, 'pod.json'), JSON.stringify(pod));
  const applied = await kubectl(['apply', '-f', join(dir, 'pod.json')]);
  if (applied.code !== 0) throw new Error(`kubectl apply: ${applied.stderr}`);
  const ready = await kubectl(['wait', '--for=condition=Ready', 'pod/web', '--timeout=300s'], 320_000);
  if (ready.code !== 0) throw new Error(`pod not ready: ${ready.stderr}`);
  // The file is complete once a second exec sees its full size.
  for (let i = 0; ; i++) {
    const r = await kubectl(['exec', 'web', '--', 'stat', '-c', '%s', '/www/big']);
    if (r.stdout.trim() === String(mib * 1048576)) break;
    if (i >= 30) throw new Error(`the pod's file is not ready: ${r.stderr.trim()}`);
  }

  log(`kubectl exec web -- true, ${runs} runs`);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await kubectl(['exec', 'web', '--', 'true']);
    if (r.code !== 0) throw new Error(`exec failed: ${r.stderr}`);
    ms.push(performance.now() - t0);
  }
  const exec = summarize(ms);

  log(`port-forward: GET ${mib} MiB`);
  const pf = spawn(
    join(cluster.binDir, 'kubectl'),
    ['--kubeconfig', cluster.kubeconfig, 'port-forward', 'pod/web', ':8080'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let mibps: number;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      pf.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /127\.0\.0\.1:(\d+) ->/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      pf.once('exit', (code) => reject(new Error(`kubectl port-forward exited ${code}`)));
    });
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/big`);
    let n = 0;
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) n += c.length;
    const s = (performance.now() - t0) / 1000;
    if (n !== mib * 1048576) throw new Error(`port-forward: got ${n} bytes of ${mib * 1048576}`);
    mibps = mib / s;
  } finally {
    pf.kill('SIGKILL');
  }

  const result = {
    kind: 'interlink-bench-exec',
    date: new Date().toISOString(),
    plugin: 'docker',
    exec: { runs, p50Ms: round3(exec.p50), p99Ms: round3(exec.p99), meanMs: round3(exec.mean) },
    portForward: { mib, mibPerSecond: round3(mibps) },
  };
  process.stdout.write(
    `kubectl exec -- true (${runs} runs): p50 ${result.exec.p50Ms.toFixed(0)} ms, p99 ${result.exec.p99Ms.toFixed(0)} ms\n` +
      `kubectl port-forward, ${mib} MiB: ${result.portForward.mibPerSecond.toFixed(1)} MiB/s\n`,
  );
  await mkdir(values.out, { recursive: true });
  const file = join(values.out, `exec-${result.date.slice(0, 10)}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${file}`);
} finally {
  await kubectl(['delete', 'pod', 'web', '--wait=true', '--timeout=120s']).catch(() => undefined);
  await chain?.stop();
  await cluster.stop();
  await rm(dir, { recursive: true, force: true }).catch(() => {});
}
