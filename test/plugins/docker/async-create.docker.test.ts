/**
 * `/create` answers once the pod is recorded (issue #16 item 4): containers are created in
 * the background, at most `createConcurrency` pods at a time towards dockerd. A stand-in
 * docker CLI (the configurable binary path) logs when each `docker create` begins and ends,
 * so the bound is read from what dockerd was asked, not from timings.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import type { Pod } from '../../../src/wire/k8s.ts';
import {
  cleanup,
  containersOf,
  create,
  image,
  makePod,
  type Served,
  serve,
  status,
  terminated,
  testConfig,
} from './harness.ts';

let cfg: DockerConfig;
let srv: Served;
let callLog: string;

beforeAll(async () => {
  cfg = await testConfig({ createConcurrency: 2 });
  callLog = join(cfg.dataRoot, 'creates.log');
  const wrapper = join(cfg.dataRoot, 'docker-wrapper');
  await writeFile(
    wrapper,
    `#!/bin/sh\nif [ "$1" = create ]; then\n  echo B >> '${callLog}'\n  '${cfg.dockerCli}' "$@"\n  rc=$?\n  echo E >> '${callLog}'\n  exit $rc\nfi\nexec '${cfg.dockerCli}' "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  cfg = { ...cfg, dockerCli: wrapper };
  srv = await serve(cfg);
});
afterAll(async () => {
  await srv?.close();
  if (cfg) await cleanup(cfg);
});

describe('create answered once recorded', () => {
  it('creates 6 pods in the background, never more than createConcurrency at once', async () => {
    const pods: Pod[] = Array.from({ length: 6 }, (_, i) =>
      makePod(`burst-${i}`, {
        containers: [
          { name: 'a', image: image(), command: ['true'] },
          { name: 'b', image: image(), command: ['true'] },
        ],
      }),
    );
    for (const answer of await Promise.all(pods.map((p) => create(srv.client, p))))
      expect(answer).toMatchObject({ PodJID: expect.stringMatching(/^ilk_POD_burst-\d_default_/) });
    await srv.plugin.createsSettled();
    for (let s = await status(srv.client, pods); !s.every((x) => terminated(x, 'b')); ) {
      await new Promise((r) => setTimeout(r, 150));
      s = await status(srv.client, pods);
    }
    const lines = (await readFile(callLog, 'utf8')).split('\n').filter((l) => l !== '');
    // 6 pods × (infra + 2 containers), each begun and ended.
    expect(lines.filter((l) => l === 'B')).toHaveLength(18);
    let inFlight = 0;
    let peak = 0;
    for (const l of lines) {
      inFlight += l === 'B' ? 1 : -1;
      peak = Math.max(peak, inFlight);
    }
    expect(peak).toBeLessThanOrEqual(2);
    expect(await containersOf(cfg)).toHaveLength(18);
    for (const pod of pods) await srv.client.call({ method: 'POST', path: '/delete', body: pod });
    await srv.plugin.deletesSettled();
    expect(await containersOf(cfg)).toEqual([]);
  }, 300_000);
});
