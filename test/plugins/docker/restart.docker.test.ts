/**
 * Restart safety: the plugin runs as its own process (`node src/cli/main.ts plugin docker`),
 * is killed with SIGKILL in the middle of a pod's init sequence and again while the pod
 * runs, and each new process finds the pod from the container labels alone: it finishes
 * the init sequence, reports the pod and deletes it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../../src/core/http-client.ts';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import {
  cleanup,
  containersOf,
  create,
  docker,
  image,
  makePod,
  running,
  state,
  status,
  terminated,
  testConfig,
  waitFor,
} from './harness.ts';

const MAIN = join(import.meta.dirname, '..', '..', '..', 'src', 'cli', 'main.ts');

let cfg: DockerConfig;
let configFile: string;
let socket: string;
let child: ChildProcess | undefined;
let client: HttpClient;
let stderr = '';
/** While this file exists, every `docker create` of the plugin waits (the wrapper below). */
let hold: string;

/** Start the plugin process and wait until it answers on its socket. */
async function startPlugin(): Promise<void> {
  // One plugin process at a time: a test that ends with its plugin running hands it on here
  // (afterAll kills only the last one; an overwritten child would outlive the run).
  if (child) await kill9();
  stderr = '';
  child = spawn(process.execPath, [MAIN, 'plugin', 'docker'], {
    env: { ...process.env, DOCKERCONFIGPATH: configFile, SIDECARSOCKET: socket, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  // Generous: a node process starting on a saturated host (the suites share 2 cores).
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`plugin exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await client.call({ method: 'GET', path: '/readyz', timeoutMs: 2000 })) === 'ok') return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`plugin did not become ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Poll `done` (another process does the work) until it holds; fails after 90 s. */
async function until(done: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function kill9(): Promise<void> {
  const c = child!;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGKILL');
  await exited;
  child = undefined;
}

beforeAll(async () => {
  cfg = await testConfig();
  configFile = join(cfg.dataRoot, 'docker-plugin.yaml');
  socket = join(cfg.dataRoot, 'plugin.sock');
  hold = join(cfg.dataRoot, 'hold-create');
  // A stand-in CLI, as the configurable binary path allows: holds creates while `hold` exists.
  const wrapper = join(cfg.dataRoot, 'docker-wrapper');
  await writeFile(
    wrapper,
    `#!/bin/sh\nif [ "$1" = create ]; then while [ -e '${hold}' ]; do sleep 0.1; done; fi\nexec '${cfg.dockerCli}' "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  // JSON is YAML.
  await writeFile(
    configFile,
    JSON.stringify({
      dockerCli: join(cfg.dataRoot, 'docker-wrapper'),
      dockerHost: cfg.dockerHost,
      dataRoot: cfg.dataRoot,
      instance: cfg.instance,
      infraImage: cfg.infraImage,
      infraCommand: cfg.infraCommand,
      reconcileIntervalMs: 100,
      // Answer every delete once recorded, so a kill -9 can land while the removal runs.
      deleteAnswerSeconds: 0,
    }),
  );
  client = new HttpClient({ endpoint: { kind: 'unix', path: socket }, timeoutMs: 120_000 });
});

afterAll(async () => {
  if (child) await kill9();
  await client?.close();
  if (cfg) await cleanup(cfg);
});

describe('docker plugin restarts', () => {
  it('resumes init sequencing, reports and deletes a pod after kill -9', async () => {
    await startPlugin();
    const pod = makePod('survivor', {
      terminationGracePeriodSeconds: 1,
      initContainers: [
        {
          name: 'gate',
          image: image(),
          command: ['sh', '-c', 'until [ -e /w/go ]; do sleep 0.1; done; echo gate-open > /w/log'],
          volumeMounts: [{ name: 'w', mountPath: '/w' }],
        },
      ],
      containers: [
        {
          name: 'app',
          image: image(),
          command: ['sh', '-c', 'cat /w/log; exec sleep 3600'],
          volumeMounts: [{ name: 'w', mountPath: '/w' }],
        },
      ],
      volumes: [{ name: 'w', emptyDir: {} }],
    });
    const created = (await create(client, pod)) as { PodJID: string };
    await waitFor(client, pod, (s) => running(s, 'gate'), 'the init container to run');

    // Killed mid-sequence; the init container finishes while no plugin runs.
    await kill9();
    await writeFile(join(cfg.dataRoot, pod.metadata.uid, 'empty', 'w', 'go'), '');
    const gateId = () =>
      docker([
        'ps',
        '-aq',
        '--no-trunc',
        '--filter',
        `label=interlink.vk.io/pod-uid=${pod.metadata.uid}`,
        '--filter',
        'label=interlink.vk.io/role=init',
      ]);
    for (
      let i = 0;
      (await docker(['inspect', '--format', '{{.State.Status}}', await gateId()])) !== 'exited';
      i++
    ) {
      if (i > 300) throw new Error('init container did not finish');
      await new Promise((r) => setTimeout(r, 100));
    }
    const app = await docker([
      'ps',
      '-aq',
      '--filter',
      `label=interlink.vk.io/pod-uid=${pod.metadata.uid}`,
      '--filter',
      'label=interlink.vk.io/role=app',
    ]);
    expect(await docker(['inspect', '--format', '{{.State.Status}}', app])).toBe('created');

    // A new process picks the sequence up from the labels and starts the app container.
    await startPlugin();
    const s = await waitFor(
      client,
      pod,
      (x) => running(x, 'app'),
      'the app container to start after the restart',
    );
    expect(s.JID).toBe(created.PodJID);
    expect(terminated(s, 'gate')).toMatchObject({ exitCode: 0, reason: 'Completed' });

    // Killed while the pod runs: the next process still reports it, and deletes it.
    await kill9();
    await startPlugin();
    const [again] = await status(client, [pod]);
    expect(running(again!, 'app')).toBe(true);
    const logs = await client.stream({
      method: 'GET',
      path: '/getLogs',
      body: {
        Namespace: 'default',
        PodUID: pod.metadata.uid,
        PodName: pod.metadata.name,
        ContainerName: 'app',
        Opts: {},
      },
    });
    let text = '';
    for await (const c of logs.body) text += Buffer.from(c as Uint8Array).toString();
    expect(text).toBe('gate-open\n');
    await client.call({ method: 'POST', path: '/delete', body: pod });
    // Answered once recorded: wait for the background removal (another process: poll).
    await until(async () => (await containersOf(cfg, pod.metadata.uid)).length === 0, 'the removal');
    await until(async () => !existsSync(join(cfg.dataRoot, pod.metadata.uid)), 'the pod directory to go');
    expect(await containersOf(cfg, pod.metadata.uid)).toEqual([]);
    expect(existsSync(join(cfg.dataRoot, pod.metadata.uid))).toBe(false);
    const [gone] = await status(client, [pod]);
    expect(terminated(gone!, 'app')?.exitCode).toBe(137);
  }, 300_000);

  it('a delete answered before kill -9 is finished by the next process', async () => {
    await startPlugin();
    // `sleep` as PID 1 ignores SIGTERM: the stop takes the whole grace period.
    const pod = makePod('answered', {
      terminationGracePeriodSeconds: 15,
      containers: [{ name: 'app', image: image(), command: ['sleep', '3600'] }],
    });
    await create(client, pod);
    await waitFor(client, pod, (s) => running(s, 'app'), 'the container to run');
    await client.call({ method: 'POST', path: '/delete', body: pod });
    // Answered once recorded: the stop (15 s grace) is still under way.
    expect(await containersOf(cfg, pod.metadata.uid)).not.toEqual([]);
    expect(existsSync(join(cfg.dataRoot, pod.metadata.uid, '.deleting'))).toBe(true);
    await kill9();
    await startPlugin();
    await until(async () => (await containersOf(cfg, pod.metadata.uid)).length === 0, 'the removal');
    await until(async () => !existsSync(join(cfg.dataRoot, pod.metadata.uid)), 'the pod directory to go');
    const [gone] = await status(client, [pod]);
    expect(terminated(gone!, 'app')).toBeDefined();
  }, 300_000);

  it('a create answered before kill -9 is carried out by the next process, each container started once', async () => {
    await startPlugin();
    const since = Math.floor(Date.now() / 1000) - 1;
    const pod = makePod('recorded', {
      terminationGracePeriodSeconds: 0,
      initContainers: [{ name: 'init', image: image(), command: ['true'] }],
      containers: [{ name: 'app', image: image(), command: ['sleep', '3600'] }],
    });
    const { uid, name } = pod.metadata;
    await writeFile(hold, '');
    // Answered while every docker create is held: recorded, nothing made yet.
    const created = (await create(client, pod)) as { PodUID: string; PodJID: string };
    expect(created).toEqual({ PodUID: uid, PodJID: `ilk_POD_${name}_default_${uid}` });
    expect(existsSync(join(cfg.dataRoot, uid, '.creating'))).toBe(true);
    const [before] = await status(client, [pod]);
    expect(state(before!, 'init')?.waiting?.reason).toBe('PodInitializing');
    expect(state(before!, 'app')?.waiting?.reason).toBe('PodInitializing');
    // Killed with a `docker create` in flight: the orphaned CLI call completes once released.
    await kill9();
    await rm(hold);
    await startPlugin();
    const s = await waitFor(client, pod, (x) => running(x, 'app'), 'the app to run after the restart');
    expect(s.JID).toBe(created.PodJID);
    expect(terminated(s, 'init')).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(existsSync(join(cfg.dataRoot, uid, '.creating'))).toBe(false);
    const ids = await containersOf(cfg, uid);
    expect(ids).toHaveLength(3);
    const upTo = Math.ceil(Date.now() / 1000) + 1;
    const starts = (
      await docker([
        'events',
        '--since',
        String(since),
        '--until',
        String(upTo),
        '--filter',
        'type=container',
        '--filter',
        'event=start',
        '--filter',
        `label=interlink.vk.io/pod-uid=${uid}`,
        '--format',
        '{{.Actor.ID}}',
      ])
    )
      .split('\n')
      .filter((l) => l !== '')
      .sort();
    expect(starts).toEqual((await docker(['inspect', '--format', '{{.Id}}', ...ids])).split('\n').sort());
    await client.call({ method: 'POST', path: '/delete', body: pod });
    await until(async () => (await containersOf(cfg, uid)).length === 0, 'the removal');
  }, 300_000);
});
