/**
 * Real resource usage of a Slurm pod through the whole chain (issue #15 item 3): `kubectl top
 * pod` → metrics-server (test/support/metrics-server.ts) → the VK's kubelet API
 * `/metrics/resource` → the interLink API → the Slurm plugin's one `sstat` for all running
 * jobs (src/plugins/slurm/stats.ts) → the one-node test Slurm (jobacct_gather/linux).
 * A busy-looping one-container pod (runtime `none`) shows non-zero CPU.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type MetricsServer, startMetricsServer } from '../support/metrics-server.ts';
import { type Chain, eventually, freePort, kubectl, reportOnFailure, startChain, suffix } from './harness.ts';

const id = suffix();
let chain: Chain;
let dataRoot: string;
let metricsServer: MetricsServer | undefined;

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-slurm-usage-'));
  const ms = startMetricsServer({
    kubeconfig: inject('kubeconfig'),
    caCertPath: inject('caCertPath'),
    port: await freePort(),
    kubectl,
  });
  ms.catch(() => {});
  chain = await startChain({
    plugin: 'slurm',
    nodeName: `e2e-slurm-usage-${id}`,
    namespace: `e2e-slurm-usage-${id}`,
    pluginConfig: { dataRoot, containerRuntime: 'none' },
    pluginEnv: { SLURM_CONF: inject('slurmConf') },
  });
  metricsServer = await ms;
}, 1_500_000);

afterAll(async () => {
  await metricsServer?.stop();
  await chain?.stop();
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
}, 300_000);

reportOnFailure(() => chain);

describe('resource usage on the Slurm virtual node', () => {
  it("kubectl top pod shows a busy Slurm pod's CPU through metrics-server", async () => {
    await chain.apply(
      chain.pod('spin', {
        containers: [{ name: 'main', image: 'none', command: ['bash', '-c', 'while :; do :; done'] }],
        terminationGracePeriodSeconds: 1,
      }),
    );
    await chain.waitPhase('spin', 'Running');
    const top = await eventually(
      'kubectl top pod spin',
      async () => {
        const r = await kubectl(['top', 'pod', 'spin', '-n', chain.namespace, '--no-headers']);
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
