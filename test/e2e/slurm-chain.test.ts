/**
 * The whole chain with the Slurm plugin (issue 6, acceptance "End to end"): the real
 * apiserver, the VK, the interLink API and the slurm plugin, each a child process
 * (test/e2e/harness.ts), against the real one-node Slurm (test/support/slurm.setup.ts).
 *
 * The plugin runs with the `none` runtime (the containers' processes run on the Slurm node,
 * as in the plugin's own real-Slurm tests). Pods and a Job are driven with kubectl only; the
 * backend is inspected with squeue/scontrol (jobs are named after the pod UID) and the
 * plugin's job directories.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
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
const slurmEnv = { ...process.env, SLURM_CONF: inject('slurmConf') };
let chain: Chain;
let dataRoot: string;
/** UIDs of the pods whose Slurm jobs this file saw. */
const seen = new Set<string>();

async function slurm(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await execFileP(cmd, args, { env: slurmEnv });
  return stdout;
}

/** The job as `scontrol show job --oneliner` prints it, as key → value. */
async function scontrolJob(jid: string): Promise<Record<string, string>> {
  const line = (await slurm('scontrol', ['show', 'job', '--oneliner', jid])).trim();
  return Object.fromEntries(
    line.split(/\s+/).map((kv) => {
      const eq = kv.indexOf('=');
      return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  );
}

/** Jobs squeue still shows (pending, running, completing) for this job name: `id state` lines. */
async function queued(jobName: string): Promise<string[]> {
  const out = await slurm('squeue', ['--noheader', `--name=${jobName}`, '--format=%i %T']);
  return out.split('\n').filter((l) => l.trim() !== '');
}

const jobNameOf = (uid: string) => `il-${uid}`;
const jobIdOf = (p: Obj) => p.metadata.annotations?.['interlink.io/job-id'] as string;
const jobDirOf = (p: Obj) => join(dataRoot, `${chain.namespace}-${p.metadata.uid}`);
const sh = (script: string, extra: Obj = {}) => ({
  name: 'main',
  image: 'busybox:1.36', // not pulled: the `none` runtime runs the command on the node
  command: ['sh', '-c', script],
  ...extra,
});
const terminated = (p: Obj, name = 'main') =>
  (p.status.containerStatuses as Obj[]).find((c) => c.name === name)?.state?.terminated as Obj | undefined;

/** The pod's Slurm job: its id (from the VK's annotation) names a job called after the pod UID. */
async function slurmJobOf(p: Obj): Promise<Record<string, string>> {
  seen.add(p.metadata.uid);
  const jid = jobIdOf(p);
  expect(jid, `job-id annotation of ${p.metadata.name}`).toMatch(/^\d+$/);
  const job = await scontrolJob(jid);
  expect(job.JobId).toBe(jid);
  expect(job.JobName).toBe(jobNameOf(p.metadata.uid));
  return job;
}

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-slurm-data-'));
  chain = await startChain({
    plugin: 'slurm',
    nodeName: `e2e-slurm-chain-${id}`,
    namespace: `e2e-slurm-chain-${id}`,
    pluginConfig: { dataRoot, containerRuntime: 'none', logPollMs: 200 },
    pluginEnv: { SLURM_CONF: inject('slurmConf') },
  });
}, 300_000);

afterAll(async () => {
  await chain?.stop();
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
}, 300_000);

reportOnFailure(() => chain);

describe('pods on the slurm virtual node', () => {
  it('a Pod runs to completion as a Slurm job named after its UID; kubectl logs shows its output', async () => {
    await chain.apply(
      chain.pod('hello', {
        containers: [
          sh('echo "hello from slurm job $SLURM_JOB_ID"; echo "$GREETING"; echo bye', {
            env: [{ name: 'GREETING', value: 'hi there' }],
          }),
        ],
      }),
    );
    const p = await chain.waitPhase('hello', 'Succeeded');
    expect(p.spec.nodeName).toBe(chain.nodeName);
    expect(terminated(p)).toMatchObject({ exitCode: 0, reason: 'Completed' });
    const job = await slurmJobOf(p);
    expect(job.JobState).toBe('COMPLETED');
    expect(job.ExitCode).toBe('0:0');
    expect(await must(['logs', '-n', chain.namespace, 'hello'])).toBe(
      `hello from slurm job ${job.JobId}\nhi there\nbye\n`,
    );
    expect(await must(['logs', '-n', chain.namespace, 'hello', '--tail=1'])).toBe('bye\n');
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
          sh('echo "B=$B C=$C S=$S"; echo "arg=$0"', {
            args: ['$(C)/$$(A)'],
            env: [
              { name: 'A', value: 'outer' },
              { name: 'B', value: '$$(A)' },
              { name: 'C', value: '$(A)' },
              { name: 'S', valueFrom: { secretKeyRef: { name: 'dollar', key: 'token' } } },
            ],
          }),
        ],
      }),
    );
    await chain.waitPhase('expand-once', 'Succeeded');
    expect(await must(['logs', '-n', chain.namespace, 'expand-once'])).toBe(
      'B=$(A) C=outer S=s3cr3t$(A)\narg=outer/$(A)\n',
    );
  });

  it('a failing Pod ends Failed with its exit code; the Slurm job failed too', async () => {
    await chain.apply(chain.pod('fails', { containers: [sh('echo about to fail; exit 3')] }));
    const p = await chain.waitPhase('fails', 'Failed');
    expect(terminated(p)).toMatchObject({ exitCode: 3, reason: 'Error' });
    const job = await slurmJobOf(p);
    expect(job.JobState).toBe('FAILED');
    expect(job.ExitCode).toBe('3:0');
    expect(await must(['logs', '-n', chain.namespace, 'fails'])).toBe('about to fail\n');
  });

  it('a Job with completions 2 completes, each pod one Slurm job', async () => {
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
          containers: [sh('echo "sum=$((40 + 2))"; sleep 2')],
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
    expect(pods).toHaveLength(2);
    const jids = new Set<string>();
    for (const p of pods) {
      expect([p.spec.nodeName, p.status.phase]).toEqual([chain.nodeName, 'Succeeded']);
      const sj = await slurmJobOf(p);
      expect(sj.JobState).toBe('COMPLETED');
      jids.add(sj.JobId!);
      expect(await must(['logs', '-n', chain.namespace, p.metadata.name])).toBe('sum=42\n');
    }
    expect(jids.size).toBe(2);
  });

  it('kubectl logs -f streams lines printed after the follow started, and ends with the job', async () => {
    // The `none` runtime runs the process on this machine: it waits for a file the test
    // writes once the follow runs, and prints its content (a token that did not exist before).
    const go = join(dataRoot, `go-${id}`);
    await chain.apply(
      chain.pod('follow', {
        containers: [
          sh(`echo waiting; while [ ! -f ${go} ]; do sleep 1; done; cat ${go}; sleep 1; echo done`),
        ],
      }),
    );
    await chain.waitPhase('follow', 'Running');
    const f = followLogs(['-n', chain.namespace, 'follow']);
    try {
      await eventually('the follow shows the first line', async () => {
        if (f.text().includes('waiting\n')) return true;
        if (f.exitCode() !== undefined)
          throw new Error(`kubectl logs -f ended early (${f.exitCode()}): ${f.stderr()}`);
        return false;
      });
      const token = `token-${randomUUID()}`;
      await writeFile(`${go}.tmp`, `${token}\n`);
      await rename(`${go}.tmp`, go);
      await eventually(`the follow shows ${token}`, async () => f.text().includes(token), 60_000);
      await eventually('kubectl logs -f to end with the job', async () => f.exitCode() !== undefined, 90_000);
      expect(f.exitCode(), f.stderr()).toBe(0);
      expect(f.text()).toBe(`waiting\n${token}\ndone\n`);
    } finally {
      f.kill();
      await rm(go, { force: true });
    }
    await chain.waitPhase('follow', 'Succeeded');
  });

  it('kubectl delete of a running pod cancels its Slurm job and removes its job directory; the Pod goes away', async () => {
    await chain.apply(
      chain.pod('doomed', {
        containers: [sh('echo started; exec sleep 3600')],
        terminationGracePeriodSeconds: 5,
      }),
    );
    const p = await chain.waitPhase('doomed', 'Running');
    const uid = p.metadata.uid as string;
    seen.add(uid);
    const jid = jobIdOf(p);
    expect(await queued(jobNameOf(uid))).toEqual([`${jid} RUNNING`]);
    expect(existsSync(jobDirOf(p))).toBe(true);
    await eventually('the log says started', async () =>
      (await must(['logs', '-n', chain.namespace, 'doomed'])).includes('started\n'),
    );

    await must(['delete', 'pod', 'doomed', '-n', chain.namespace, '--wait=false']);
    await chain.waitGone('doomed', 150_000);
    await eventually(
      `squeue empty for ${jobNameOf(uid)}`,
      async () => (await queued(jobNameOf(uid))).length === 0,
      60_000,
    );
    // The plugin cancels with scancel (KILL after the grace period), so site accounting shows
    // a deleted pod as a cancelled job, not a failed one.
    const ended = await scontrolJob(jid);
    expect(ended.JobState, `ExitCode=${ended.ExitCode}`).toBe('CANCELLED');
    expect(existsSync(jobDirOf(p))).toBe(false);
    expect(await chain.getPod('doomed')).toBeUndefined();
  });

  it('deleting the Job and every pod leaves no queued job and no job directory', async () => {
    await must(['delete', 'job', '--all', '-n', chain.namespace, '--wait=true', '--timeout=120s']);
    await must(['delete', 'pods', '--all', '-n', chain.namespace, '--wait=false']);
    await eventually(
      'no pods left',
      async () => ((await getJson(['pods', '-n', chain.namespace])).items as Obj[]).length === 0,
      150_000,
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}\n${await chain.report()}`);
    });
    const names = new Set((await slurm('squeue', ['--noheader', '--format=%j'])).split('\n'));
    expect([...seen].filter((uid) => names.has(jobNameOf(uid)))).toEqual([]);
    await eventually('every job directory removed', async () => readdirSync(dataRoot).length === 0, 60_000);
    expect([...errorsOf(chain.vk), ...errorsOf(chain.api), ...errorsOf(chain.plugin)]).toEqual([]);
  });
});
