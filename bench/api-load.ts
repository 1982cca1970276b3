/**
 * `npm run bench:api-load [-- --pods N] [--status all|none] [--src] [--node-options FLAGS]
 * [--out DIR] [--name BASE]`: the interLink API and the mock plugin alone, driven as a VK
 * drives them, without a control plane: N creates (20 in flight, as the VK's workers), a
 * batched `/status` every 2 s while they run, 10 s more of polls, then N deletes. Prints
 * and writes each process's RSS at idle and at peak and its CPU seconds.
 *
 * `--status all` (default) asks about every created pod in every poll: the steady state of
 * N long-running pods, the status path's worst case (the benchmark's 5 s pods keep far
 * fewer active). `--status none` leaves the polls out, to tell the create/delete path's
 * share from the status path's. The pods are what the VK sends for a benchmark pod (bench/
 * lib/workload.ts as the apiserver returns it, with its service-account token volume).
 *
 * Runs the compiled dist/ (`npm run build` first), as shipped, with the shipped heap limits,
 * runtime flags and malloc setting; `--src` runs src/*.ts. Writes `<out>/<name>.json` (default
 * bench/results/api-load/<date>-<N>-<status>.json). Exit 0 when every call succeeded.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { heapFlags, type Role, withMallocEnv } from '../src/cli/heap-limits.ts';
import { forStatus } from '../src/vk/pods/job.ts';
import type { KPod } from '../src/vk/pods/kpod.ts';
import { REPO_ROOT } from './lib/bench.ts';
import { CLI_ENTRY } from './lib/chain.ts';
import { readProc } from './lib/procstat.ts';
import { formatJson } from './lib/result.ts';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '5000' },
    status: { type: 'string', default: 'all' },
    src: { type: 'boolean', default: false },
    'node-options': { type: 'string', default: '' },
    out: { type: 'string', default: join('bench', 'results', 'api-load') },
    name: { type: 'string' },
  },
});
const N = Number(values.pods);
const pollAll = values.status === 'all';
if (!Number.isInteger(N) || N < 1 || !['all', 'none'].includes(values.status)) {
  process.stderr.write('bench:api-load: --pods N (a positive whole number), --status all|none\n');
  process.exit(2);
}
const entry = values.src ? CLI_ENTRY.src : CLI_ENTRY.dist;
if (!existsSync(entry)) {
  process.stderr.write(`bench:api-load: ${entry} does not exist: run \`npm run build\` first\n`);
  process.exit(2);
}
const CONCURRENCY = 20;
const log = (line: string) => process.stderr.write(`[bench:api-load] ${line}\n`);

const dir = await mkdtemp(join(tmpdir(), 'interlink-api-load-'));
const apiSock = join(dir, 'api.sock');
const pluginSock = join(dir, 'plugin.sock');
const token = randomBytes(32).toString('base64url');
writeFileSync(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
writeFileSync(
  join(dir, 'plugin.yaml'),
  `socket: ${pluginSock}\ncapacity: {pods: "${Math.max(10_000, N)}"}\n`,
);
writeFileSync(
  join(dir, 'api.yaml'),
  `interlinkUrl: unix://${apiSock}\nsidecarUrl: unix://${pluginSock}\nauth: {tokenFile: ${join(dir, 'token')}}\n`,
);
const extra = values['node-options'].split(' ').filter(Boolean);
const launch = (role: Role, command: string[]) =>
  spawn(
    process.execPath,
    [...heapFlags(role), ...extra, entry, '--log-level', 'warn', '-c', join(dir, `${role}.yaml`), ...command],
    { stdio: ['ignore', 'ignore', 'inherit'], env: withMallocEnv() },
  );
const plugin = launch('plugin', ['plugin', 'mock']);
const api = launch('api', ['api']);
const agent = new Agent({ connect: { socketPath: apiSock }, connections: 2 * CONCURRENCY });
const call = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => {
  const res = await request(`http://api${path}`, {
    method,
    dispatcher: agent,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
};

for (let i = 0; ; i++) {
  try {
    await call('GET', '/readyz');
    break;
  } catch (err) {
    if (i > 300) throw err;
    await sleep(100);
  }
}
await sleep(2_000);
const reading = (pid: number | undefined) => {
  const r = pid === undefined ? undefined : readProc(pid);
  if (!r) throw new Error('a process died');
  return r;
};
const idle = { api: reading(api.pid), plugin: reading(plugin.pid) };

/** A benchmark pod as the VK sends it: apiserver defaults, the service-account token volume. */
function pod(i: number): KPod {
  const name = `bench-${i}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'bench-load',
      uid: randomUUID(),
      resourceVersion: String(1000 + i),
      creationTimestamp: '2026-12-05T00:00:00Z',
      labels: { 'interlink.bench/run': 'load' },
    },
    spec: {
      nodeName: 'bench-load',
      schedulerName: 'default-scheduler',
      restartPolicy: 'Never',
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
      enableServiceLinks: true,
      priority: 0,
      securityContext: {},
      tolerations: [
        { key: 'virtual-node.interlink/no-schedule', operator: 'Exists', effect: 'NoSchedule' },
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
      containers: [
        {
          name: 'main',
          image: 'interlink-test/busybox:1',
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', '3600'],
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          volumeMounts: [
            {
              name: 'kube-api-access',
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
              readOnly: true,
            },
          ],
        },
      ],
      volumes: [
        {
          name: 'kube-api-access',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [
                    { path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
                  ],
                },
              },
            ],
          },
        },
      ],
    },
    status: { phase: 'Pending' },
  };
}
const CA = `-----BEGIN CERTIFICATE-----\n${'M'.repeat(1100)}\n-----END CERTIFICATE-----\n`;
const createBody = (p: KPod) => ({
  pod: p,
  configmaps: [],
  secrets: [],
  projectedvolumesmaps: [
    {
      metadata: { name: 'kube-api-access', namespace: p.metadata.namespace },
      data: { token: `eyJ${'x'.repeat(950)}`, 'ca.crt': CA, namespace: p.metadata.namespace },
    },
  ],
});

const pods = Array.from({ length: N }, (_, i) => pod(i));
// What a /status call carries about each: the VK's own forStatus.
const asked = pods.map(forStatus);
const active = new Set<number>();
let polls = 0;
let stop = false;
const t0 = performance.now();
const poller = (async () => {
  while (!stop) {
    await sleep(2_000);
    if (!pollAll || active.size === 0) continue;
    await call(
      'GET',
      '/status',
      [...active].map((i) => asked[i]),
    );
    polls++;
  }
})();
const each = async (fn: (i: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) await fn(next++);
    }),
  );
};
await each(async (i) => {
  await call('POST', '/create', createBody(pods[i] as KPod));
  active.add(i);
});
const createdSeconds = (performance.now() - t0) / 1000;
log(`${N} created in ${createdSeconds.toFixed(1)} s`);
await sleep(10_000);
await each(async (i) => {
  await call('DELETE', '/delete', pods[i]);
  active.delete(i);
});
stop = true;
await poller;
const end = { api: reading(api.pid), plugin: reading(plugin.pid) };
api.kill();
plugin.kill();
await agent.close();
await rm(dir, { recursive: true, force: true });

const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
const cpu = (a: number, b: number) => Math.round((b - a) * 100) / 100;
const result = {
  schema: 'interlink-api-load/1',
  measuredAt: new Date().toISOString(),
  pods: N,
  status: values.status,
  dist: !values.src,
  nodeOptions: extra,
  createSeconds: Math.round(createdSeconds * 10) / 10,
  statusPolls: polls,
  idleRssMiB: { api: mib(idle.api.rssBytes), plugin: mib(idle.plugin.rssBytes) },
  peakRssMiB: { api: mib(end.api.hwmBytes), plugin: mib(end.plugin.hwmBytes) },
  cpuSeconds: {
    api: cpu(idle.api.cpuSeconds, end.api.cpuSeconds),
    plugin: cpu(idle.plugin.cpuSeconds, end.plugin.cpuSeconds),
  },
};
const out = resolve(REPO_ROOT, values.out);
mkdirSync(out, { recursive: true });
const file = join(out, `${values.name ?? `${result.measuredAt.slice(0, 10)}-${N}-${values.status}`}.json`);
writeFileSync(file, `${formatJson(result)}\n`);
process.stdout.write(
  `${N} pods, status polls: ${values.status} (${polls})\n` +
    `          idle RSS  peak RSS  CPU s\n` +
    `api       ${String(result.idleRssMiB.api).padStart(8)}  ${String(result.peakRssMiB.api).padStart(8)}  ${result.cpuSeconds.api}\n` +
    `plugin    ${String(result.idleRssMiB.plugin).padStart(8)}  ${String(result.peakRssMiB.plugin).padStart(8)}  ${result.cpuSeconds.plugin}\n` +
    `written: ${file}\n`,
);
process.exit(0);
