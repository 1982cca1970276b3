/**
 * Stopping `interlink up` with the docker plugin and a real dockerd leaves nothing behind:
 *
 * - `--cluster` (a throwaway control plane of its own): Ctrl-C — SIGINT to the whole process
 *   group, as a terminal sends it — deletes every pod on the virtual node in the backend
 *   before the cluster goes: no container with the pods' UID labels is left.
 * - `--kubeconfig` (the e2e project's shared cluster, which outlives `up`): stopping leaves the
 *   pods and their containers; the next start adopts them (same containers, no new submit),
 *   and deleting the pod then removes them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { eventually, type Obj, ROOT, run, suffix } from './harness.ts';

const slurmEnv = { ...process.env, SLURM_CONF: inject('slurmConf') };

const execFileP = promisify(execFile);
const id = suffix();
const instance = `e2e-up-stop-${id}`;
const image = inject('testImage');
let dir: string;
let pluginConfig: string;

async function docker(args: string[]): Promise<string> {
  const { stdout } = await execFileP(inject('dockerCli'), args, {
    env: { ...process.env, DOCKER_HOST: inject('dockerHost') },
  });
  return stdout.trim();
}

/** Every container (any state) of this test's plugin instance for a pod UID. */
async function containersOf(uid: string): Promise<string[]> {
  const out = await docker([
    'ps',
    '-aq',
    '--filter',
    `label=interlink.vk.io/instance=${instance}`,
    '--filter',
    `label=interlink.vk.io/pod-uid=${uid}`,
  ]);
  return out === '' ? [] : out.split('\n').sort();
}

interface Up {
  proc: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  kubeconfig: string;
  kubectlBin: string;
  tail(): string;
  /** Ctrl-C: SIGINT to the process group; resolves with the exit code. */
  stop(): Promise<number | null>;
}

async function startUp(args: string[], plugin = 'docker', extraEnv: NodeJS.ProcessEnv = {}): Promise<Up> {
  const proc = spawn(process.execPath, ['src/cli/main.ts', 'up', '--plugin', plugin, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // a process group of its own, as in a terminal
  });
  const output: string[] = [];
  const collect = (c: Buffer) => output.push(...String(c).split('\n').filter(Boolean));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const tail = () => `--- interlink up output (last 60 lines):\n${output.slice(-60).join('\n')}`;
  const kubeconfig = await eventually(
    'the banner',
    async () => {
      if (proc.exitCode !== null) throw new Error(`up exited ${proc.exitCode}\n${tail()}`);
      return output.map((l) => /^export KUBECONFIG=(\S+)$/.exec(l)?.[1]).find(Boolean);
    },
    280_000,
  );
  const kubectlBin = output.map((l) => /^(\S*kubectl) get nodes$/.exec(l)?.[1]).find(Boolean) ?? '';
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid!, 'SIGINT');
    const code = await Promise.race([exited, sleep(150_000).then(() => 'still running' as const)]);
    if (code === 'still running') {
      process.kill(-proc.pid!, 'SIGKILL');
      throw new Error(`interlink up did not stop\n${tail()}`);
    }
    return code;
  };
  return { proc, output, exited, kubeconfig, kubectlBin, tail, stop };
}

function podManifest(name: string, nodeName: string, script: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      nodeSelector: { 'kubernetes.io/hostname': nodeName },
      tolerations: [{ key: 'virtual-node.interlink/no-schedule', operator: 'Exists', effect: 'NoSchedule' }],
      containers: [{ name: 'main', image, command: ['sh', '-c', script] }],
    },
  };
}

async function kubectlAs(up: Up, kubectlBin: string, args: string[], input?: string): Promise<string> {
  const r = await run(
    kubectlBin,
    ['--kubeconfig', up.kubeconfig, ...args],
    input === undefined ? {} : { input },
  );
  if (r.code !== 0)
    throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}\n${up.tail()}`);
  return r.stdout;
}

async function waitPhase(up: Up, kubectlBin: string, name: string, phase: string): Promise<Obj> {
  return eventually(
    `${name} ${phase}`,
    async () => {
      const p = JSON.parse(await kubectlAs(up, kubectlBin, ['get', 'pod', name, '-o', 'json'])) as Obj;
      return p.status?.phase === phase ? p : undefined;
    },
    120_000,
  ).catch(async (err: unknown) => {
    const pod = await kubectlAs(up, kubectlBin, ['get', 'pod', name, '-o', 'yaml']).catch(String);
    throw new Error(`${err}\n${pod}\n--- interlink up, last lines:\n${up.tail()}`);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlink-e2e-up-stop-'));
  pluginConfig = join(dir, 'docker.yaml');
  await writeFile(
    pluginConfig,
    toYaml({
      dockerCli: inject('dockerCli'),
      dockerHost: inject('dockerHost'),
      dataRoot: join(dir, 'data'),
      instance,
      infraImage: image,
      infraCommand: ['sleep', '2147483647'],
    }),
  );
});

afterAll(async () => {
  // Whatever a failed test left: this instance's containers only.
  const left = await docker(['ps', '-aq', '--filter', `label=interlink.vk.io/instance=${instance}`]);
  if (left) await docker(['rm', '-f', ...left.split('\n')]);
  await rm(dir, { recursive: true, force: true });
});

describe('interlink up --cluster --plugin docker', () => {
  it('Ctrl-C deletes every backend pod it created before it exits', async () => {
    const nodeName = `e2e-up-stop-${id}`;
    const up = await startUp([
      '--cluster',
      '--port',
      '0',
      '--nodename',
      nodeName,
      '--plugin-config',
      pluginConfig,
    ]);
    try {
      const kc = up.kubectlBin;
      expect(kc, up.tail()).toMatch(/\/kubectl$/);
      const names = ['long-1', 'long-2', 'done-1'];
      for (const n of names)
        await kubectlAs(
          up,
          kc,
          ['apply', '-f', '-'],
          JSON.stringify(podManifest(n, nodeName, n.startsWith('long') ? 'sleep 3600' : 'echo done')),
        );
      const pods = [
        await waitPhase(up, kc, 'long-1', 'Running'),
        await waitPhase(up, kc, 'long-2', 'Running'),
        await waitPhase(up, kc, 'done-1', 'Succeeded'),
      ];
      const uids = pods.map((p) => p.metadata.uid as string);
      for (const uid of uids) expect((await containersOf(uid)).length, uid).toBeGreaterThan(0);

      const code = await up.stop();
      expect(code, up.tail()).toBe(0);
      for (const uid of uids)
        expect(await containersOf(uid), `containers of ${uid}\n${up.tail()}`).toEqual([]);
      expect(up.output).toContain(
        `stopping: deleting the 3 pods on ${nodeName} so the plugin removes their containers/jobs (up to 60 s)`,
      );
      expect(up.output).toContain('stopping: 3 pods deleted in the backend');
    } finally {
      await up.stop().catch(() => {});
    }
  }, 420_000);
});

describe('interlink up --kubeconfig --plugin docker', () => {
  it('stopping leaves the pods running; the next start adopts them', async () => {
    const nodeName = `e2e-up-adopt-${id}`;
    const kubectlBin = join(inject('k8sBinDir'), 'kubectl');
    const args = [
      '--kubeconfig',
      inject('kubeconfig'),
      '--port',
      '0',
      '--nodename',
      nodeName,
      '--plugin-config',
      pluginConfig,
    ];
    const podName = `adopt-${id}`;
    let up = await startUp(args);
    try {
      expect(up.kubeconfig).toBe(inject('kubeconfig'));
      expect(up.output, up.tail()).toContain('kubectl get nodes');
      await kubectlAs(
        up,
        kubectlBin,
        ['apply', '-f', '-'],
        JSON.stringify(podManifest(podName, nodeName, 'sleep 3600')),
      );
      const pod = await waitPhase(up, kubectlBin, podName, 'Running');
      const uid = pod.metadata.uid as string;
      const before = await containersOf(uid);
      expect(before.length).toBeGreaterThan(0);

      expect(await up.stop(), up.tail()).toBe(0);
      expect(up.output).toContain(
        `stopping: pods on ${nodeName} keep running in the backend; the next start adopts them`,
      );
      expect(await containersOf(uid)).toEqual(before);
      const running = await docker(['inspect', '--format', '{{.State.Running}}', ...before]);
      expect(running.split('\n').every((r) => r === 'true')).toBe(true);

      up = await startUp(args);
      // Adopted: still Running, same pod, same containers (nothing submitted twice).
      await waitPhase(up, kubectlBin, podName, 'Running');
      const again = JSON.parse(await kubectlAs(up, kubectlBin, ['get', 'pod', podName, '-o', 'json'])) as Obj;
      expect(again.metadata.uid).toBe(uid);
      expect(await containersOf(uid)).toEqual(before);

      // Deleting the pod while `up` runs removes its containers, as on any node.
      await kubectlAs(up, kubectlBin, ['delete', 'pod', podName, '--wait=true', '--timeout=120s']);
      await eventually('containers removed', async () => (await containersOf(uid)).length === 0, 60_000);
      expect(await up.stop()).toBe(0);
    } finally {
      await up.stop().catch(() => {});
      await run(kubectlBin, [
        '--kubeconfig',
        inject('kubeconfig'),
        'delete',
        'pod',
        podName,
        '--ignore-not-found',
        '--wait=false',
      ]);
      await run(kubectlBin, [
        '--kubeconfig',
        inject('kubeconfig'),
        'delete',
        'node',
        nodeName,
        '--ignore-not-found',
        '--wait=false',
      ]);
    }
  }, 420_000);
});

describe('interlink up --cluster --plugin slurm', () => {
  it('Ctrl-C cancels the Slurm job of every pod before it exits', async () => {
    const nodeName = `e2e-up-slurm-${id}`;
    const slurmConfig = join(dir, 'slurm.yaml');
    const dataRoot = join(dir, 'slurm-data');
    await writeFile(slurmConfig, toYaml({ dataRoot, containerRuntime: 'none', logPollMs: 200 }));
    const up = await startUp(
      ['--cluster', '--port', '0', '--nodename', nodeName, '--plugin-config', slurmConfig],
      'slurm',
      { SLURM_CONF: inject('slurmConf') },
    );
    try {
      const kc = up.kubectlBin;
      await kubectlAs(
        up,
        kc,
        ['apply', '-f', '-'],
        JSON.stringify(podManifest('slurm-long', nodeName, 'sleep 3600')),
      );
      const pod = await waitPhase(up, kc, 'slurm-long', 'Running');
      const jobName = `il-${pod.metadata.uid}`;
      const queued = async () =>
        (
          await execFileP('squeue', ['--noheader', `--name=${jobName}`, '--format=%i %T'], { env: slurmEnv })
        ).stdout.trim();
      expect(await queued()).not.toBe('');

      expect(await up.stop(), up.tail()).toBe(0);
      expect(up.output).toContain('stopping: 1 pod deleted in the backend');
      // scancel confirmed; the job may show COMPLETING for a moment before squeue drops it.
      await eventually(`squeue empty for ${jobName}`, async () => (await queued()) === '', 60_000);
    } finally {
      await up.stop().catch(() => {});
    }
  }, 420_000);
});
