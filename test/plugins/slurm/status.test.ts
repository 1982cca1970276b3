import { describe, expect, it } from 'vitest';
import type { SlurmJob } from '../../../src/plugins/slurm/parse.ts';
import {
  type ContainerFiles,
  type JobObservation,
  type PodRecord,
  podStatus,
} from '../../../src/plugins/slurm/status.ts';

const rec: PodRecord = {
  namespace: 'ns',
  name: 'p',
  uid: 'u1',
  jobId: '42',
  containers: [
    { name: 'i1', kind: 'init' },
    { name: 'i2', kind: 'init' },
    { name: 'a', kind: 'app', image: 'busybox' },
    { name: 'b', kind: 'app' },
  ],
};
const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:00:05Z';
const NOW = '2026-01-01T00:10:00Z';

const done = (exitCode: number): ContainerFiles => ({ started: T0, finished: T1, exitCode });
const running: ContainerFiles = { started: T0 };

function obs(
  job: Partial<SlurmJob> | undefined,
  files: Record<string, ContainerFiles>,
  extra: Partial<JobObservation> = {},
): JobObservation {
  return {
    ...(job ? { job: { id: '42', state: 'RUNNING', source: 'squeue', ...job } as SlurmJob } : {}),
    slurmAnswered: true,
    restarts: 0,
    files: new Map(Object.entries(files)),
    now: NOW,
    ...extra,
  };
}

/** name → compact state: "waiting:Reason", "running", "terminated:code:Reason". */
function compact(o: JobObservation) {
  const s = podStatus(rec, o);
  const out: Record<string, string> = {};
  for (const c of [...(s.initContainers ?? []), ...(s.containers ?? [])]) {
    const st = c.state!;
    out[c.name] = st.waiting
      ? `waiting:${st.waiting.reason}`
      : st.running
        ? 'running'
        : `terminated:${st.terminated!.exitCode}:${st.terminated!.reason}`;
  }
  return out;
}

describe('podStatus: Slurm state + job-directory files → container states', () => {
  it.each([
    [
      'PENDING',
      { state: 'PENDING', reason: 'Resources' },
      {},
      {
        i1: 'waiting:JobPending',
        i2: 'waiting:JobPending',
        a: 'waiting:JobPending',
        b: 'waiting:JobPending',
      },
    ],
    [
      'RUNNING, first init running',
      {},
      { i1: running },
      {
        i1: 'running',
        i2: 'waiting:PodInitializing',
        a: 'waiting:PodInitializing',
        b: 'waiting:PodInitializing',
      },
    ],
    [
      'RUNNING, inits done, apps starting',
      {},
      { i1: done(0), i2: done(0) },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'waiting:ContainerCreating',
        b: 'waiting:ContainerCreating',
      },
    ],
    [
      'RUNNING, one app done',
      {},
      { i1: done(0), i2: done(0), a: running, b: done(0) },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'running',
        b: 'terminated:0:Completed',
      },
    ],
    [
      'COMPLETING with final files',
      { state: 'COMPLETING' },
      { i1: done(0), i2: done(0), a: done(3), b: done(0) },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'terminated:3:Error',
        b: 'terminated:0:Completed',
      },
    ],
    [
      'COMPLETED',
      { state: 'COMPLETED' },
      { i1: done(0), i2: done(0), a: done(0), b: done(0) },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'terminated:0:Completed',
        b: 'terminated:0:Completed',
      },
    ],
    [
      'FAILED in an init container',
      { state: 'FAILED', exitCode: 2, reason: 'NonZeroExitCode' },
      { i1: done(2) },
      {
        i1: 'terminated:2:Error',
        i2: 'terminated:2:Error',
        a: 'terminated:2:Error',
        b: 'terminated:2:Error',
      },
    ],
    [
      'TIMEOUT: containers stopped by SIGTERM',
      { state: 'TIMEOUT', signal: 15 },
      { i1: done(0), i2: done(0), a: done(143), b: done(0) },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'terminated:143:DeadlineExceeded',
        b: 'terminated:0:Completed',
      },
    ],
    [
      'TIMEOUT: killed before writing exit codes',
      { state: 'TIMEOUT', signal: 9 },
      { i1: done(0), i2: done(0), a: running, b: running },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'terminated:137:DeadlineExceeded',
        b: 'terminated:137:DeadlineExceeded',
      },
    ],
    [
      'COMPLETING after a time limit: the cause is already known',
      { state: 'COMPLETING', reason: 'TimeLimit' },
      { i1: done(0), i2: done(0), a: done(143), b: running },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'terminated:143:DeadlineExceeded',
        b: 'running',
      },
    ],
    [
      'COMPLETING after scancel: a signalled container is held running until the cause is known',
      { state: 'COMPLETING' },
      { i1: done(0), i2: done(0), a: done(143), b: done(0) },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'running',
        b: 'terminated:0:Completed',
      },
    ],
    [
      'RUNNING: a container that crashed on its own is reported at once',
      {},
      { i1: done(0), i2: done(0), a: done(139), b: running },
      { i1: 'terminated:0:Completed', i2: 'terminated:0:Completed', a: 'terminated:139:Error', b: 'running' },
    ],
    [
      'CANCELLED while pending',
      { state: 'CANCELLED', reason: 'JobHeldUser' },
      {},
      {
        i1: 'terminated:1:Cancelled',
        i2: 'terminated:1:Cancelled',
        a: 'terminated:1:Cancelled',
        b: 'terminated:1:Cancelled',
      },
    ],
    [
      'CANCELLED while running',
      { state: 'CANCELLED', signal: 15 },
      { i1: done(0), i2: done(0), a: done(143), b: done(143) },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'terminated:143:Cancelled',
        b: 'terminated:143:Cancelled',
      },
    ],
    [
      'OUT_OF_MEMORY',
      { state: 'OUT_OF_MEMORY', signal: 9 },
      { i1: done(0), i2: done(0), a: running, b: done(0) },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'terminated:137:OOMKilled',
        b: 'terminated:0:Completed',
      },
    ],
    [
      'NODE_FAIL',
      { state: 'NODE_FAIL' },
      { i1: running },
      {
        i1: 'terminated:137:NodeLost',
        i2: 'terminated:1:NodeLost',
        a: 'terminated:1:NodeLost',
        b: 'terminated:1:NodeLost',
      },
    ],
    [
      'PREEMPTED',
      { state: 'PREEMPTED', signal: 15 },
      { i1: done(0), i2: done(0), a: running, b: running },
      {
        i1: 'terminated:0:Completed',
        i2: 'terminated:0:Completed',
        a: 'terminated:143:Preempted',
        b: 'terminated:143:Preempted',
      },
    ],
  ] as const)('%s', (_name, job, files, expected) => {
    expect(compact(obs(job, files))).toEqual(expected);
  });

  it('a pending job says why, with the squeue reason, in the waiting message', () => {
    const s = podStatus(rec, obs({ state: 'PENDING', reason: 'Resources' }, {}));
    expect(s.containers![0]!.state!.waiting).toEqual({
      reason: 'JobPending',
      message: 'Slurm job 42 is pending: Resources (waiting for resources to become available)',
    });
    const held = podStatus(rec, obs({ state: 'PENDING', reason: 'JobHeldUser' }, {}));
    expect(held.initContainers![0]!.state!.waiting!.message).toContain('JobHeldUser (held by its user');
  });

  it('a job Slurm forgot is final: exit-code files are the truth, the rest ContainerStatusUnknown', () => {
    expect(
      compact(obs(undefined, { i1: done(0), i2: done(0), a: done(0), b: done(1) }, { jobExit: 1 })),
    ).toEqual({
      i1: 'terminated:0:Completed',
      i2: 'terminated:0:Completed',
      a: 'terminated:0:Completed',
      b: 'terminated:1:Error',
    });
    expect(compact(obs(undefined, { i1: done(0), i2: done(0), a: running, b: done(0) }))).toMatchObject({
      a: 'terminated:137:ContainerStatusUnknown',
    });
  });

  it('when squeue did not answer, nothing is concluded from the silence', () => {
    expect(
      compact(obs(undefined, { i1: done(0), i2: done(0), a: running }, { slurmAnswered: false })),
    ).toEqual({
      i1: 'terminated:0:Completed',
      i2: 'terminated:0:Completed',
      a: 'running',
      b: 'waiting:ContainerCreating',
    });
  });

  it('fills times, ids, readiness and restarts; init containers separate from app containers', () => {
    const s = podStatus(rec, obs({}, { i1: done(0), i2: done(0), a: running }, { restarts: 2 }));
    expect(s).toMatchObject({ name: 'p', UID: 'u1', namespace: 'ns', JID: '42' });
    expect(s.initContainers!.map((c) => c.name)).toEqual(['i1', 'i2']);
    expect(s.containers!.map((c) => c.name)).toEqual(['a', 'b']);
    const a = s.containers![0]!;
    expect(a).toMatchObject({
      ready: true,
      started: true,
      restartCount: 2,
      image: 'busybox',
      containerID: 'slurm://42/a',
      state: { running: { startedAt: T0 } },
    });
    expect(s.initContainers![0]).toMatchObject({
      ready: true,
      state: { terminated: { startedAt: T0, finishedAt: T1 } },
    });
    expect(s.containers![1]).toMatchObject({ ready: false, started: false });
  });

  it('the reason message of an abnormal end names the job and the Slurm state', () => {
    const s = podStatus(
      rec,
      obs({ state: 'TIMEOUT' }, { i1: done(0), i2: done(0), a: done(143), b: done(0) }),
    );
    expect(s.containers![0]!.state!.terminated).toMatchObject({
      reason: 'DeadlineExceeded',
      signal: 15,
      message: 'Slurm job 42 reached its time limit (TIMEOUT)',
    });
  });
});
