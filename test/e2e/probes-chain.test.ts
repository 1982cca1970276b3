/**
 * Probes through the whole chain with the docker plugin (issue #15): the real apiserver, the
 * VK, the interLink API and the docker plugin. A Deployment whose readiness probe fails is
 * Running but not Ready (with `Unhealthy` Events written by the VK) and not Available; once
 * the probe passes (the test writes the file it checks) the Deployment becomes Available.
 * A failing liveness probe restarts the container: the Pod's restartCount grows.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Chain, eventually, getJson, type Obj, reportOnFailure, startChain, suffix } from './harness.ts';

const execFileP = promisify(execFile);
const id = suffix();
const instance = `e2e-probes-${id}`;
const image = inject('testImage');
let chain: Chain;
let dataRoot: string;

async function docker(args: string[]): Promise<string> {
  const { stdout } = await execFileP(inject('dockerCli'), args, {
    env: { ...process.env, DOCKER_HOST: inject('dockerHost') },
  });
  return stdout.trim();
}

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-probes-data-'));
  chain = await startChain({
    plugin: 'docker',
    nodeName: `e2e-probes-${id}`,
    namespace: `e2e-probes-${id}`,
    pluginConfig: {
      dockerCli: inject('dockerCli'),
      dockerHost: inject('dockerHost'),
      dataRoot,
      instance,
      infraImage: image,
      infraCommand: ['sleep', '2147483647'],
    },
  });
}, 300_000);

afterAll(async () => {
  await chain?.stop();
  const left = await docker(['ps', '-aq', '--filter', `label=interlink.vk.io/instance=${instance}`]).catch(
    () => '',
  );
  if (left) await docker(['rm', '-f', '-v', ...left.split('\n')]).catch(() => undefined);
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
}, 300_000);

reportOnFailure(() => chain);

const cond = (o: Obj, type: string) => ((o.status?.conditions ?? []) as Obj[]).find((c) => c.type === type);

describe('probes through the chain (docker)', () => {
  it('a Deployment whose readiness probe fails becomes Available only once it passes', async () => {
    await chain.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'gated', namespace: chain.namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'gated' } },
        template: chain.template(
          {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'main',
                image,
                command: ['sleep', '100000'],
                readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
              },
            ],
          },
          { app: 'gated' },
        ),
      },
    });
    // Running, not Ready, an Unhealthy Event from the VK, and the Deployment not Available.
    const pod = await eventually(
      'the pod Running with a failed readiness probe Event',
      async () => {
        const pods = (await getJson(['pods', '-n', chain.namespace, '-l', 'app=gated'])).items as Obj[];
        const p = pods[0];
        if (p?.status?.phase !== 'Running') return undefined;
        const events = (
          await getJson([
            'events',
            '-n',
            chain.namespace,
            '--field-selector',
            `involvedObject.name=${p.metadata.name}`,
          ])
        ).items as Obj[];
        const unhealthy = events.find((e) => e.reason === 'Unhealthy');
        return unhealthy ? { p, unhealthy } : undefined;
      },
      180_000,
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}\n${await chain.report()}`);
    });
    expect(pod.unhealthy.message).toMatch(/^Readiness probe failed: /);
    expect(pod.unhealthy.type).toBe('Warning');
    const notYet = await getJson(['pod', pod.p.metadata.name, '-n', chain.namespace]);
    expect(cond(notYet, 'Ready')?.status).toBe('False');
    expect(cond(notYet, 'ContainersReady')?.status).toBe('False');
    const d0 = await getJson(['deployment', 'gated', '-n', chain.namespace]);
    expect(d0.status?.availableReplicas ?? 0).toBe(0);

    const cid = String(notYet.status.containerStatuses[0].containerID).replace('docker://', '');
    await docker(['exec', '--', cid, 'touch', '/tmp/ready']);
    await eventually(
      'Deployment gated Available',
      async () => {
        const d = await getJson(['deployment', 'gated', '-n', chain.namespace]);
        return cond(d, 'Available')?.status === 'True' && d.status.availableReplicas === 1;
      },
      180_000,
    );
    const ready = await getJson(['pod', pod.p.metadata.name, '-n', chain.namespace]);
    expect(cond(ready, 'Ready')?.status).toBe('True');
  });

  it('a failing liveness probe restarts the container (restartCount grows)', async () => {
    await chain.apply(
      chain.pod('liveness', {
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image,
            command: ['sh', '-c', 'touch /tmp/alive; exec sleep 100000'],
            livenessProbe: {
              exec: { command: ['cat', '/tmp/alive'] },
              periodSeconds: 1,
              failureThreshold: 1,
            },
          },
        ],
      }),
    );
    const p = await chain.waitPhase('liveness', 'Running');
    await eventually('the container running', async () => {
      const x = await chain.getPod('liveness');
      return x?.status?.containerStatuses?.[0]?.state?.running ? x : undefined;
    });
    const cid = String(
      (await chain.getPod('liveness'))?.status.containerStatuses[0].containerID ??
        p.status.containerStatuses[0].containerID,
    ).replace('docker://', '');
    await docker(['exec', '--', cid, 'rm', '/tmp/alive']);
    const restarted = await eventually(
      'restartCount 1',
      async () => {
        const x = await chain.getPod('liveness');
        const c = x?.status?.containerStatuses?.[0];
        return c && c.restartCount >= 1 && c.state?.running ? c : undefined;
      },
      180_000,
    );
    expect(restarted.lastState?.terminated?.reason).toBe('Error');
  });
});
