/**
 * Real resource usage through the whole chain (issue #15 item 3): the VK's kubelet API `/metrics/resource` (and `/stats/summary`) → the interLink API →
 * the docker plugin's one batched `docker stats`. A busy-looping pod shows CPU; what
 * metrics-server scrapes is there, with the kubelet's names and labels; and `kubectl top pod`
 * shows it through the aggregation layer and a real metrics-server (test/support/metrics-server.ts).
 * The same `kubectl top pod` for a busy Slurm pod: the Slurm plugin's one `sstat` for all
 * running jobs (src/plugins/slurm/stats.ts) on the one-node test Slurm (jobacct_gather/linux).
 * Both chains share this file's one metrics-server: its APIService is cluster-wide, so only
 * one file may run one.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { type MetricsServer, startMetricsServer } from '../support/metrics-server.ts';
import { type Chain, eventually, freePort, kubectl, reportOnFailure, startChain, suffix } from './harness.ts';

const id = suffix();
const image = inject('testImage');
let chain: Chain;
let slurmChain: Chain;
let dataRoot: string;
let slurmDataRoot: string;
let metricsServer: MetricsServer | undefined;

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-usage-data-'));
  // metrics-server starts beside the chain (its build is cached; the first one takes minutes).
  const ms = startMetricsServer({
    kubeconfig: inject('kubeconfig'),
    caCertPath: inject('caCertPath'),
    port: await freePort(),
    kubectl,
  });
  ms.catch(() => {});
  slurmDataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-slurm-usage-'));
  [chain, slurmChain] = await Promise.all([
    startChain({
      plugin: 'docker',
      nodeName: `e2e-usage-${id}`,
      namespace: `e2e-usage-${id}`,
      pluginConfig: {
        dockerCli: inject('dockerCli'),
        dockerHost: inject('dockerHost'),
        dataRoot,
        instance: `e2e-usage-${id}`,
        infraImage: image,
        infraCommand: ['sleep', '2147483647'],
      },
    }),
    startChain({
      plugin: 'slurm',
      nodeName: `e2e-slurm-usage-${id}`,
      namespace: `e2e-slurm-usage-${id}`,
      pluginConfig: { dataRoot: slurmDataRoot, containerRuntime: 'none' },
      pluginEnv: { SLURM_CONF: inject('slurmConf') },
    }),
  ]);
  metricsServer = await ms;
}, 1_500_000);

afterAll(async () => {
  await metricsServer?.stop();
  await Promise.all([chain?.stop(), slurmChain?.stop()]);
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
  if (slurmDataRoot) await rm(slurmDataRoot, { recursive: true, force: true });
}, 300_000);

reportOnFailure(() => chain);
reportOnFailure(() => slurmChain);

/**
 * GET on the VK's kubelet API as metrics-server does: straight to the node's address and
 * kubelet port (the apiserver's node proxy refuses loopback addresses), with the cluster
 * admin's client certificate (the VK trusts the cluster CA for clients).
 */
async function kubeletGet(path: string): Promise<string> {
  const vk = parse(await readFile(join(chain.dir, 'vk.yaml'), 'utf8')) as { kubeletHttp: { port: number } };
  const kc = parse(await readFile(inject('kubeconfig'), 'utf8')) as {
    users: { user: Record<string, string> }[];
  };
  const user = kc.users[0]!.user;
  const b64 = (v: string | undefined) => Buffer.from(v ?? '', 'base64').toString('utf8');
  const agent = new Agent({
    connect: {
      ca: await readFile(inject('caCertPath'), 'utf8'),
      cert: b64(user['client-certificate-data']),
      key: b64(user['client-key-data']),
    },
  });
  try {
    const res = await request(`https://127.0.0.1:${vk.kubeletHttp.port}${path}`, { dispatcher: agent });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${text}`);
    return text;
  } finally {
    await agent.close();
  }
}

/** A sample's value from Prometheus text, by metric name and exact label set. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('resource usage on the docker virtual node', () => {
  it('a busy pod has CPU and memory in /metrics/resource and /stats/summary from the kubelet API', async () => {
    await chain.apply(
      chain.pod('spin', {
        // Held to a fifth of a core: an unbounded busy loop would take a core from every test
        // running beside this one on a 2-core CI host.
        containers: [
          {
            name: 'main',
            image,
            command: ['sh', '-c', 'while :; do :; done'],
            resources: { limits: { cpu: '200m' } },
          },
        ],
        terminationGracePeriodSeconds: 0,
      }),
    );
    await chain.waitPhase('spin', 'Running');
    const labels = `container="main",namespace="${chain.namespace}",pod="spin"`;
    const raw = kubeletGet;
    // The counter starts when the plugin first sees the container: it grows on later scrapes.
    const text = await eventually('CPU of the busy container in /metrics/resource', async () => {
      const t = await raw('/metrics/resource');
      return (sample(t, 'container_cpu_usage_seconds_total', labels) ?? 0) > 0 ? t : undefined;
    });
    expect(sample(text, 'container_memory_working_set_bytes', labels)).toBeGreaterThan(0);
    expect(sample(text, 'container_start_time_seconds', labels)).toBeGreaterThan(0);
    expect(
      sample(text, 'pod_cpu_usage_seconds_total', `namespace="${chain.namespace}",pod="spin"`),
    ).toBeGreaterThan(0);
    expect(text).toMatch(/^node_cpu_usage_seconds_total \d/m);
    expect(text).toMatch(/^node_memory_working_set_bytes \d/m);
    expect(text).toContain('scrape_error 0');

    const summary = JSON.parse(await raw('/stats/summary'));
    expect(summary.node.nodeName).toBe(chain.nodeName);
    const pod = summary.pods.find((p: { podRef: { name: string } }) => p.podRef.name === 'spin');
    expect(pod.containers[0].cpu.usageNanoCores).toBeGreaterThan(0);
  });

  it("kubectl top pod shows the busy pod's CPU through metrics-server", async () => {
    const top = await eventually(
      'kubectl top pod spin',
      async () => {
        const r = await kubectl(['top', 'pod', 'spin', '-n', chain.namespace, '--no-headers']);
        const m = /^spin\s+(\d+)m\s+(\d+)Mi/.exec(r.stdout.trim());
        return m && Number(m[1]) > 0 ? m : undefined;
      },
      120_000,
    ).catch((err: unknown) => {
      throw new Error(`${err}\nmetrics-server:\n${metricsServer?.output.slice(-30).join('\n')}`);
    });
    expect(Number(top[1])).toBeGreaterThan(0);
    // Stop spinning: the Slurm pod's test wants the CPU.
    await kubectl(['delete', 'pod', 'spin', '-n', chain.namespace, '--wait=false']);
  });
});

describe('resource usage on the Slurm virtual node', () => {
  it("kubectl top pod shows a busy Slurm pod's CPU through metrics-server", async () => {
    await slurmChain.apply(
      slurmChain.pod('spin', {
        // Niced: it still accumulates CPU time, but yields the core to every other test.
        containers: [
          { name: 'main', image: 'none', command: ['nice', '-n', '19', 'bash', '-c', 'while :; do :; done'] },
        ],
        terminationGracePeriodSeconds: 1,
      }),
    );
    await slurmChain.waitPhase('spin', 'Running');
    const top = await eventually(
      'kubectl top pod spin',
      async () => {
        const r = await kubectl(['top', 'pod', 'spin', '-n', slurmChain.namespace, '--no-headers']);
        const m = /^spin\s+(\d+)m\s+(\d+)Mi/.exec(r.stdout.trim());
        return m && Number(m[1]) > 0 ? m : undefined;
      },
      180_000,
    ).catch((err: unknown) => {
      throw new Error(`${err}\nmetrics-server:\n${metricsServer?.output.slice(-30).join('\n')}`);
    });
    expect(Number(top[1])).toBeGreaterThan(0);
    expect(Number(top[2])).toBeGreaterThan(0);
  });
});
