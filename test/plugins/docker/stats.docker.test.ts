/**
 * Real usage from the docker plugin's GET /stats/summary: a busy-looping container (held to
 * a tenth of a core) reports CPU, an idle one next to it much less, and the collection is one `docker ps` plus ONE
 * `docker stats` whatever the number of pods.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import type { Pod } from '../../../src/wire/k8s.ts';
import {
  cleanup,
  create,
  image,
  makePod,
  running,
  type Served,
  serve,
  testConfig,
  waitFor,
} from './harness.ts';

let cfg: DockerConfig;
let srv: Served;
let callLog: string;

beforeAll(async () => {
  cfg = await testConfig();
  callLog = join(cfg.dataRoot, 'calls.log');
  const wrapper = join(cfg.dataRoot, 'docker-wrapper');
  await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${callLog}'\nexec '${cfg.dockerCli}' "$@"\n`);
  await chmod(wrapper, 0o755);
  cfg = { ...cfg, dockerCli: wrapper };
  srv = await serve(cfg);
});
afterAll(async () => {
  await srv?.close();
  if (cfg) await cleanup(cfg);
});

const calls = async () =>
  (await readFile(callLog, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

interface Ctr {
  name: string;
  cpu?: { usageNanoCores?: number; usageCoreNanoSeconds?: number };
  memory?: { workingSetBytes?: number };
}
interface PodStats {
  podRef: { uid: string };
  containers: Ctr[];
}

describe('docker stats', () => {
  it('reports real CPU and memory of every pod in one docker stats call', async () => {
    const pods: Pod[] = [];
    for (let i = 0; i < 2; i++) {
      const pod = makePod(`busy${i}`, {
        containers: [
          // A tenth of a core (--cpus=0.1): enough to show, and two unbounded busy loops would
          // take both cores of a CI host from every test running beside this one.
          {
            name: 'spin',
            image: image(),
            command: ['sh', '-c', 'while :; do :; done'],
            resources: { limits: { cpu: '100m' } },
          },
          { name: 'idle', image: image(), command: ['sleep', '3600'] },
        ],
        terminationGracePeriodSeconds: 0,
      });
      await create(srv.client, pod);
      pods.push(pod);
    }
    for (const pod of pods)
      await waitFor(
        srv.client,
        pod,
        (s) => running(s, 'spin') && running(s, 'idle'),
        'both containers to run',
      );

    const collect = async () => {
      const before = (await calls()).length;
      const summary = (await srv.client.call({ method: 'GET', path: '/stats/summary' })) as {
        node: { cpu: { usageCoreNanoSeconds: number } };
        pods: PodStats[];
      };
      return { summary, during: (await calls()).slice(before) };
    };
    const first = await collect();
    expect(first.during.filter((c) => c.startsWith('stats '))).toHaveLength(1);
    expect(first.during).toHaveLength(2);
    const second = await collect();
    for (const pod of pods) {
      const stats = second.summary.pods.find((p) => p.podRef.uid === pod.metadata.uid);
      const byName = new Map(stats?.containers.map((c) => [c.name, c]));
      expect([...byName.keys()].sort()).toEqual(['idle', 'spin']);
      const spin = byName.get('spin')!;
      expect(spin.cpu?.usageNanoCores).toBeGreaterThan(0);
      expect(spin.cpu?.usageCoreNanoSeconds).toBeGreaterThan(0);
      expect(spin.memory?.workingSetBytes).toBeGreaterThan(0);
    }
    expect(second.summary.node.cpu.usageCoreNanoSeconds).toBeGreaterThan(0);
    for (const pod of pods) await srv.client.call({ method: 'POST', path: '/delete', body: pod });
  });
});
