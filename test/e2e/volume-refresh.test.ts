/**
 * Volume updates of a running pod through the whole chain on docker (docs/volumes.md): the
 * VK re-requests the projected service-account token (tokenRefreshFraction 0.01 of 600 s:
 * every 6 s) and re-reads the volume's ConfigMap (volumeResyncSeconds 1); the plugin rewrites
 * the files, and `kubectl exec` in the running container reads the new token and the edited
 * ConfigMap. The container is never restarted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Chain, eventually, kubectl, must, reportOnFailure, startChain, suffix } from './harness.ts';

const id = suffix();
const image = inject('testImage');
let chain: Chain;
let dataRoot: string;

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-refresh-data-'));
  chain = await startChain({
    plugin: 'docker',
    nodeName: `e2e-refresh-${id}`,
    namespace: `e2e-refresh-${id}`,
    pluginConfig: {
      dockerCli: inject('dockerCli'),
      dockerHost: inject('dockerHost'),
      dataRoot,
      instance: `e2e-refresh-${id}`,
      infraImage: image,
      infraCommand: ['sleep', '2147483647'],
    },
    vkConfig: { tokenRefreshFraction: 0.01, volumeResyncSeconds: 1 },
  });
}, 300_000);

afterAll(async () => {
  await chain?.stop();
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
}, 300_000);

reportOnFailure(() => chain);

const cat = async (path: string) => {
  const r = await kubectl(['exec', '-n', chain.namespace, 'reader', '--', 'cat', path]);
  return r.code === 0 ? r.stdout : undefined;
};

describe('volume updates of a running docker pod', () => {
  it('a refreshed token and an edited ConfigMap reach the running container', async () => {
    await must(['create', 'configmap', 'app-config', '-n', chain.namespace, '--from-literal=app.conf=v1']);
    await chain.apply(
      chain.pod('reader', {
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: 'main',
            image,
            command: ['sleep', '3600'],
            volumeMounts: [
              { name: 'cfg', mountPath: '/etc/cfg' },
              { name: 'tok', mountPath: '/var/run/tok' },
            ],
          },
        ],
        volumes: [
          { name: 'cfg', configMap: { name: 'app-config' } },
          {
            name: 'tok',
            projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 600 } }] },
          },
        ],
      }),
    );
    await chain.waitPhase('reader', 'Running');
    const first = await eventually('the first token', () => cat('/var/run/tok/token'));
    expect(await cat('/etc/cfg/app.conf')).toBe('v1');
    await eventually('a new token in the file', async () => {
      const now = await cat('/var/run/tok/token');
      return now && now !== first ? now : undefined;
    });
    await must([
      'create',
      'configmap',
      'app-config',
      '-n',
      chain.namespace,
      '--from-literal=app.conf=v2',
      '--dry-run=client',
      '-o',
      'yaml',
    ]).then((y) => must(['replace', '-f', '-'], y));
    await eventually('the edited ConfigMap in the file', async () =>
      (await cat('/etc/cfg/app.conf')) === 'v2' ? true : undefined,
    );
    const pod = await chain.getPod('reader');
    expect(pod?.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });
});
