/**
 * One docker invocation per status call, whatever the number of pods (DESIGN.md §7): the
 * plugin runs a docker CLI wrapper that records every invocation.
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
  status,
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
  // A stand-in CLI, as the configurable binary path allows: log the call, run the real one.
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

describe('status calls', () => {
  it('asks docker once for all pods', async () => {
    const pods: Pod[] = [];
    for (let i = 0; i < 3; i++) {
      const pod = makePod(`p${i}`, {
        containers: [
          { name: 'a', image: image(), command: ['sleep', '3600'] },
          { name: 'b', image: image(), command: ['sleep', '3600'] },
        ],
        terminationGracePeriodSeconds: 0,
      });
      await create(srv.client, pod);
      pods.push(pod);
    }
    for (const pod of pods)
      await waitFor(srv.client, pod, (s) => running(s, 'a') && running(s, 'b'), 'both containers to run');
    // Let the sequencing loop go idle (it only polls while some pod has containers to start).
    let before = (await calls()).length;
    for (;;) {
      await new Promise((r) => setTimeout(r, 10 * cfg.reconcileIntervalMs));
      const now = (await calls()).length;
      if (now === before) break;
      before = now;
    }
    const statuses = await status(srv.client, pods);
    const during = (await calls()).slice(before);
    expect(statuses.map((s) => s.UID)).toEqual(pods.map((p) => p.metadata.uid));
    expect(during).toHaveLength(1);
    expect(during[0]!.startsWith('inspect --type container -- ')).toBe(true);
    // 3 pods × (infra + 2 containers)
    expect(during[0]!.split(' ')).toHaveLength(4 + 9);
    for (const pod of pods) await srv.client.call({ method: 'POST', path: '/delete', body: pod });
  });
});
