/**
 * The pure half of exec/attach/port-forward into Slurm pods: argv builders (hostile commands
 * and names stay arguments), squeue/scontrol parsers, the not-running reasons and the filter
 * of srun's own task-exit lines.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { codeOf, ErrorCode } from '../../../src/errors/index.ts';
import {
  foreignOwner,
  innerArgs,
  notRunningReason,
  parseBatchHost,
  parseNodeAddr,
  parseStateHost,
  RECORDED_EXEC,
  SrunNoiseFilter,
  srunArgs,
} from '../../../src/plugins/slurm/exec-argv.ts';
import { execRecordLine } from '../../../src/plugins/slurm/runtime.ts';
import { HOSTILE } from './fixtures.ts';

describe('srunArgs', () => {
  it.each([
    [
      { jobId: '12', node: 'vm', stdin: true },
      ['--jobid=12', '--overlap', '--nodelist=vm', '--ntasks=1', '--quiet', '--'],
    ],
    [
      { jobId: '7_3', node: 'cn-01.cluster', stdin: false },
      ['--jobid=7_3', '--overlap', '--nodelist=cn-01.cluster', '--ntasks=1', '--quiet', '--input=none', '--'],
    ],
    [
      { jobId: '12', node: 'vm', stdin: false, tty: true },
      ['--jobid=12', '--overlap', '--nodelist=vm', '--ntasks=1', '--quiet', '--pty', '--'],
    ],
  ])('%j', (t, want) => expect(srunArgs(t)).toEqual(want));

  it.each([
    ['-1', 'vm'],
    ['12 --uid=0', 'vm'],
    ['', 'vm'],
    ['12', '--uid=0'],
    ['12', ''],
    ['12', 'a b'],
  ])('refuses job %j on node %j', (jobId, node) =>
    expect(() => srunArgs({ jobId, node, stdin: false })).toThrow(),
  );
});

describe('innerArgs', () => {
  const base = {
    runtimePath: '/usr/bin/rt',
    bashPath: '/bin/bash',
    runtimeName: 'il-u-c',
    recordBase: '/data/ns-u/containers/c',
  };
  const recorded = ['/bin/bash', '-c', RECORDED_EXEC, 'il-exec', '/data/ns-u/containers/c', 'ls', '-l'];
  it.each([
    ['docker', true, ['/usr/bin/rt', 'exec', '-i', '--', 'il-u-c', 'ls', '-l']],
    ['podman', false, ['/usr/bin/rt', 'exec', '--', 'il-u-c', 'ls', '-l']],
    ['none', true, recorded],
    ['apptainer', false, recorded],
    ['singularity', true, recorded],
    ['enroot', true, recorded],
  ] as const)('%s stdin=%s', (runtime, stdin, want) =>
    expect(innerArgs({ ...base, runtime, stdin, command: ['ls', '-l'] })).toEqual(want),
  );

  it('tty: docker/podman exec gets -t; the recorded runtimes run on the step pty as they are', () => {
    expect(innerArgs({ ...base, runtime: 'docker', stdin: true, tty: true, command: ['sh'] })).toEqual([
      '/usr/bin/rt',
      'exec',
      '-i',
      '-t',
      '--',
      'il-u-c',
      'sh',
    ]);
    expect(innerArgs({ ...base, runtime: 'none', stdin: true, tty: true, command: ['ls', '-l'] })).toEqual(
      recorded,
    );
  });

  it('an unknown runtime is NOT_SUPPORTED', () => {
    let err: unknown;
    try {
      innerArgs({ ...base, runtime: 'lxc' as never, stdin: false, command: ['ls'] });
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe(ErrorCode.NOT_SUPPORTED);
  });

  it.each(['docker', 'podman', 'none', 'apptainer', 'enroot'] as const)(
    '%s: a hostile command is the argv tail, word for word',
    (runtime) => {
      const argv = innerArgs({ ...base, runtime, stdin: true, command: HOSTILE });
      expect(argv.slice(-HOSTILE.length)).toEqual(HOSTILE);
      // Every option of the runtime comes before the `--` or the fixed helper's positional args.
      const fixed = argv.slice(0, argv.length - HOSTILE.length);
      expect(fixed.some((w) => HOSTILE.includes(w))).toBe(false);
    },
  );
});

/** Run bash, answering exit status and stdout. */
function bash(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number; out: string } {
  try {
    return {
      status: 0,
      out: execFileSync('/bin/bash', args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] }),
    };
  } catch (e) {
    return { status: (e as { status: number }).status, out: '' };
  }
}

describe('execRecordLine (job script) then RECORDED_EXEC (exec), both run by bash', () => {
  const show = ['sh', '-c', 'printf "%s|%s|%s|" "$GREETING" "$PWD" "$ENTERED"; printf "%s\\n" "$@"', 'x'];
  it.each([
    ['none', [] as string[], ''],
    [
      'an entering prefix (`env -- ENTERED=yes`, as `apptainer exec … IMAGE`)',
      ['env', '--', 'ENTERED=yes'],
      'yes',
    ],
  ])('%s: argv in the recorded env, cwd and prefix; exit codes pass', (_what, prefix, entered) => {
    const dir = mkdtempSync(join(tmpdir(), 'il-recorded-exec-'));
    try {
      const line = execRecordLine({ name: 'c' } as never, prefix);
      const rec = bash(['-c', `cd "$1" && ${line}`, 'rec', dir], {
        ...process.env,
        IL_CTR: dir,
        GREETING: "hi 'there' $HOME",
      });
      expect(rec.status).toBe(0);
      const base = join(dir, 'c');
      const r = bash(['-c', RECORDED_EXEC, 'il-exec', base, ...show, ...HOSTILE], { PATH: '/usr/bin:/bin' });
      expect(r).toEqual({
        status: 0,
        out: `hi 'there' $HOME|${dir}|${entered}|${HOSTILE.map((h) => `${h}\n`).join('')}`,
      });
      expect(bash(['-c', RECORDED_EXEC, 'il-exec', base, 'sh', '-c', 'exit 7']).status).toBe(7);
      expect(bash(['-c', RECORDED_EXEC, 'il-exec', join(dir, 'other'), 'true']).status).toBe(126);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('records the prefix words exactly (NUL-separated)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'il-recorded-exec-'));
    try {
      const prefix = ['apptainer', 'exec', '--bind', '/a:/b', ...HOSTILE, 'docker://img'];
      const rec = bash(['-c', execRecordLine({ name: 'c' } as never, prefix)], {
        ...process.env,
        IL_CTR: dir,
      });
      expect(rec.status).toBe(0);
      expect(readFileSync(join(dir, 'c.exec'), 'utf8')).toBe(prefix.map((w) => `${w}\0`).join(''));
      expect(statSync(join(dir, 'c.env')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parsers', () => {
  it.each([
    ['RUNNING|vm|0\n', { state: 'RUNNING', host: 'vm', uid: 0 }],
    ['PENDING|n/a|1000\n', { state: 'PENDING', host: undefined, uid: 1000 }],
    ['running|--uid=0|x', { state: 'RUNNING', host: undefined, uid: undefined }],
    ['RUNNING|vm', { state: 'RUNNING', host: 'vm', uid: undefined }],
    ['', undefined],
  ])('parseStateHost(%j)', (s, want) => expect(parseStateHost(s)).toEqual(want));

  it.each([
    ['vm\n', 'vm'],
    ['n/a', undefined],
    ['-x', undefined],
    ['', undefined],
  ])('parseBatchHost(%j)', (s, want) => expect(parseBatchHost(s)).toBe(want));

  it.each([
    ['NodeName=vm Arch=x86_64 NodeAddr=127.0.0.1 NodeHostName=vm', '127.0.0.1'],
    ['NodeName=vm NodeAddr=cn1.example.org NodeHostName=vm', 'cn1.example.org'],
    ['NodeName=vm NodeAddr=fe80::1 x', 'fe80::1'],
    ['NodeName=vm NodeHostName=vm', 'vm'],
    ['NodeName=vm NodeAddr=-bad', 'vm'],
  ])('parseNodeAddr(%j)', (s, want) => expect(parseNodeAddr(s, 'vm')).toBe(want));
});

describe('notRunningReason', () => {
  const c = (started: boolean, exited: boolean) => ({ name: 'app', started, exited });
  it.each([
    [{ jobState: 'RUNNING', container: c(true, false) }, undefined],
    [{ jobState: 'RUNNING' }, undefined],
    [
      { jobState: 'PENDING', container: c(false, false) },
      'container app is not running (its Slurm job is pending)',
    ],
    [{ jobState: 'PENDING' }, 'the pod is not running (its Slurm job is pending)'],
    [
      { jobState: undefined, container: c(true, true) },
      'container app is not running (its Slurm job has ended)',
    ],
    [
      { jobState: 'COMPLETING', container: c(true, true) },
      'container app is not running (its Slurm job is completing)',
    ],
    [{ jobState: 'RUNNING', container: c(true, true) }, 'container app is not running (it has exited)'],
    [
      { jobState: 'RUNNING', container: c(false, false) },
      'container app is not running (it has not started yet)',
    ],
  ])('%j', (f, want) => expect(notRunningReason(f)).toBe(want));
});

describe('SrunNoiseFilter', () => {
  const filtered = async (chunks: string[]) =>
    text(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(new SrunNoiseFilter()));
  it.each([
    [['err\n', 'srun: error: vm: task 0: Exited with exit code 3\n'], 'err\n'],
    [['srun: err', 'or: vm: task 0: Killed\n', 'after\n'], 'after\n'],
    [['a\nsrun: error: vm: tasks 0-1: Terminated\nb'], 'a\nb'],
    [
      ['srun: error: Unable to create step for job 5: Invalid job id\n'],
      'srun: error: Unable to create step for job 5: Invalid job id\n',
    ],
    [['srun is a word\n'], 'srun is a word\n'],
    [['prompt> '], 'prompt> '],
    [
      ['x srun: error: vm: task 0: Exited with exit code 3\n'],
      'x srun: error: vm: task 0: Exited with exit code 3\n',
    ],
    [['srun: '], 'srun: '],
    [['sr', 'un: error: vm: task 0: Exited with exit code 1\n', 'tail'], 'tail'],
  ])('%j', async (chunks, want) => expect(await filtered(chunks)).toBe(want));
});

describe('foreignOwner', () => {
  it.each([
    [0, 0, false],
    [1000, 1000, false],
    [1000, 0, true],
    [0, 1000, true],
    [undefined, 0, true],
    [0, undefined, true],
  ])('job uid %s, plugin uid %s: refused=%s', (job, plugin, refused) =>
    expect(foreignOwner(job, plugin) !== undefined).toBe(refused),
  );
});
