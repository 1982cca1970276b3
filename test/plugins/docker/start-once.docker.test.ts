/**
 * A container runs exactly once (issue #11 item 5): many short pods created together, with
 * status calls running concurrently as the interLink API makes them, and Docker's own event
 * log as the witness — each container of each pod gets exactly one `start` event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import type { Pod } from '../../../src/wire/k8s.ts';
import {
  cleanup,
  containersOf,
  create,
  docker,
  image,
  logs,
  makePod,
  type Served,
  serve,
  status,
  terminated,
  testConfig,
} from './harness.ts';

let cfg: DockerConfig;
let srv: Served;

beforeAll(async () => {
  // A short sequencing interval makes the loop run often, alongside the creates.
  cfg = await testConfig({ reconcileIntervalMs: 20 });
  srv = await serve(cfg);
});
afterAll(async () => {
  await srv?.close();
  if (cfg) await cleanup(cfg);
});

const PODS = 8;

describe('start once', () => {
  it('starts every container of many short pods created together exactly once', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const pods: Pod[] = Array.from({ length: PODS }, (_, i) =>
      makePod(`once-${i}`, {
        restartPolicy: 'Never',
        initContainers: [{ name: 'init', image: image(), command: ['true'] }],
        containers: [
          {
            name: 'app',
            image: image(),
            command: ['sh', '-c', 'echo line-a; echo line-b; echo line-c'],
          },
        ],
      }),
    );
    // Status calls for all pods for as long as the creates and the runs last, as the API polls.
    let polling = true;
    const poller = (async () => {
      while (polling) await status(srv.client, pods);
    })();
    await Promise.all(pods.map((p) => create(srv.client, p)));
    const done = (s: Awaited<ReturnType<typeof status>>) =>
      s.length === PODS && s.every((x) => terminated(x, 'app') !== undefined);
    for (let s = await status(srv.client, pods); !done(s); s = await status(srv.client, pods)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // Until the sequencing loop has nothing left to do: it is the one that started containers again.
    while (!srv.plugin.idle) await new Promise((r) => setTimeout(r, 50));
    polling = false;
    await poller;
    const until = Math.ceil(Date.now() / 1000) + 1;

    const started = (
      await docker([
        'events',
        '--since',
        String(since),
        '--until',
        String(until),
        '--filter',
        'type=container',
        '--filter',
        'event=start',
        '--filter',
        `label=interlink.vk.io/instance=${cfg.instance}`,
        '--format',
        '{{.Actor.ID}}',
      ])
    )
      .split('\n')
      .filter((l) => l !== '');
    const ids = await containersOf(cfg);
    expect(ids).toHaveLength(PODS * 3);
    const counts = new Map<string, number>();
    for (const id of started) counts.set(id, (counts.get(id) ?? 0) + 1);
    const named = (await docker(['inspect', '--format', '{{.Id}} {{.Name}}', ...ids]))
      .split('\n')
      .map((l) => l.split(' ') as [string, string]);
    const byName = Object.fromEntries(named.map(([id, name]) => [name, counts.get(id) ?? 0]));
    expect(byName).toEqual(Object.fromEntries(named.map(([, name]) => [name, 1])));
    for (const pod of pods) {
      expect(await logs(srv.client, pod, 'app')).toBe('line-a\nline-b\nline-c\n');
      await srv.client.call({ method: 'POST', path: '/delete', body: pod });
    }
  }, 300_000);
});
