/**
 * Probes through the real one-node Slurm: the job script's probe loops write their results
 * into the job directory and the status call reports them (ready only once the readiness
 * check passes; a liveness failure under restartPolicy Never ends the container with a
 * message saying why), for plain processes (runtime none) and for the docker runtime (the
 * exec probe runs inside the container with `docker exec`).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
const root = mkdtempSync(join(tmpdir(), 'il-slurm-probes-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

async function serve(name: string, extra: Record<string, unknown> = {}) {
  const cfg = slurmConfig({
    dataRoot: join(root, name),
    containerRuntime: 'none',
    deleteGraceSeconds: 3,
    ...extra,
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

type PodLike = { metadata: { name: string; namespace: string; uid: string }; spec: object };

async function statusUntil(client: HttpClient, pod: PodLike, what: string, done: (s: PodStatus) => boolean) {
  const end = Date.now() + 90_000;
  let last: PodStatus | undefined;
  while (Date.now() < end) {
    [last] = await client.call({ method: 'GET', path: '/status', body: [pod], schema: PodStatusList });
    if (last && done(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

const main = (s: PodStatus) => s.containers?.find((c) => c.name === 'main');

function pod(name: string, container: object): PodLike {
  return {
    metadata: { name, namespace: 'default', uid: randomUUID() },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 2,
      containers: [{ name: 'main', image: 'x', ...container }],
    },
  };
}

describe('slurm probes (runtime none)', () => {
  it('ready only once the readiness check passes', async () => {
    const client = await serve('ready');
    const flag = join(root, `flag-${randomUUID()}`);
    const p = pod('ready', {
      command: ['sleep', '60'],
      readinessProbe: { exec: { command: ['test', '-e', flag] }, periodSeconds: 1 },
    });
    cleanups.push(() => client.call({ method: 'POST', path: '/delete', body: p }));
    await client.call({ method: 'POST', path: '/create', body: { pod: p, container: [] } });
    const failing = await statusUntil(client, p, 'a failed readiness check', (s) =>
      (main(s)?.probeEvents ?? []).some((e) => e.reason === 'Unhealthy'),
    );
    expect(main(failing)).toMatchObject({ ready: false });
    expect(main(failing)?.state?.running).toBeDefined();
    writeFileSync(flag, '');
    await statusUntil(client, p, 'ready', (s) => main(s)?.ready === true);
  });

  it('a liveness failure under restartPolicy Never ends the container with the reason', async () => {
    const client = await serve('live');
    const p = pod('live', {
      command: ['sleep', '600'],
      livenessProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 2 },
    });
    cleanups.push(() => client.call({ method: 'POST', path: '/delete', body: p }));
    await client.call({ method: 'POST', path: '/create', body: { pod: p, container: [] } });
    const s = await statusUntil(client, p, 'terminated', (x) => main(x)?.state?.terminated !== undefined);
    expect(main(s)?.state?.terminated).toMatchObject({
      message: 'The container was killed: it failed liveness probe',
    });
    expect(main(s)?.state?.terminated?.exitCode).not.toBe(0);
    expect((main(s)?.probeEvents ?? []).map((e) => e.reason)).toEqual(['Unhealthy', 'Killing']);
  });
});

describe('slurm probes (runtime docker)', () => {
  it('an exec readiness probe runs inside the container', async () => {
    const client = await serve('docker', {
      containerRuntime: 'docker',
      runtimePath: inject('dockerCli'),
      jobEnv: { DOCKER_HOST: inject('dockerHost') },
      dockerOptions: ['--network=host'],
    });
    const p = pod('dready', {
      image: inject('testImage'),
      command: ['sleep', '600'],
      readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
    });
    cleanups.push(() => client.call({ method: 'POST', path: '/delete', body: p }));
    await client.call({ method: 'POST', path: '/create', body: { pod: p, container: [] } });
    const failing = await statusUntil(
      client,
      p,
      'a failed readiness check',
      (x) => (main(x)?.probeEvents ?? []).some((e) => e.reason === 'Unhealthy') && !!main(x)?.state?.running,
    );
    expect(main(failing)?.ready).toBe(false);
    // The file exists only inside the container: a probe run anywhere else keeps failing.
    await run(inject('dockerCli'), ['exec', '--', `il-${p.metadata.uid}-main`, 'touch', '/tmp/ready'], {
      env: { ...process.env, DOCKER_HOST: inject('dockerHost') },
    });
    await statusUntil(client, p, 'ready', (x) => main(x)?.ready === true);
  });
});
