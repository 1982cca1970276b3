/**
 * The docker plugin's `GET /list` against the real test dockerd: it lists what runs and what
 * finished, from the container labels, so a new plugin process (a restart) lists the same;
 * a deleted pod leaves the list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import { BackendPodList, CreateStruct } from '../../../src/wire/interlink.ts';
import type { Pod } from '../../../src/wire/k8s.ts';
import {
  cleanup,
  image,
  makePod,
  running,
  type Served,
  serve,
  terminated,
  testConfig,
  waitFor,
} from './harness.ts';

let cfg: DockerConfig;
let served: Served | undefined;

beforeAll(async () => {
  cfg = await testConfig();
});
afterAll(async () => {
  await served?.close();
  await cleanup(cfg);
});

const list = async (s: Served) =>
  (await s.client.call({ method: 'GET', path: '/list', schema: BackendPodList })).sort((a, b) =>
    a.name.localeCompare(b.name),
  );

describe('docker plugin GET /list (real dockerd)', () => {
  it('lists running and finished pods with their job ids, also after a restart, and not once deleted', async () => {
    served = await serve(cfg);
    expect(await list(served)).toEqual([]);
    const long = makePod('list-long', {
      containers: [{ name: 'main', image: image(), command: ['sleep', '3600'] }],
    });
    const short = makePod('list-short', {
      containers: [{ name: 'main', image: image(), command: ['true'] }],
    });
    const jids = new Map<string, string>();
    for (const p of [long, short]) {
      const answer = CreateStruct.parse(
        await served.client.call({ method: 'POST', path: '/create', body: { pod: p, container: [] } }),
      );
      jids.set(p.metadata.uid, answer.PodJID);
    }
    await waitFor(served.client, long, (s) => running(s, 'main'), 'long running');
    await waitFor(served.client, short, (s) => terminated(s, 'main') !== undefined, 'short finished');
    const want = (p: Pod) => ({
      UID: p.metadata.uid,
      namespace: 'default',
      name: p.metadata.name,
      JID: jids.get(p.metadata.uid),
    });
    expect(await list(served)).toEqual([want(long), want(short)]);

    // A restarted plugin (new process state, nothing but Docker's labels) lists the same.
    await served.close();
    served = await serve(cfg);
    expect(await list(served)).toEqual([want(long), want(short)]);

    await served.client.call({
      method: 'POST',
      path: '/delete',
      body: { ...long, metadata: { ...long.metadata, deletionGracePeriodSeconds: 0 } },
    });
    await served.plugin.deletesSettled();
    expect(await list(served)).toEqual([want(short)]);
  });
});
