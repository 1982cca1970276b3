/**
 * The whole chain with the docker plugin (issue 5, acceptance "End to end"): the real
 * apiserver, the VK, the interLink API and the docker plugin, each a child process
 * (test/e2e/harness.ts), against the real dockerd and the locally built busybox image.
 *
 * Pods, a Job and a Deployment are driven with kubectl only; the backend is inspected with
 * the docker CLI (containers by the pod-UID label) and the plugin's data root.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type Chain,
  errorsOf,
  eventually,
  followLogs,
  getJson,
  must,
  type Obj,
  reportOnFailure,
  startChain,
  suffix,
} from './harness.ts';

const execFileP = promisify(execFile);
const id = suffix();
const instance = `e2e-chain-${id}`;
const image = inject('testImage');
let chain: Chain;
let dataRoot: string;

async function docker(args: string[]): Promise<string> {
  const { stdout } = await execFileP(inject('dockerCli'), args, {
    env: { ...process.env, DOCKER_HOST: inject('dockerHost') },
  });
  return stdout.trim();
}

/** Every container (any state) the plugin made for this pod UID, infra included. */
async function containersOf(uid: string): Promise<string[]> {
  const out = await docker([
    'ps',
    '-aq',
    '--filter',
    `label=interlink.vk.io/instance=${instance}`,
    '--filter',
    `label=interlink.vk.io/pod-uid=${uid}`,
  ]);
  return out === '' ? [] : out.split('\n');
}

const sh = (script: string) => ({ name: 'main', image, command: ['sh', '-c', script] });
const terminated = (p: Obj, name = 'main') =>
  (p.status.containerStatuses as Obj[]).find((c) => c.name === name)?.state?.terminated as Obj | undefined;

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-docker-data-'));
  chain = await startChain({
    plugin: 'docker',
    nodeName: `e2e-docker-chain-${id}`,
    namespace: `e2e-docker-chain-${id}`,
    pluginConfig: {
      dockerCli: inject('dockerCli'),
      dockerHost: inject('dockerHost'),
      dataRoot,
      instance,
      infraImage: image,
      infraCommand: ['sleep', '2147483647'],
    },
  });
}, 300_000);

afterAll(async () => {
  await chain?.stop();
  // Safety net after failures only: the chain's own delete should have left nothing.
  const left = await docker(['ps', '-aq', '--filter', `label=interlink.vk.io/instance=${instance}`]).catch(
    () => '',
  );
  if (left) await docker(['rm', '-f', '-v', ...left.split('\n')]).catch(() => undefined);
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
}, 300_000);

reportOnFailure(() => chain);

describe('pods on the docker virtual node', () => {
  it('a Pod runs to Succeeded with exit code 0 and its output in kubectl logs', async () => {
    await chain.apply(chain.pod('hello', { containers: [sh('echo "hello from docker"; echo second line')] }));
    const p = await chain.waitPhase('hello', 'Succeeded');
    expect(p.spec.nodeName).toBe(chain.nodeName);
    const t = terminated(p);
    expect(t).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(await must(['logs', '-n', chain.namespace, 'hello'])).toBe('hello from docker\nsecond line\n');
    expect(await must(['logs', '-n', chain.namespace, 'hello', '-c', 'main', '--tail=1'])).toBe(
      'second line\n',
    );
  });

  it('$(VAR) references are expanded once, as Kubernetes does (the VK expands; the plugin must not again)', async () => {
    // `$$(A)` is Kubernetes' escape for a literal `$(A)`; a Secret value holding `$(A)` reaches
    // the plugin as a literal value too (the VK resolves valueFrom). Expanded a second time,
    // both would become "outer".
    await must([
      'create',
      'secret',
      'generic',
      'dollar',
      '-n',
      chain.namespace,
      '--from-literal=token=s3cr3t$(A)',
    ]);
    await chain.apply(
      chain.pod('expand-once', {
        containers: [
          {
            ...sh('echo "B=$B C=$C S=$S"; echo "arg=$0"'),
            args: ['$(C)/$$(A)'],
            env: [
              { name: 'A', value: 'outer' },
              { name: 'B', value: '$$(A)' },
              { name: 'C', value: '$(A)' },
              { name: 'S', valueFrom: { secretKeyRef: { name: 'dollar', key: 'token' } } },
            ],
          },
        ],
      }),
    );
    await chain.waitPhase('expand-once', 'Succeeded');
    expect(await must(['logs', '-n', chain.namespace, 'expand-once'])).toBe(
      'B=$(A) C=outer S=s3cr3t$(A)\narg=outer/$(A)\n',
    );
  });

  it('a failing Pod ends Failed with its exit code in the container status', async () => {
    await chain.apply(chain.pod('fails', { containers: [sh('echo about to fail >&2; exit 3')] }));
    const p = await chain.waitPhase('fails', 'Failed');
    expect(terminated(p)).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(await must(['logs', '-n', chain.namespace, 'fails'])).toBe('about to fail\n');
  });

  it('a Job with completions 2 completes', async () => {
    await chain.apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'twice', namespace: chain.namespace },
      spec: {
        completions: 2,
        parallelism: 2,
        backoffLimit: 0,
        template: chain.template({
          restartPolicy: 'Never',
          containers: [sh('echo "job pod $(hostname)"; sleep 2')],
        }),
      },
    });
    const job = await eventually(
      'Job twice Complete',
      async () => {
        const j = await getJson(['job', 'twice', '-n', chain.namespace]);
        const conds = (j.status?.conditions ?? []) as Obj[];
        if (conds.some((c) => c.type === 'Failed' && c.status === 'True'))
          throw new Error(`Job failed: ${JSON.stringify(j.status)}`);
        return conds.some((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
      },
      180_000,
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}\n${await chain.report()}`);
    });
    expect(job.status.succeeded).toBe(2);
    const pods = (await getJson(['pods', '-n', chain.namespace, '-l', 'job-name=twice'])).items as Obj[];
    expect(pods.map((p) => [p.spec.nodeName, p.status.phase])).toEqual([
      [chain.nodeName, 'Succeeded'],
      [chain.nodeName, 'Succeeded'],
    ]);
    for (const p of pods)
      expect(await must(['logs', '-n', chain.namespace, p.metadata.name])).toMatch(/^job pod \S+\n$/);
  });

  it('a 2-replica Deployment becomes Available with both pods Running and Ready', async () => {
    await chain.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: chain.namespace },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: chain.template(
          { containers: [sh('while true; do echo tick; sleep 2; done')], terminationGracePeriodSeconds: 2 },
          { app: 'web' },
        ),
      },
    });
    await eventually(
      'Deployment web Available with 2 ready replicas',
      async () => {
        const d = await getJson(['deployment', 'web', '-n', chain.namespace]);
        const available = ((d.status?.conditions ?? []) as Obj[]).some(
          (c) => c.type === 'Available' && c.status === 'True',
        );
        return available && d.status.readyReplicas === 2 && d.status.availableReplicas === 2;
      },
      180_000,
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}\n${await chain.report()}`);
    });
    const pods = (await getJson(['pods', '-n', chain.namespace, '-l', 'app=web'])).items as Obj[];
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(p.spec.nodeName).toBe(chain.nodeName);
      expect(p.status.phase).toBe('Running');
      expect((p.status.conditions as Obj[]).find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(p.status.containerStatuses[0]).toMatchObject({ ready: true, started: true });
      expect(p.status.containerStatuses[0].state.running?.startedAt).toBeTruthy();
      expect(await containersOf(p.metadata.uid)).toHaveLength(2); // infra + main
    }
  });

  it('kubectl logs -f streams lines printed after the follow started, and ends with the container', async () => {
    // The container waits for a file the test writes (docker exec) once the follow runs, and
    // prints its content: a token that did not exist before the follow started.
    await chain.apply(
      chain.pod('follow', {
        containers: [
          sh('echo waiting; while [ ! -f /tmp/go ]; do sleep 1; done; cat /tmp/go; sleep 1; echo done'),
        ],
      }),
    );
    const running = await chain.waitPhase('follow', 'Running');
    const f = followLogs(['-n', chain.namespace, 'follow']);
    try {
      await eventually('the follow shows the first line', async () => {
        if (f.text().includes('waiting\n')) return true;
        if (f.exitCode() !== undefined)
          throw new Error(`kubectl logs -f ended early (${f.exitCode()}): ${f.stderr()}`);
        return false;
      });
      const token = `token-${randomUUID()}`;
      const [main] = (
        await docker([
          'ps',
          '-q',
          '--filter',
          `label=interlink.vk.io/pod-uid=${running.metadata.uid}`,
          '--filter',
          'label=interlink.vk.io/container-name=main',
        ])
      ).split('\n');
      expect(main).toBeTruthy();
      await docker(['exec', main!, 'sh', '-c', `echo ${token} > /tmp/go.tmp && mv /tmp/go.tmp /tmp/go`]);
      await eventually(`the follow shows ${token}`, async () => f.text().includes(token), 60_000);
      await eventually(
        'kubectl logs -f to end with the container',
        async () => f.exitCode() !== undefined,
        90_000,
      );
      expect(f.exitCode(), f.stderr()).toBe(0);
      expect(f.text()).toBe(`waiting\n${token}\ndone\n`);
    } finally {
      f.kill();
    }
    const p = await chain.waitPhase('follow', 'Succeeded');
    expect(terminated(p)).toMatchObject({ exitCode: 0 });
  });

  it('kubectl delete of a running pod leaves no container and no data directory; the Pod goes away', async () => {
    await chain.apply(
      chain.pod('doomed', {
        containers: [
          {
            ...sh('echo up; cat /etc/doomed/greeting; echo; sleep 3600'),
            volumeMounts: [{ name: 'cfg', mountPath: '/etc/doomed' }],
          },
        ],
        volumes: [{ name: 'cfg', configMap: { name: 'doomed-cfg' } }],
        terminationGracePeriodSeconds: 5,
      }),
    );
    await chain.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'doomed-cfg', namespace: chain.namespace },
      data: { greeting: 'hi from a configmap' },
    });
    const p = await chain.waitPhase('doomed', 'Running');
    const uid = p.metadata.uid as string;
    let log = '';
    await eventually('the log shows the configmap file', async () => {
      log = await must(['logs', '-n', chain.namespace, 'doomed']);
      return log.includes('hi from a configmap\n');
    }).catch((err) => {
      throw new Error(`${(err as Error).message}; the log: ${JSON.stringify(log)}`);
    });
    expect(await containersOf(uid)).toHaveLength(2);
    expect(existsSync(join(dataRoot, uid))).toBe(true);

    await must(['delete', 'pod', 'doomed', '-n', chain.namespace, '--wait=false']);
    await chain.waitGone('doomed', 150_000);
    // The plugin answers a delete once done, or once recorded when removal outlasts
    // deleteAnswerSeconds (a loaded machine): either way nothing is left soon after.
    await eventually(
      'no container and no data directory of the pod left',
      async () => (await containersOf(uid)).length === 0 && !existsSync(join(dataRoot, uid)),
      60_000,
    );
    expect(await chain.getPod('doomed')).toBeUndefined();
  });

  it('deleting the Job, the Deployment and every pod leaves no container and an empty data root', async () => {
    await must(['delete', 'job,deployment', '--all', '-n', chain.namespace, '--wait=true', '--timeout=120s']);
    await must(['delete', 'pods', '--all', '-n', chain.namespace, '--wait=false']);
    await eventually(
      'no pods left',
      async () => ((await getJson(['pods', '-n', chain.namespace])).items as Obj[]).length === 0,
      150_000,
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}\n${await chain.report()}`);
    });
    await eventually(
      'no container of this plugin instance left and an empty data root',
      async () =>
        (await docker(['ps', '-aq', '--filter', `label=interlink.vk.io/instance=${instance}`])) === '' &&
        readdirSync(dataRoot).length === 0,
      60_000,
    );
    expect(readdirSync(dataRoot)).toEqual([]);
    // Nothing on the way failed loudly in any of the three processes.
    expect([...errorsOf(chain.vk), ...errorsOf(chain.api), ...errorsOf(chain.plugin)]).toEqual([]);
  });
});
