/**
 * The plugin's I/O logic against a scripted stand-in for the Slurm commands (no Slurm
 * needed): what it runs, in which order, and what it concludes. The real thing is in
 * plugin.slurm.test.ts.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.ts';
import type { CallContext } from '../../../src/plugins/sdk/types.ts';
import { slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { createSlurmPlugin } from '../../../src/plugins/slurm/plugin.ts';
import { type CommandResult, SlurmCli } from '../../../src/plugins/slurm/slurm-cli.ts';
import { fullData, processPod } from './fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'il-slurm-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ctx: CallContext = { session: 't', log: silentLogger(), signal: new AbortController().signal };

/** A tiny Slurm: jobs by id with a state; every command call recorded. */
function fakeSlurm(
  opts: {
    sbatch?: (args: readonly string[]) => CommandResult;
    squeueDown?: boolean;
    onCancel?: (
      args: readonly string[],
      jobs: Map<string, { state: string; name: string; dir?: string }>,
    ) => void;
  } = {},
) {
  const jobs = new Map<string, { state: string; name: string; reason?: string; dir?: string }>();
  const calls: string[][] = [];
  let next = 100;
  const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
  const run = async (cmd: string, args: readonly string[]): Promise<CommandResult> => {
    calls.push([cmd, ...args]);
    switch (cmd) {
      case 'sbatch': {
        if (opts.sbatch) return opts.sbatch(args);
        const id = String(next++);
        const script = readFileSync(args.at(-1)!, 'utf8');
        jobs.set(id, {
          state: 'RUNNING',
          name: /--job-name=(\S+)/.exec(script)![1]!,
          dir: dirname(args.at(-1)!),
        });
        return ok(`${id}\n`);
      }
      case 'squeue': {
        if (opts.squeueDown)
          return {
            code: 1,
            stdout: '',
            stderr: 'squeue: error: Unable to contact slurm controller (connect failure)',
          };
        const name = args.find((a) => a.startsWith('--name='))?.slice(7);
        if (name)
          return ok(
            [...jobs]
              .filter(([, j]) => j.name === name)
              .map(([id]) => `${id}|\n`)
              .join(''),
          );
        const ids = args
          .find((a) => a.startsWith('--jobs='))!
          .slice(7)
          .split(',');
        const known = ids.filter((id) => jobs.has(id));
        if (known.length === 0)
          return { code: 1, stdout: '', stderr: 'slurm_load_jobs error: Invalid job id specified' };
        return ok(
          known
            .map((id) => `${id}|${jobs.get(id)!.state}|${jobs.get(id)!.reason ?? 'None'}|0|N/A|N/A|\n`)
            .join(''),
        );
      }
      case 'scancel':
        opts.onCancel?.(args, jobs);
        return ok();
      case 'sacct':
        return { code: 1, stdout: '', stderr: 'Slurm accounting storage is disabled' };
      case 'sinfo':
        return ok(
          'n1|64|256000|gpu:a100:4(S:0-1)|mixed\nn2|64|256000|(null)|idle\nn3|64|256000|(null)|down*\n',
        );
    }
    throw new Error(`unexpected ${cmd}`);
  };
  return { jobs, calls, run, of: (cmd: string) => calls.filter((c) => c[0] === cmd) };
}

function setup(name: string, extra: object = {}, fake = fakeSlurm()) {
  const config = slurmConfig({
    dataRoot: join(root, name),
    containerRuntime: 'none',
    deleteGraceSeconds: 0,
    deleteWaitSeconds: 0,
    ...extra,
  });
  const plugin = createSlurmPlugin({
    config,
    logger: silentLogger(),
    cli: new SlurmCli(config, fake.run),
    pollMs: 5,
  });
  return { plugin, fake, config };
}

describe('create', () => {
  it('writes the job directory (script 0700, volume files with their modes), submits once, records the job id', async () => {
    const { plugin, fake } = setup('create', { containerRuntime: 'apptainer' });
    const data = fullData('c-1');
    const r = await plugin.create(data, ctx);
    expect(r).toEqual({ PodUID: 'c-1', PodJID: '100' });
    const dir = plugin.jobDir('hpc', 'c-1');
    expect(readFileSync(join(dir, 'job.id'), 'utf8')).toBe('100\n');
    expect(statSync(join(dir, 'job.sh')).mode & 0o777).toBe(0o700);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'volumes/creds/token')).mode & 0o777).toBe(0o400);
    expect(readFileSync(join(dir, 'volumes/creds/token'), 'utf8')).toBe("s3cr3t'$(x)\n");
    expect(statSync(join(dir, 'empty/work')).mode & 0o777).toBe(0o777);
    expect(statSync(join(dir, 'env/main.env')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'pod.json'), 'utf8'))).toMatchObject({
      namespace: 'hpc',
      name: 'golden',
      uid: 'c-1',
      jobName: 'il-c-1',
    });
    expect(await plugin.create(data, ctx)).toEqual(r);
    expect(fake.of('sbatch')).toHaveLength(1);
    // sbatch runs in the job directory with the script's path.
    expect(fake.of('sbatch')[0]).toEqual(['sbatch', '--parsable', join(dir, 'job.sh')]);
  });

  it('never writes or chmods through a symbolic link left in the job directory; Secret files default to 0600', async () => {
    const { plugin, fake } = setup('links', { containerRuntime: 'docker' });
    const outside = join(root, 'links-outside');
    mkdirSync(outside, { recursive: true, mode: 0o755 });
    const data = (uid: string) =>
      ({
        pod: {
          metadata: { name: 'l', namespace: 'default', uid },
          spec: {
            containers: [
              {
                name: 'c',
                image: 'x',
                volumeMounts: [
                  { name: 's', mountPath: '/s' },
                  { name: 'e', mountPath: '/e' },
                ],
              },
            ],
            volumes: [
              { name: 's', secret: { secretName: 'sec' } },
              { name: 'e', emptyDir: {} },
            ],
          },
        },
        container: [
          {
            name: 'c',
            secrets: [{ metadata: { name: 'sec' }, data: { pem: Buffer.from('k').toString('base64') } }],
          },
        ],
      }) as never;
    // A link where the Secret's directory goes, then one where the emptyDir goes.
    for (const [uid, link] of [
      ['l-1', 'volumes'],
      ['l-2', 'empty'],
    ] as const) {
      const dir = plugin.jobDir('default', uid);
      mkdirSync(dir, { recursive: true });
      symlinkSync(outside, join(dir, link));
      await expect(plugin.create(data(uid), ctx)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(readdirSync(outside)).toEqual([]);
      expect(statSync(outside).mode & 0o777).toBe(0o755);
      expect(existsSync(dir)).toBe(false);
    }
    expect(fake.of('sbatch')).toHaveLength(0);
    // Without links: submitted, the Secret file owner-only.
    await plugin.create(data('l-3'), ctx);
    const dir = plugin.jobDir('default', 'l-3');
    expect(statSync(join(dir, 'volumes/s/pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'empty/e')).mode & 0o777).toBe(0o777);
  });

  it('refuses a pre-exec annotation that breaks the script (bash -n), submitting nothing', async () => {
    const { plugin, fake } = setup('syntax');
    const pod = processPod('s-1', { annotations: { 'slurm-job.vk.io/pre-exec': 'if then fi (' } });
    await expect(plugin.create({ pod } as never, ctx)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/not valid bash .*pre-exec/),
    });
    expect(fake.of('sbatch')).toHaveLength(0);
    expect(existsSync(plugin.jobDir('default', 's-1'))).toBe(false);
  });

  it('adopts the job of a create that died before recording the job id', async () => {
    const fake = fakeSlurm();
    fake.jobs.set('77', { state: 'RUNNING', name: 'il-o-1' });
    const { plugin } = setup('orphan', {}, fake);
    const dir = plugin.jobDir('default', 'o-1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'pod.json'),
      JSON.stringify({
        version: 1,
        namespace: 'default',
        name: 'procs',
        uid: 'o-1',
        jobName: 'il-o-1',
        runtime: 'none',
        containers: [],
      }),
    );
    expect(await plugin.create({ pod: processPod('o-1') } as never, ctx)).toEqual({
      PodUID: 'o-1',
      PodJID: '77',
    });
    expect(fake.of('sbatch')).toHaveLength(0);
  });

  it('classifies sbatch failures: controller down is UNAVAILABLE (retry), a refusal INVALID_INPUT (no directory left)', async () => {
    const down = setup(
      'down',
      {},
      fakeSlurm({
        sbatch: () => ({
          code: 1,
          stdout: '',
          stderr:
            'sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)',
        }),
      }),
    );
    await expect(down.plugin.create({ pod: processPod('d-1') } as never, ctx)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    // The job may have been accepted before the answer was lost: pod.json stays for the retry to find it by name.
    expect(existsSync(join(down.plugin.jobDir('default', 'd-1'), 'pod.json'))).toBe(true);
    expect(
      await down.plugin.status(
        [{ metadata: { name: 'procs', namespace: 'default', uid: 'd-1' } }] as never,
        ctx,
      ),
    ).toEqual([]);
    const no = setup(
      'refused',
      {},
      fakeSlurm({
        sbatch: () => ({ code: 1, stdout: '', stderr: 'sbatch: error: invalid partition specified: x' }),
      }),
    );
    await expect(no.plugin.create({ pod: processPod('r-1') } as never, ctx)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('invalid partition specified: x'),
    });
    expect(existsSync(no.plugin.jobDir('default', 'r-1'))).toBe(false);
  });
});

describe('delete', () => {
  const pod = (uid: string) => ({ metadata: { name: 'procs', namespace: 'default', uid } }) as never;
  const cancels = (fake: ReturnType<typeof fakeSlurm>) => fake.of('scancel').map((c) => c.slice(1).join(' '));
  /**
   * The plugin's stop signal to the batch shell alone (`--signal=28 --batch`) is acknowledged
   * (`stopping`); containers that exit on their SIGTERM then leave `job.exit`, and the shell
   * waits. Slurm's cancel (no --signal) of a running job sends SIGTERM: a job that exits on it
   * is CANCELLED, one that ignores it stays COMPLETING until SIGKILL. A pending job is CANCELLED.
   */
  const slurm = (onTerm: 'ignore' | 'exit') =>
    fakeSlurm({
      onCancel: (args, jobs) => {
        const id = args.at(-1)!;
        const j = jobs.get(id)!;
        if (args.includes('--batch') && j.dir) {
          writeFileSync(join(j.dir, 'stopping'), '');
          if (onTerm === 'exit') writeFileSync(join(j.dir, 'job.exit'), '143\n');
        } else if (!args.some((a) => a.startsWith('--signal')))
          j.state = j.state === 'RUNNING' && onTerm === 'ignore' ? 'COMPLETING' : 'CANCELLED';
        else if (args.includes('--signal=KILL')) j.state = 'CANCELLED';
      },
    });

  it('a running job is asked to stop, then gets Slurm cancel (CANCELLED); one that ignores its SIGTERM gets SIGKILL after the grace period; the directory goes', async () => {
    const { plugin, fake } = setup('del-kill', { deleteWaitSeconds: 5 }, slurm('ignore'));
    const { PodJID } = await plugin.create({ pod: processPod('k-1') } as never, ctx);
    await plugin.delete(pod('k-1'), ctx);
    expect(cancels(fake)).toEqual([
      `--signal=28 --batch ${PodJID}`,
      PodJID,
      `--signal=KILL --full ${PodJID}`,
    ]);
    expect(fake.jobs.get(PodJID)!.state).toBe('CANCELLED');
    expect(existsSync(plugin.jobDir('default', 'k-1'))).toBe(false);
  });

  it('a job whose containers end on their SIGTERM gets Slurm cancel once they did, nothing more', async () => {
    const { plugin, fake } = setup(
      'del-term',
      { deleteGraceSeconds: 5, deleteWaitSeconds: 5 },
      slurm('exit'),
    );
    const { PodJID } = await plugin.create({ pod: processPod('t-1') } as never, ctx);
    await plugin.delete(pod('t-1'), ctx);
    expect(cancels(fake)).toEqual([`--signal=28 --batch ${PodJID}`, PodJID]);
    expect(fake.jobs.get(PodJID)!.state).toBe('CANCELLED');
    expect(existsSync(plugin.jobDir('default', 't-1'))).toBe(false);
  });

  it('asks to be retried while Slurm has not confirmed the end, keeping the directory; idempotent afterwards', async () => {
    const { plugin, fake } = setup('del-wait');
    const { PodJID } = await plugin.create({ pod: processPod('w-1') } as never, ctx);
    await expect(plugin.delete(pod('w-1'), ctx)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('still ending'),
    });
    expect(existsSync(plugin.jobDir('default', 'w-1'))).toBe(true);
    fake.jobs.get(PodJID)!.state = 'CANCELLED';
    await plugin.delete(pod('w-1'), ctx);
    expect(existsSync(plugin.jobDir('default', 'w-1'))).toBe(false);
    await plugin.delete(pod('w-1'), ctx);
  });

  it('a pod whose create was interrupted (no job id recorded) has its job found by name and stopped', async () => {
    const fake = slurm('exit');
    fake.jobs.set('55', { state: 'RUNNING', name: 'il-n-1' });
    const { plugin } = setup('del-noid', { deleteGraceSeconds: 5, deleteWaitSeconds: 5 }, fake);
    const dir = plugin.jobDir('default', 'n-1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pod.json'), '{}');
    await plugin.delete(pod('n-1'), ctx);
    expect(cancels(fake)).toEqual(['55']);
    expect(existsSync(dir)).toBe(false);
  });

  it('a pending job is cancelled without signals; keepJobDirs keeps the directory but forgets the pod', async () => {
    const { plugin, fake } = setup(
      'del-pending',
      { keepJobDirs: true, deleteWaitSeconds: 5 },
      slurm('ignore'),
    );
    const { PodJID } = await plugin.create({ pod: processPod('p-1') } as never, ctx);
    fake.jobs.get(PodJID)!.state = 'PENDING';
    await plugin.delete(pod('p-1'), ctx);
    expect(cancels(fake)).toEqual([PodJID]);
    expect(existsSync(join(plugin.jobDir('default', 'p-1'), 'deleted'))).toBe(true);
    expect(await plugin.status([pod('p-1')], ctx)).toEqual([]);
  });
});

describe('status', () => {
  it('concludes nothing when squeue fails: running stays running, no sacct', async () => {
    const fake = fakeSlurm({ squeueDown: true });
    const { plugin } = setup('down-status', {}, fake);
    const dir = plugin.jobDir('default', 'q-1');
    mkdirSync(join(dir, 'containers'), { recursive: true });
    writeFileSync(
      join(dir, 'pod.json'),
      JSON.stringify({
        version: 1,
        namespace: 'default',
        name: 'p',
        uid: 'q-1',
        jobName: 'il-q-1',
        runtime: 'none',
        containers: [{ name: 'c', kind: 'app' }],
      }),
    );
    writeFileSync(join(dir, 'job.id'), '5\n');
    writeFileSync(join(dir, 'containers/c.started'), '2026-01-01T00:00:00.123456789Z\n');
    const [s] = await plugin.status(
      [{ metadata: { name: 'p', namespace: 'default', uid: 'q-1' } }] as never,
      ctx,
    );
    expect(s!.containers![0]!.state).toEqual({ running: { startedAt: '2026-01-01T00:00:00Z' } });
    expect(fake.of('sacct')).toHaveLength(0);
  });

  it('asks sacct once for forgotten jobs and believes "accounting storage is disabled" for a while', async () => {
    const { plugin, fake } = setup('acct');
    const dir = plugin.jobDir('default', 'f-1');
    mkdirSync(join(dir, 'containers'), { recursive: true });
    writeFileSync(
      join(dir, 'pod.json'),
      JSON.stringify({
        version: 1,
        namespace: 'default',
        name: 'p',
        uid: 'f-1',
        jobName: 'il-f-1',
        runtime: 'none',
        containers: [{ name: 'c', kind: 'app' }],
      }),
    );
    writeFileSync(join(dir, 'job.id'), '999\n');
    writeFileSync(join(dir, 'containers/c.exit'), '0\n');
    const pod = { metadata: { name: 'p', namespace: 'default', uid: 'f-1' } };
    for (let i = 0; i < 3; i++) {
      const [s] = await plugin.status([pod] as never, ctx);
      expect(s!.containers![0]!.state!.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    }
    expect(fake.of('squeue')).toHaveLength(3);
    expect(fake.of('sacct')).toHaveLength(1);
  });
});

describe('logs and ping', () => {
  it('NOT_FOUND for an unknown pod, an unknown container, and a previous instance', async () => {
    const { plugin } = setup('logs');
    await plugin.create({ pod: processPod('l-1') } as never, ctx);
    const req = (c: string, Opts = {}) => ({
      Namespace: 'default',
      PodUID: 'l-1',
      PodName: 'procs',
      ContainerName: c,
      Opts,
    });
    await expect(plugin.logs({ ...req('app-1'), PodUID: 'nope' }, ctx)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(plugin.logs(req('nope'), ctx)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(plugin.logs(req('app-1', { Previous: true }), ctx)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // Not started yet: an empty log, not an error.
    const s = await plugin.logs(req('app-1'), ctx);
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('');
  });

  it('ping sums usable nodes, counts GPUs, reports configured taints', async () => {
    const { plugin } = setup('ping', {
      taints: [{ key: 'hpc', value: 'slurm', effect: 'NoSchedule' }],
      maxPods: '500',
    });
    expect(await plugin.ping!(ctx)).toEqual({
      status: 'ok',
      resources: {
        cpu: '128',
        memory: '512000Mi',
        pods: '500',
        accelerators: [{ resourceType: 'nvidia.com/gpu', available: 4 }],
      },
      taints: [{ key: 'hpc', value: 'slurm', effect: 'NoSchedule' }],
    });
  });
});
