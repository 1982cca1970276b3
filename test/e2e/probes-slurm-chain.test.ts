/**
 * Probes through the whole chain with the Slurm plugin (issue #15): the real apiserver, the
 * VK, the interLink API, the Slurm plugin and the one-node Slurm, runtime `none`. A liveness
 * probe that fails under restartPolicy Never fails the pod, and the container's terminated
 * state says why; the VK writes the Unhealthy Event.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Chain, eventually, getJson, type Obj, reportOnFailure, startChain, suffix } from './harness.ts';

const id = suffix();
let chain: Chain;
let dataRoot: string;

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-slurm-probes-'));
  chain = await startChain({
    plugin: 'slurm',
    nodeName: `e2e-slurm-probes-${id}`,
    namespace: `e2e-slurm-probes-${id}`,
    pluginConfig: { dataRoot, containerRuntime: 'none', logPollMs: 200 },
    pluginEnv: { SLURM_CONF: inject('slurmConf') },
  });
}, 300_000);

afterAll(async () => {
  await chain?.stop();
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
}, 300_000);

reportOnFailure(() => chain);

describe('probes through the chain (slurm)', () => {
  it('a liveness failure under restartPolicy Never fails the pod with a clear reason', async () => {
    await chain.apply(
      chain.pod('liveness', {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: 'busybox:1.36', // not pulled: the `none` runtime runs the command on the node
            command: ['sleep', '600'],
            livenessProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 2 },
          },
        ],
      }),
    );
    const p = await chain.waitPhase('liveness', 'Failed', 240_000);
    const t = (p.status.containerStatuses as Obj[])[0]?.state?.terminated as Obj;
    expect(t.message).toBe('The container was killed: it failed liveness probe');
    expect(t.exitCode).not.toBe(0);
    const events = await eventually('the Unhealthy Event', async () => {
      const items = (
        await getJson(['events', '-n', chain.namespace, '--field-selector', 'involvedObject.name=liveness'])
      ).items as Obj[];
      return items.some((e) => e.reason === 'Unhealthy') ? items : undefined;
    });
    expect(events.find((e) => e.reason === 'Unhealthy')?.message).toMatch(/^Liveness probe failed: /);
  });
});
