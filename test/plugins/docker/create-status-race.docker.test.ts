/**
 * A `/status` call that overlaps the end of a background create must not report the new
 * pod's containers as lost. Seen in CI: the call took its snapshot of known pods, a create
 * finished while `docker inspect` ran, and the loop then found the freshly indexed pod with
 * nothing observed — "The container could not be located" (ContainerStatusUnknown), which
 * failed a Job's pod and left a Deployment's pods never Ready.
 *
 * A stand-in docker CLI makes every `docker inspect` take a second, so each status call spans
 * the create's last steps; a pod already running keeps inspect in every call.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import type { PodStatus } from '../../../src/wire/interlink.ts';
import {
  cleanup,
  create,
  image,
  makePod,
  running,
  type Served,
  serve,
  status,
  terminated,
  testConfig,
  waitFor,
} from './harness.ts';

let cfg: DockerConfig;
let srv: Served;

beforeAll(async () => {
  cfg = await testConfig();
  const wrapper = join(cfg.dataRoot, 'docker-slow-inspect');
  await writeFile(
    wrapper,
    `#!/bin/sh\nif [ "$1" = inspect ]; then sleep 1; fi\nexec '${cfg.dockerCli}' "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  srv = await serve({ ...cfg, dockerCli: wrapper });
});
afterAll(async () => {
  await srv?.close();
  if (cfg) await cleanup(cfg);
});

it('status calls overlapping a background create never report its containers lost', async () => {
  const spec = { containers: [{ name: 'main', image: image(), command: ['sleep', '3600'] }] };
  const steady = makePod('steady', spec);
  await create(srv.client, steady);
  await waitFor(srv.client, steady, (s) => running(s, 'main'), 'steady running');

  const fresh = makePod('fresh', spec);
  await create(srv.client, fresh);
  const seen: PodStatus[] = [];
  const deadline = Date.now() + 120_000;
  for (;;) {
    const s = (await status(srv.client, [steady, fresh])).find((x) => x.UID === fresh.metadata.uid);
    if (s) seen.push(s);
    if ((s && running(s, 'main')) || Date.now() > deadline) break;
  }
  expect(seen.length).toBeGreaterThan(1);
  expect(seen.filter((s) => terminated(s, 'main'))).toEqual([]);
  expect(running(seen.at(-1)!, 'main')).toBe(true);

  for (const pod of [steady, fresh]) await srv.client.call({ method: 'POST', path: '/delete', body: pod });
  await srv.plugin.deletesSettled();
}, 300_000);
