/**
 * The slurm plugin against the real one-node Slurm (test/support/slurm.setup.ts) and the real
 * dockerd (docker runtime), over HTTP as the interLink API calls it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, linkSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseEndpoint } from '../../../src/core/endpoint.ts';
import { HttpClient } from '../../../src/core/http-client.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import { type SlurmConfig, slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { createSlurmPlugin, type SlurmPlugin } from '../../../src/plugins/slurm/plugin.ts';
import { CreateStruct, PingResponse, type PodStatus, PodStatusList } from '../../../src/wire/interlink.ts';
import { HOSTILE, processPod } from './fixtures.ts';

const run = promisify(execFile);
const SLURM_CONF = inject('slurmConf');
const DOCKER_HOST = inject('dockerHost');
const DOCKER_CLI = inject('dockerCli');
const TEST_IMAGE = inject('testImage');
process.env.SLURM_CONF = SLURM_CONF;
const env = { ...process.env, SLURM_CONF };
const REPO = join(import.meta.dirname, '..', '..', '..');

const root = mkdtempSync(join(tmpdir(), 'il-slurm-plugin-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

interface Served {
  client: HttpClient;
  plugin: SlurmPlugin;
  cfg: SlurmConfig;
}

async function serve(name: string, extra: Partial<Parameters<typeof slurmConfig>[0]> = {}): Promise<Served> {
  const cfg = slurmConfig({
    dataRoot: join(root, name),
    containerRuntime: 'none',
    deleteGraceSeconds: 3,
    logPollMs: 100,
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
  return { client, plugin, cfg };
}

type PodLike =
  | ReturnType<typeof processPod>
  | {
      metadata: { name: string; namespace: string; uid: string; annotations?: Record<string, string> };
      spec: object;
    };

const create = (s: Served, pod: PodLike, container: object[] = []) =>
  s.client.call({ method: 'POST', path: '/create', body: { pod, container }, schema: CreateStruct });
const statuses = (s: Served, pods: PodLike[]) =>
  s.client.call({ method: 'GET', path: '/status', body: pods, schema: PodStatusList });
const statusOf = async (s: Served, pod: PodLike) => (await statuses(s, [pod]))[0];
const remove = (s: Served, pod: PodLike) => s.client.call({ method: 'POST', path: '/delete', body: pod });

async function logsOf(s: Served, pod: PodLike, container: string, opts: object = {}): Promise<string> {
  const m = pod.metadata;
  const r = await s.client.stream({
    method: 'GET',
    path: '/getLogs',
    body: { Namespace: m.namespace, PodUID: m.uid, PodName: m.name, ContainerName: container, Opts: opts },
  });
  const chunks: Buffer[] = [];
  for await (const c of r.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const all = (s: PodStatus | undefined) => [...(s?.initContainers ?? []), ...(s?.containers ?? [])];
const byName = (s: PodStatus | undefined, n: string) => all(s).find((c) => c.name === n);
const finished = (s: PodStatus | undefined) => all(s).length > 0 && all(s).every((c) => c.state?.terminated);
const squeueActive = async (id: string) =>
  (
    await run('squeue', ['--noheader', `--jobs=${id}`, '--format=%T'], { env }).catch(() => ({ stdout: '' }))
  ).stdout.trim();
const scontrolJob = async (id: string) => (await run('scontrol', ['show', 'job', id], { env })).stdout;

let procs: Served;
let docker: Served;
beforeAll(async () => {
  procs = await serve('procs');
  docker = await serve('docker', {
    containerRuntime: 'docker',
    runtimePath: DOCKER_CLI,
    jobEnv: { DOCKER_HOST },
    dockerOptions: ['--network=host'],
  });
});

/** Two init and two app containers: order, logs, exit codes (both runtimes). */
async function checkPodLifecycle(s: Served, pod: ReturnType<typeof processPod>) {
  const created = await create(s, pod);
  expect(created.PodUID).toBe(pod.metadata.uid);
  expect(created.PodJID).toMatch(/^\d+$/);
  // Idempotent per UID: the same job, nothing submitted again. Counted by job name in Slurm,
  // not by the plugin's sbatch counter: the tests of this file share the plugin concurrently.
  expect(await create(s, pod)).toEqual(created);
  const { stdout } = await run(
    'squeue',
    ['--noheader', '--states=all', `--name=il-${pod.metadata.uid}`, '--format=%i'],
    { env },
  );
  expect(stdout.trim().split('\n')).toEqual([created.PodJID]);

  const st = await until('all containers terminated', async () => {
    const x = await statusOf(s, pod);
    return finished(x) && x;
  });
  expect(st.JID).toBe(created.PodJID);
  expect(st.initContainers!.map((c) => c.name)).toEqual(['init-1', 'init-2']);
  expect(st.containers!.map((c) => c.name)).toEqual(['app-1', 'app-2']);
  const t = (n: string) => byName(st, n)!.state!.terminated!;
  expect([t('init-1').exitCode, t('init-2').exitCode, t('app-1').exitCode, t('app-2').exitCode]).toEqual([
    0, 0, 3, 0,
  ]);
  expect([t('init-1').reason, t('app-1').reason, t('app-2').reason]).toEqual([
    'Completed',
    'Error',
    'Completed',
  ]);
  const at = (x: string | null | undefined) => Date.parse(x ?? '');
  expect(at(t('init-1').finishedAt)).toBeLessThanOrEqual(at(t('init-2').startedAt));
  expect(at(t('init-2').finishedAt)).toBeLessThanOrEqual(at(t('app-1').startedAt));
  expect(at(t('init-2').finishedAt)).toBeLessThanOrEqual(at(t('app-2').startedAt));
  // app-1 sleeps 2 s: app-2 ran beside it.
  expect(at(t('app-2').startedAt)).toBeLessThan(at(t('app-1').finishedAt));

  expect(await logsOf(s, pod, 'init-1')).toBe('init-1 ran\n');
  expect(await logsOf(s, pod, 'init-2')).toMatch(/^(init-2 ran\noops\n|oops\ninit-2 ran\n)$/);
  expect(await logsOf(s, pod, 'app-1')).toBe('app-1 says hi\n');
  expect(await logsOf(s, pod, 'app-2')).toBe('app-2 line 1\napp-2 line 2\napp-2 line 3\n');
  expect(await logsOf(s, pod, 'app-2', { Tail: 1 })).toBe('app-2 line 3\n');
  expect(await logsOf(s, pod, 'app-2', { Tail: 1, Timestamps: true })).toMatch(
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z app-2 line 3\n$/,
  );
  expect(await logsOf(s, pod, 'app-2', { LimitBytes: 5 })).toBe('app-2');
  // A finished container's log follows to its end and closes.
  expect(await logsOf(s, pod, 'app-1', { Follow: true })).toBe('app-1 says hi\n');
  // The job exits with the worst exit code.
  await until('the job to end with exit code 3', async () =>
    /JobState=FAILED[\s\S]*ExitCode=3:0/.test(await scontrolJob(created.PodJID)),
  );
  return created;
}

describe.concurrent('slurm plugin on a real Slurm', () => {
  it('runs a pod of plain processes (runtime none): order, logs, exit codes', async () => {
    await checkPodLifecycle(procs, processPod(randomUUID()));
  });

  it('runs the same pod in containers on the real dockerd (runtime docker)', async () => {
    const pod = processPod(randomUUID(), { name: 'in-docker', image: TEST_IMAGE });
    await checkPodLifecycle(docker, pod);
    // The containers ran in Docker, and are gone (--rm).
    const { stdout } = await run(
      DOCKER_CLI,
      ['ps', '-a', '--filter', `label=interlink.vk.io/pod-uid=${pod.metadata.uid}`, '--format', '{{.Names}}'],
      { env: { ...process.env, DOCKER_HOST } },
    );
    expect(stdout.trim()).toBe('');
  });

  it('hands hostile strings to the process literally (args, env, #SBATCH comment)', async () => {
    const uid = randomUUID();
    const comment = `$(touch /tmp/il-pwned) \`id\` "q" 'x' # no comment`;
    const pod = {
      metadata: {
        name: 'hostile',
        namespace: 'default',
        uid,
        annotations: { 'slurm-job.vk.io/flags': `--comment ${JSON.stringify(comment)}` },
      },
      spec: {
        containers: [
          {
            name: 'args',
            image: 'x',
            command: ['sh', '-c', 'printf "%s\\0" "$@" > args.out', 'sh', ...HOSTILE],
          },
          {
            name: 'env',
            image: 'x',
            command: ['sh', '-c', 'env -0 > env.out'],
            env: HOSTILE.map((v, i) => ({ name: `H${i}`, value: v })),
          },
        ],
      },
    };
    const { PodJID } = await create(procs, pod);
    await until('done', async () => finished(await statusOf(procs, pod)));
    const dir = procs.plugin.jobDir('default', uid);
    // The VK already expanded `$(VAR)`: the plugin passes everything as it came.
    const expected = HOSTILE;
    expect(readFileSync(join(dir, 'args.out'), 'utf8').split('\0').slice(0, -1)).toEqual(expected);
    const envOut = new Map(
      readFileSync(join(dir, 'env.out'), 'utf8')
        .split('\0')
        .filter((l) => /^H\d+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(HOSTILE.map((_, i) => envOut.get(`H${i}`))).toEqual(expected);
    expect(await scontrolJob(PodJID)).toContain(`Comment=${comment}`);
    expect(existsSync('/tmp/il-pwned')).toBe(false);
  });

  it('a pod cannot steer the runtime CLI on the node with its env (PATH, DOCKER_HOST, LD_PRELOAD): the container gets them, docker does not', async () => {
    // The site names the runtime by PATH lookup (`docker`), as most sites do; the pod brings
    // its own PATH with a `docker` of its own in it (as from a ConfigMap volume, mode 0755).
    const site = await serve('docker-by-path', {
      containerRuntime: 'docker',
      runtimePath: 'docker',
      jobEnv: { DOCKER_HOST, PATH: `${dirname(DOCKER_CLI)}:/usr/bin:/bin` },
      dockerOptions: ['--network=host'],
    });
    const evil = mkdtempSync(join(tmpdir(), 'il-evil-'));
    const marker = join(evil, 'ran-on-the-node');
    writeFileSync(join(evil, 'docker'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    const uid = randomUUID();
    const pod = {
      metadata: { name: 'steer', namespace: 'default', uid },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: TEST_IMAGE,
            command: ['/bin/sh', '-c', 'echo "P=$PATH H=$DOCKER_HOST L=$LD_PRELOAD"'],
            env: [
              { name: 'PATH', value: evil },
              { name: 'DOCKER_HOST', value: 'unix:///nonexistent/docker.sock' },
              { name: 'LD_PRELOAD', value: join(evil, 'nonexistent.so') },
            ],
          },
        ],
      },
    };
    cleanups.push(() => remove(site, pod));
    await create(site, pod);
    const st = await until('terminated', async () => {
      const x = await statusOf(site, pod);
      return finished(x) && x;
    });
    const log = await logsOf(site, pod, 'main');
    expect(log).toContain(`P=${evil} H=unix:///nonexistent/docker.sock L=${join(evil, 'nonexistent.so')}`);
    expect(log).not.toContain('ld.so');
    expect(byName(st, 'main')!.state!.terminated!.exitCode).toBe(0);
    expect(existsSync(marker)).toBe(false);
    rmSync(evil, { recursive: true, force: true });
  });

  it('shows a docker container waiting while the runtime still prepares it (pull, create), running once docker runs it', async () => {
    // A runtime whose `run` takes 4 s before the container exists, as a pull does.
    const dir = mkdtempSync(join(tmpdir(), 'il-slow-docker-'));
    const slow = join(dir, 'docker');
    writeFileSync(slow, `#!/bin/sh\n[ "$1" = run ] && sleep 4\nexec ${DOCKER_CLI} "$@"\n`, { mode: 0o755 });
    const site = await serve('docker-slow-run', {
      containerRuntime: 'docker',
      runtimePath: slow,
      jobEnv: { DOCKER_HOST },
      dockerOptions: ['--network=host'],
    });
    const pod = {
      metadata: { name: 'slow-run', namespace: 'default', uid: randomUUID() },
      spec: { containers: [{ name: 'main', image: TEST_IMAGE, command: ['sleep', '600'] }] },
    };
    cleanups.push(() => remove(site, pod));
    await create(site, pod);
    // The job runs (its batch shell started the container's function) before docker does.
    const waiting = await until('the job running, the container not yet', async () => {
      const x = await statusOf(site, pod);
      return x?.JID && (await squeueActive(x.JID)) === 'RUNNING' ? x : undefined;
    });
    expect(byName(waiting, 'main')?.state?.running).toBeUndefined();
    const running = await until('running', async () => {
      const x = await statusOf(site, pod);
      return byName(x, 'main')?.state?.running ? x : undefined;
    });
    // Running means the container exists: docker can exec into it.
    await run(DOCKER_CLI, ['exec', '--', `il-${pod.metadata.uid}-main`, 'true'], {
      env: { ...process.env, DOCKER_HOST },
    });
    expect(Date.parse(byName(running, 'main')!.state!.running!.startedAt!)).toBeGreaterThan(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('maps a job that hits its time limit (--time via the flags annotation) to DeadlineExceeded', {
    timeout: 240_000,
  }, async () => {
    const pod = {
      metadata: {
        name: 'timeout',
        namespace: 'default',
        uid: randomUUID(),
        annotations: { 'slurm-job.vk.io/flags': '--time=1' },
      },
      spec: { containers: [{ name: 'forever', image: 'x', command: ['sleep', '600'] }] },
    };
    const { PodJID } = await create(procs, pod);
    await until('running', async () => byName(await statusOf(procs, pod), 'forever')?.state?.running, 60_000);
    const st = await until(
      'timed out',
      async () => {
        const x = await statusOf(procs, pod);
        return finished(x) && x;
      },
      200_000,
    );
    const t = byName(st, 'forever')!.state!.terminated!;
    expect(t.reason).toBe('DeadlineExceeded');
    expect(t.message).toContain(`Slurm job ${PodJID} reached its time limit (TIMEOUT)`);
    expect(t.exitCode).toBe(143);
    const slurmState = async () =>
      (
        await run('squeue', ['--noheader', '--states=all', `--jobs=${PodJID}`, '--format=%T'], { env })
      ).stdout.trim();
    await until('Slurm to record TIMEOUT', async () => (await slurmState()) === 'TIMEOUT');
  });

  it('maps a job cancelled behind our back (scancel) to Cancelled', async () => {
    const pod = {
      metadata: { name: 'cancelled', namespace: 'default', uid: randomUUID() },
      spec: { containers: [{ name: 'c', image: 'x', command: ['sleep', '600'] }] },
    };
    const { PodJID } = await create(procs, pod);
    await until('running', async () => byName(await statusOf(procs, pod), 'c')?.state?.running);
    await run('scancel', [PodJID], { env });
    const st = await until('cancelled', async () => {
      const x = await statusOf(procs, pod);
      return finished(x) && x;
    });
    expect(byName(st, 'c')!.state!.terminated).toMatchObject({ reason: 'Cancelled', exitCode: 143 });
  });

  it('shows why a pending job waits (squeue reason), and delete cancels it and cleans up', async () => {
    const pod = {
      metadata: {
        name: 'held',
        namespace: 'default',
        uid: randomUUID(),
        annotations: { 'slurm-job.vk.io/flags': '--hold' },
      },
      spec: {
        initContainers: [{ name: 'i', image: 'x', command: ['true'] }],
        containers: [{ name: 'c', image: 'x', command: ['true'] }],
      },
    };
    const { PodJID } = await create(procs, pod);
    const st = await until('pending', async () => {
      const x = await statusOf(procs, pod);
      return byName(x, 'c')?.state?.waiting?.message?.includes('JobHeldUser') && x;
    });
    expect(byName(st, 'c')!.state!.waiting).toEqual({
      reason: 'JobPending',
      message: `Slurm job ${PodJID} is pending: JobHeldUser (held by its user (scontrol release to start it))`,
    });
    expect(byName(st, 'i')!.state!.waiting!.reason).toBe('JobPending');
    await remove(procs, pod);
    expect(await squeueActive(PodJID)).toBe('');
    expect(existsSync(procs.plugin.jobDir('default', pod.metadata.uid))).toBe(false);
    expect(await statuses(procs, [pod])).toEqual([]);
  });

  it('keeps a pod asking for more than the node has pending, showing the squeue reason', async () => {
    const pod = {
      metadata: { name: 'huge', namespace: 'default', uid: randomUUID() },
      spec: {
        containers: [
          { name: 'c', image: 'x', command: ['true'], resources: { limits: { cpu: '64', memory: '1Gi' } } },
        ],
      },
    };
    const { PodJID } = await create(procs, pod);
    const st = await until('pending with a reason', async () => {
      const x = await statusOf(procs, pod);
      return byName(x, 'c')?.state?.waiting?.message?.includes('PartitionConfig') && x;
    });
    expect(byName(st, 'c')!.state!.waiting).toEqual({
      reason: 'JobPending',
      message: `Slurm job ${PodJID} is pending: PartitionConfig (it asks for more than the partition offers)`,
    });
    expect(await scontrolJob(PodJID)).toMatch(/NumCPUs=64/);
    await remove(procs, pod);
    expect(await squeueActive(PodJID)).toBe('');
  });

  it('refuses a pod whose flags sbatch rejects, with sbatch own words, leaving nothing behind', async () => {
    const pod = {
      metadata: {
        name: 'bad',
        namespace: 'default',
        uid: randomUUID(),
        annotations: { 'slurm-job.vk.io/flags': '--partition=nonexistent' },
      },
      spec: { containers: [{ name: 'c', image: 'x', command: ['true'] }] },
    };
    const err = await create(procs, pod).catch((e: Error & { code: string }) => e);
    expect(err).toMatchObject({ code: 'INVALID_INPUT' });
    expect((err as Error).message).toMatch(/sbatch refused the job: .*invalid partition/i);
    expect(existsSync(procs.plugin.jobDir('default', pod.metadata.uid))).toBe(false);
  });

  it('keeps Secrets owner-only on disk after a real submit: job directory 0700, Secret files 0600 or the pod mode', async () => {
    const pod = {
      metadata: { name: 'secret-modes', namespace: 'default', uid: randomUUID() },
      spec: {
        containers: [
          {
            name: 'c',
            image: TEST_IMAGE,
            command: ['cat', '/s/key', '/m/key'],
            volumeMounts: [
              { name: 's', mountPath: '/s' },
              { name: 'm', mountPath: '/m' },
            ],
          },
        ],
        volumes: [
          { name: 's', secret: { secretName: 'sec' } },
          { name: 'm', secret: { secretName: 'sec', defaultMode: 0o440 } },
        ],
      },
    };
    const secret = { metadata: { name: 'sec', namespace: 'default' }, data: { key: btoa('s3cr3t') } };
    const { PodJID } = await create(docker, pod, [
      { name: 'c', secrets: [secret], configMaps: [], projectedvolumemaps: [], emptyDirs: [] },
    ]);
    expect(PodJID).toMatch(/^\d+$/);
    const dir = docker.plugin.jobDir('default', pod.metadata.uid);
    const mode = (p: string) => statSync(join(dir, p)).mode & 0o777;
    expect(mode('.')).toBe(0o700);
    expect(mode('volumes/s/key')).toBe(0o600);
    expect(mode('volumes/m/key')).toBe(0o440);
    const st = await until('finished', async () => {
      const x = await statusOf(docker, pod);
      return finished(x) && x;
    });
    expect(byName(st, 'c')!.state!.terminated!.exitCode).toBe(0);
    // A last line without a newline comes out as a whole (F) line.
    expect(await logsOf(docker, pod, 'c')).toBe('s3cr3ts3cr3t\n');
  });

  it('refuses sbatch options off the allow-list (--export=BASH_ENV runs code): nothing submitted, nothing run', async () => {
    const marker = join(root, `bash-env-${randomUUID()}`);
    const rc = join(root, `bash-env-${randomUUID()}.sh`);
    writeFileSync(rc, `touch ${marker}\n`);
    for (const flags of [`--export=ALL,BASH_ENV=${rc}`, `--exp=ALL,BASH_ENV=${rc}`]) {
      const pod = {
        metadata: {
          name: 'export',
          namespace: 'default',
          uid: randomUUID(),
          annotations: { 'slurm-job.vk.io/flags': flags },
        },
        spec: { containers: [{ name: 'c', image: 'x', command: ['true'] }] },
      };
      const err = await create(procs, pod).catch((e: Error & { code: string }) => e);
      expect(err).toMatchObject({ code: 'INVALID_INPUT' });
      expect((err as Error).message).toMatch(/is not an sbatch option this site allows/);
      expect((err as Error).message).not.toContain(rc);
      expect(existsSync(procs.plugin.jobDir('default', pod.metadata.uid))).toBe(false);
      const { stdout } = await run('squeue', ['--noheader', `--name=il-${pod.metadata.uid}`, '--format=%i'], {
        env,
      });
      expect(stdout.trim()).toBe('');
    }
    // The same option from the site's own flavor is the site's choice: it reaches sbatch,
    // which runs the BASH_ENV file (what a pod must never get to do).
    const site = await serve('export-site', {
      flavors: { env: { flags: [`--export=ALL,BASH_ENV=${rc}`] } },
      defaultFlavor: 'env',
    });
    const pod = {
      metadata: { name: 'export-site', namespace: 'default', uid: randomUUID() },
      spec: { containers: [{ name: 'c', image: 'x', command: ['true'] }] },
    };
    await create(site, pod);
    await until('the site BASH_ENV to run', async () => existsSync(marker));
  });

  it('refuses path-climbing volume names (#12.2) and option-shaped env names (#12.3): nothing submitted, written or run', async () => {
    const id = randomUUID();
    const marker = join(root, `env-split-${id}`);
    const outside = `il-outside-${id}`;
    const mount = (name: string) => [{ name, mountPath: '/data' }];
    const pods = [
      // An emptyDir and a Secret named to climb out of the job directory.
      {
        volumes: [{ name: `../../${outside}`, emptyDir: {} }],
        containers: [{ name: 'c', image: 'x', command: ['true'], volumeMounts: mount(`../../${outside}`) }],
      },
      {
        volumes: [{ name: `../../../${outside}`, secret: { secretName: 's' } }],
        containers: [
          { name: 'c', image: 'x', command: ['true'], volumeMounts: mount(`../../../${outside}`) },
        ],
      },
      // An env name that env(1) would read as an option running a command outside the container.
      {
        containers: [
          {
            name: 'c',
            image: 'x',
            command: ['true'],
            env: [{ name: `--split-string=touch ${marker}`, value: 'v' }],
          },
        ],
      },
    ];
    for (const spec of pods) {
      const pod = { metadata: { name: 'climb', namespace: 'default', uid: randomUUID() }, spec };
      const secret = {
        metadata: { name: 's', namespace: 'default' },
        data: { k: Buffer.from('v').toString('base64') },
      };
      const err = await create(procs, pod, [{ name: 'c', secrets: [secret] }]).catch(
        (e: Error & { code: string }) => e,
      );
      expect(err).toMatchObject({ code: 'INVALID_INPUT' });
      expect((err as Error).message).not.toContain(outside);
      expect((err as Error).message).not.toContain(marker);
      const jobDir = procs.plugin.jobDir('default', pod.metadata.uid);
      expect(existsSync(jobDir)).toBe(false);
      for (const up of ['..', '../..', '../../..', '../../../..'])
        expect(existsSync(join(jobDir, up, outside)), up).toBe(false);
      const { stdout } = await run('squeue', ['--noheader', `--name=il-${pod.metadata.uid}`, '--format=%i'], {
        env,
      });
      expect(stdout.trim()).toBe('');
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('delete cancels a running job (SIGTERM first; Slurm records CANCELLED), cleans its directory, and is idempotent', async () => {
    const pod = {
      metadata: { name: 'deleted', namespace: 'default', uid: randomUUID() },
      spec: {
        terminationGracePeriodSeconds: 5,
        containers: [
          {
            name: 'c',
            image: 'x',
            command: ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo up; sleep 600 & wait'],
          },
        ],
      },
    };
    const { PodJID } = await create(procs, pod);
    await until('running', async () => (await logsOf(procs, pod, 'c')).includes('up'));
    const dir = procs.plugin.jobDir('default', pod.metadata.uid);
    // A second name for the log's inode, outside the job directory: the trap's last line is
    // still there after the delete removed the directory (polling the file raced the removal).
    const kept = `${dir}.kept-log`;
    linkSync(join(dir, 'containers', 'c.log'), kept);
    try {
      await remove(procs, pod);
      expect(await squeueActive(PodJID)).toBe('');
      expect(existsSync(dir)).toBe(false);
      expect(readFileSync(kept, 'utf8')).toContain('stdout F bye');
    } finally {
      rmSync(kept, { force: true });
    }
    // Slurm's own cancel, not a signal the script survived: CANCELLED, not FAILED.
    expect(await scontrolJob(PodJID)).toMatch(/JobState=CANCELLED /);
    await remove(procs, pod); // again: fine
    expect(await statuses(procs, [pod])).toEqual([]);
  });

  it('answers for many pods with ONE squeue call; a job Slurm forgot is read from its exit-code files', async () => {
    // A plugin of its own: other tests of this file call /status concurrently.
    const procs = await serve('many');
    const a = processPod(randomUUID(), { name: 'many-a' });
    const b = {
      metadata: { name: 'many-b', namespace: 'default', uid: randomUUID() },
      spec: { containers: [{ name: 'c', image: 'x', command: ['sh', '-c', 'exit 5'] }] },
    };
    await Promise.all([create(procs, a), create(procs, b)]);
    await until('b done', async () => finished(await statusOf(procs, b)));
    // Make b's job one Slurm never heard of (as after MinJobAge with no accounting).
    writeFileSync(join(procs.plugin.jobDir('default', b.metadata.uid), 'job.id'), '987654321\n');
    const before = procs.plugin.cli.calls.get('squeue') ?? 0;
    const [sa, sb] = await statuses(procs, [a, b]);
    expect(procs.plugin.cli.calls.get('squeue')).toBe(before + 1);
    expect(sa!.UID).toBe(a.metadata.uid);
    expect(sb!.JID).toBe('987654321');
    expect(byName(sb, 'c')!.state!.terminated).toMatchObject({ exitCode: 5, reason: 'Error' });
    // Only unknown ids: squeue fails ("Invalid job id"), which means "forgotten", not "down".
    const [only] = await statuses(procs, [b]);
    expect(byName(only, 'c')!.state!.terminated).toMatchObject({ exitCode: 5 });
    await until('a done', async () => finished(await statusOf(procs, a)));
  });

  it('reports capacity from sinfo in ping', async () => {
    const p = await procs.client.call({ method: 'GET', path: '/ping', schema: PingResponse });
    expect(p).toMatchObject({ status: 'ok', resources: { cpu: '2', memory: '8000Mi' } });
  });
});

describe('restart safety', () => {
  it('a plugin killed with SIGKILL mid-run and started again loses nothing and submits nothing twice', {
    timeout: 120_000,
  }, async () => {
    const dataRoot = join(root, 'restart');
    const cfgFile = join(root, 'restart.yaml');
    // TCP, so with a token (loopback is shared by every user of a login node).
    const tokenFile = join(root, 'restart-tokens');
    writeFileSync(tokenFile, 'restart-secret api\n', { mode: 0o600 });
    writeFileSync(
      cfgFile,
      `dataRoot: ${dataRoot}\ncontainerRuntime: none\nlogPollMs: 100\nauth:\n  tokenFile: ${tokenFile}\n`,
    );
    const port = 20000 + Math.floor(Math.random() * 20000);
    let child: ChildProcess | undefined;
    const start = async () => {
      child = spawn(process.execPath, [join(REPO, 'src/cli/main.ts'), 'plugin', 'slurm'], {
        env: { ...env, SLURMCONFIGPATH: cfgFile, SIDECARPORT: String(port), LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      });
      cleanups.push(async () => child?.kill('SIGKILL'));
      const c = new HttpClient({
        endpoint: parseEndpoint(`http://127.0.0.1:${port}`, undefined),
        token: () => 'restart-secret',
        timeoutMs: 30_000,
      });
      await until(
        'plugin up',
        async () => (await c.call({ method: 'GET', path: '/healthz' })) !== undefined,
        30_000,
      );
      return c;
    };
    const s1 = { client: await start() } as Served;
    // The attack: another local user calls the plugin's TCP port without the token.
    const intruder = {
      metadata: { name: 'intruder', namespace: 'default', uid: randomUUID() },
      spec: { containers: [{ name: 'c', image: 'x', command: ['sh', '-c', 'echo pwned'] }] },
    };
    const refused = await fetch(`http://127.0.0.1:${port}/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pod: intruder, container: [] }),
    });
    expect(refused.status).toBe(401);
    await refused.body?.cancel();
    const none = await run('squeue', ['--noheader', '--states=all', `--name=il-${intruder.metadata.uid}`], {
      env,
    });
    expect(none.stdout.trim()).toBe('');
    expect(existsSync(join(dataRoot, `default-${intruder.metadata.uid}`))).toBe(false);
    const pod = {
      metadata: { name: 'survivor', namespace: 'default', uid: randomUUID() },
      spec: {
        initContainers: [{ name: 'i', image: 'x', command: ['sh', '-c', 'echo init done'] }],
        containers: [
          { name: 'c', image: 'x', command: ['sh', '-c', 'echo before; sleep 6; echo after; exit 4'] },
        ],
      },
    };
    const { PodJID } = await create(s1, pod);
    await until('running', async () => byName(await statusOf(s1, pod), 'c')?.state?.running);
    child!.kill('SIGKILL');
    await s1.client.close();

    const s2 = { client: await start() } as Served;
    const again = await statusOf(s2, pod);
    expect(again!.JID).toBe(PodJID);
    expect(byName(again, 'i')!.state!.terminated!.exitCode).toBe(0);
    expect(await create(s2, pod)).toEqual({ PodUID: pod.metadata.uid, PodJID });
    const { stdout } = await run(
      'squeue',
      ['--noheader', '--states=all', `--name=il-${pod.metadata.uid}`, '--format=%i'],
      { env },
    );
    expect(stdout.trim().split('\n')).toEqual([PodJID]);
    // Follow from the new process streams to the end.
    expect(await logsOf(s2, pod, 'c', { Follow: true })).toBe('before\nafter\n');
    const st = await until('done', async () => {
      const x = await statusOf(s2, pod);
      return finished(x) && x;
    });
    expect(byName(st, 'c')!.state!.terminated!.exitCode).toBe(4);
    await remove(s2, pod);
    expect(existsSync(join(dataRoot, `default-${pod.metadata.uid}`))).toBe(false);
    child!.kill('SIGTERM');
    await s2.client.close();
  });
});
