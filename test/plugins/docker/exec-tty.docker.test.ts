/**
 * `kubectl exec -t` leftover (issue #14): a TTY exec through the plugin's exec route whose
 * client disconnects must not leave its command running in the container (dockerd keeps the
 * exec's terminal open, so killing the CLI alone does not end it). Witness: `docker top`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialChannelSocket } from '../../../src/core/channel-ws.ts';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import {
  cleanup,
  create,
  docker,
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

beforeAll(async () => {
  cfg = await testConfig();
  srv = await serve(cfg);
});
afterAll(async () => {
  await srv?.close();
  if (cfg) await cleanup(cfg);
});

/** The command lines of the processes in the container. */
async function processes(id: string): Promise<string[]> {
  return (await docker(['top', id, '-eo', 'pid,args'])).split('\n').slice(1);
}

/** Poll until `done` holds on the container's processes; fails after 60 s with what was seen. */
async function until(id: string, done: (ps: string[]) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let ps: string[] = [];
  while (Date.now() < deadline) {
    ps = await processes(id);
    if (done(ps)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; processes: ${ps.join(' | ')}`);
}

describe('exec -t', () => {
  it('a dropped client leaves no command running in the container', async () => {
    const pod = makePod('tty', {
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'app', image: image(), command: ['sleep', '3600'] }],
    });
    await create(srv.client, pod);
    await waitFor(srv.client, pod, (s) => running(s, 'app'), 'the container to run');
    const id = await docker([
      'ps',
      '-q',
      '--filter',
      `label=interlink.vk.io/pod-uid=${pod.metadata.uid}`,
      '--filter',
      'label=interlink.vk.io/role=app',
    ]);
    const { uid, name, namespace } = pod.metadata;
    const leftover = (ps: string[]) => ps.some((l) => /\bsleep 1000\b/.test(l));
    const cs = await dialChannelSocket({
      endpoint: { kind: 'unix', path: srv.socket },
      path: `/exec?namespace=${namespace}&name=${name}&uid=${uid}&container=app&command=sleep&command=1000&stdin=1&stdout=1&stderr=0&tty=1`,
      protocol: 'v5.channel.k8s.io',
    });
    await until(id, leftover, 'the exec to start');
    // The client goes away without a word (kubectl killed).
    cs.ws.terminate();
    await until(id, (ps) => !leftover(ps), 'the exec to be ended');
    expect(leftover(await processes(id))).toBe(false);
    await srv.client.call({ method: 'POST', path: '/delete', body: pod });
  }, 180_000);
});
