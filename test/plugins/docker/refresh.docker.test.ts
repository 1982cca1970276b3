/**
 * Volume refresh on the real dockerd (core/pod/refresh.ts): a repeated create of a running
 * pod carrying a new service-account token, an edited ConfigMap and a changed Secret shows
 * the new content inside the running container, in the bind-mounted volume directories
 * (the Secret file stays 0600); a subPath mount keeps the content it started with, as on
 * a kubelet; the container is not restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const b64 = (s: string) => Buffer.from(s).toString('base64');

function retrieved(token: string, conf: string, password: string) {
  return [
    {
      name: 'app',
      configMaps: [{ metadata: { name: 'app-config' }, data: { 'app.conf': conf } }],
      secrets: [{ metadata: { name: 'app-secret' }, data: { password: b64(password) } }],
      projectedvolumemaps: [{ metadata: { name: 'kube-api-access' }, data: { token, namespace: 'default' } }],
    },
  ];
}

describe('docker plugin: volume refresh', () => {
  it('a repeated create rewrites the token, ConfigMap and Secret files of the running pod', async () => {
    const pod = makePod('refresh', {
      containers: [
        {
          name: 'app',
          image: image(),
          command: ['sleep', '600'],
          volumeMounts: [
            { name: 'cfg', mountPath: '/etc/cfg' },
            { name: 'cfg', mountPath: '/etc/one', subPath: 'app.conf' },
            { name: 'sec', mountPath: '/etc/sec' },
            { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          ],
        },
      ],
      volumes: [
        { name: 'cfg', configMap: { name: 'app-config' } },
        { name: 'sec', secret: { secretName: 'app-secret' } },
        {
          name: 'kube-api-access',
          projected: {
            sources: [
              { serviceAccountToken: { path: 'token', expirationSeconds: 600 } },
              {
                downwardAPI: {
                  items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }],
                },
              },
            ],
          },
        },
      ],
    });
    await create(srv.client, pod, retrieved('token-1', 'v1\n', 'pw-1'));
    await waitFor(srv.client, pod, (x) => running(x, 'app'), 'app to run');
    const id = await docker([
      'ps',
      '-q',
      '--filter',
      `label=interlink.vk.io/pod-uid=${pod.metadata.uid}`,
      '--filter',
      'label=interlink.vk.io/container-name=app',
    ]);
    const read = () =>
      docker([
        'exec',
        id,
        'sh',
        '-c',
        'cat /var/run/secrets/kubernetes.io/serviceaccount/token /etc/cfg/app.conf /etc/sec/password /etc/one; echo; stat -c %a /etc/sec/password',
      ]);
    expect(await read()).toBe('token-1v1\npw-1v1\n\n600');
    await create(srv.client, pod, retrieved('token-2', 'v2\n', 'pw-2'));
    // The subPath mount (/etc/one) pins the file it started with.
    expect(await read()).toBe('token-2v2\npw-2v1\n\n600');
    expect(await docker(['inspect', '-f', '{{.RestartCount}} {{.State.Running}}', id])).toBe('0 true');
  });
});
