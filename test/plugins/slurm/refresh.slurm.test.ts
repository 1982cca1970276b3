/**
 * Volume refresh through the real one-node Slurm (shared filesystem, docker runtime): a
 * repeated create of a running pod with a new service-account token, an edited ConfigMap
 * and a changed Secret rewrites the files in the job directory's volumes/, and the running
 * container sees them (the Secret file stays 0600); the job is not resubmitted.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseEndpoint } from '../../../src/core/endpoint.ts';
import { HttpClient } from '../../../src/core/http-client.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import { slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { createSlurmPlugin } from '../../../src/plugins/slurm/plugin.ts';
import { type PodStatus, PodStatusList } from '../../../src/wire/interlink.ts';

const run = promisify(execFile);
process.env.SLURM_CONF = inject('slurmConf');
const root = mkdtempSync(join(tmpdir(), 'il-slurm-refresh-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

async function serve(): Promise<HttpClient> {
  const cfg = slurmConfig({
    dataRoot: join(root, 'data'),
    containerRuntime: 'docker',
    runtimePath: inject('dockerCli'),
    jobEnv: { DOCKER_HOST: inject('dockerHost') },
    dockerOptions: ['--network=host'],
    deleteGraceSeconds: 3,
  });
  const plugin = createSlurmPlugin({ config: cfg, logger: silentLogger(), pollMs: 200 });
  const { app } = buildPluginApp(plugin, { logger: silentLogger() });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const client = new HttpClient({
    endpoint: parseEndpoint(`http://127.0.0.1:${port}`, undefined),
    timeoutMs: 60_000,
  });
  cleanups.push(async () => {
    await client.close();
    await app.close();
  });
  return client;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function retrieved(token: string, conf: string, password: string) {
  return [
    {
      name: 'main',
      configMaps: [{ metadata: { name: 'app-config' }, data: { 'app.conf': conf } }],
      secrets: [{ metadata: { name: 'app-secret' }, data: { password: b64(password) } }],
      projectedvolumemaps: [{ metadata: { name: 'kube-api-access' }, data: { token } }],
    },
  ];
}

describe('slurm plugin: volume refresh (docker runtime)', () => {
  it('a repeated create rewrites the token, ConfigMap and Secret files the container sees', async () => {
    const client = await serve();
    const pod = {
      metadata: { name: 'refresh', namespace: 'default', uid: randomUUID() },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'main',
            image: inject('testImage'),
            command: ['sleep', '600'],
            volumeMounts: [
              { name: 'cfg', mountPath: '/etc/cfg' },
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
            projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 600 } }] },
          },
        ],
      },
    };
    cleanups.push(() => client.call({ method: 'POST', path: '/delete', body: pod }));
    const first = await client.call({
      method: 'POST',
      path: '/create',
      body: { pod, container: retrieved('token-1', 'v1\n', 'pw-1') },
    });
    const end = Date.now() + 90_000;
    let s: PodStatus | undefined;
    while (Date.now() < end) {
      [s] = await client.call({ method: 'GET', path: '/status', body: [pod], schema: PodStatusList });
      if (s?.containers?.[0]?.state?.running) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(s?.containers?.[0]?.state?.running).toBeDefined();
    const read = async () => {
      const { stdout } = await run(
        inject('dockerCli'),
        [
          'exec',
          '--',
          `il-${pod.metadata.uid}-main`,
          'sh',
          '-c',
          'cat /var/run/secrets/kubernetes.io/serviceaccount/token /etc/cfg/app.conf /etc/sec/password; echo; stat -c %a /etc/sec/password',
        ],
        { env: { ...process.env, DOCKER_HOST: inject('dockerHost') } },
      );
      return stdout.trim();
    };
    // The container starts a moment after the job reports it running.
    const t0 = Date.now();
    let before = '';
    while (Date.now() - t0 < 30_000) {
      before = await read().catch(() => '');
      if (before !== '') break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(before).toBe('token-1v1\npw-1\n600');
    const again = await client.call({
      method: 'POST',
      path: '/create',
      body: { pod, container: retrieved('token-2', 'v2\n', 'pw-2') },
    });
    expect(again).toEqual(first);
    expect(await read()).toBe('token-2v2\npw-2\n600');
  });
});
