/**
 * Slurm job state + the job directory's per-container files → Kubernetes container
 * statuses. Pure; tested by tables.
 *
 * Truth, in order: a container's exit-code file (written by the job script when the
 * container ended) is final; otherwise its start file says it ran; Slurm's job state says
 * whether anything still runs (squeue while the controller remembers the job, sacct when
 * accounting exists). A job Slurm no longer knows is over: containers without an exit code
 * are reported terminated with the reason the job gives (or ContainerStatusUnknown). When
 * Slurm did not answer at all, nothing is concluded from its silence.
 */
import type { PodStatus } from '../../wire/interlink.ts';
import type { ContainerState, ContainerStatus } from '../../wire/k8s.ts';
import type { ContainerKind } from './job-spec.ts';
import type { SlurmJob } from './parse.ts';

export interface ContainerFiles {
  started?: string;
  finished?: string;
  exitCode?: number;
}

export interface PodRecord {
  namespace: string;
  name: string;
  uid: string;
  jobId: string;
  containers: Array<{ name: string; kind: ContainerKind; image?: string }>;
}

export interface JobObservation {
  /** Slurm's view of the job; undefined = Slurm does not know it (or did not answer). */
  job?: SlurmJob;
  /** False when squeue failed: the job's absence then means nothing. */
  slurmAnswered: boolean;
  /** The job script's own final exit code (`job.exit`), when it got that far. */
  jobExit?: number;
  restarts: number;
  files: Map<string, ContainerFiles>;
  /** ISO time used for finishedAt when nothing better is known. */
  now: string;
}

export const ACTIVE_STATES = new Set([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'COMPLETING',
  'SUSPENDED',
  'RESIZING',
  'REQUEUED',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'RESV_DEL_HOLD',
  'SPECIAL_EXIT',
  'SIGNALING',
  'STAGE_OUT',
  'STOPPED',
]);

/** States where the job waits to (re)start: its containers have not started (again). */
const WAITING_STATES = new Set([
  'PENDING',
  'REQUEUED',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'RESV_DEL_HOLD',
  'SPECIAL_EXIT',
]);

interface Ending {
  reason: string;
  message: string;
  /** The job ended abnormally (not by its own script's exit). */
  abnormal: boolean;
}

/** Why a job ended, in words Kubernetes users recognise. */
export function jobEnding(jobId: string, job: SlurmJob | undefined): Ending {
  const j = `Slurm job ${jobId}`;
  switch (job?.state) {
    case undefined:
      return {
        reason: 'ContainerStatusUnknown',
        message: `${j} is no longer known to Slurm and left no exit code (killed, or purged after MinJobAge without accounting)`,
        abnormal: true,
      };
    case 'COMPLETED':
      return { reason: 'Completed', message: `${j} completed`, abnormal: false };
    case 'FAILED':
      return {
        reason: 'Error',
        message: `${j} failed${job.reason ? ` (${job.reason})` : ''}`,
        abnormal: false,
      };
    case 'CANCELLED':
      return { reason: 'Cancelled', message: `${j} was cancelled (scancel)`, abnormal: true };
    case 'TIMEOUT':
      return { reason: 'DeadlineExceeded', message: `${j} reached its time limit (TIMEOUT)`, abnormal: true };
    case 'DEADLINE':
      return { reason: 'DeadlineExceeded', message: `${j} reached its deadline (DEADLINE)`, abnormal: true };
    case 'OUT_OF_MEMORY':
      return { reason: 'OOMKilled', message: `${j} ran out of memory (OUT_OF_MEMORY)`, abnormal: true };
    case 'NODE_FAIL':
      return {
        reason: 'NodeLost',
        message: `${j} ended because its node failed (NODE_FAIL)`,
        abnormal: true,
      };
    case 'BOOT_FAIL':
      return {
        reason: 'NodeLost',
        message: `${j} could not start: its node failed to boot (BOOT_FAIL)`,
        abnormal: true,
      };
    case 'PREEMPTED':
      return { reason: 'Preempted', message: `${j} was preempted (PREEMPTED)`, abnormal: true };
    case 'REVOKED':
      return { reason: 'Revoked', message: `${j} was revoked by another cluster (REVOKED)`, abnormal: true };
    default:
      return { reason: 'Error', message: `${j} ended in state ${job?.state}`, abnormal: true };
  }
}

/** What squeue's pending reasons mean, for the waiting message. */
const PENDING_REASONS: Record<string, string> = {
  Resources: 'waiting for resources to become available',
  Priority: 'jobs with higher priority are queued ahead',
  Dependency: 'waiting for a job it depends on',
  DependencyNeverSatisfied: 'a job it depends on failed; it will never start',
  JobHeldUser: 'held by its user (scontrol release to start it)',
  JobHeldAdmin: 'held by an administrator',
  BeginTime: 'its start time has not been reached',
  ReqNodeNotAvail: 'a requested node is not available',
  PartitionDown: 'its partition is down',
  PartitionInactive: 'its partition is inactive',
  PartitionNodeLimit: 'it asks for more nodes than the partition allows',
  PartitionTimeLimit: 'its time limit exceeds the partition limit',
  PartitionConfig: 'it asks for more than the partition offers',
  NodeDown: 'a node it needs is down',
  BadConstraints: 'its constraints cannot be satisfied',
  QOSMaxJobsPerUserLimit: 'the QOS limit of jobs per user is reached',
  AssocMaxJobsLimit: 'the association limit of jobs is reached',
  AssocGrpCpuLimit: 'the association CPU limit is reached',
  AssocGrpMemLimit: 'the association memory limit is reached',
  Reservation: 'waiting for its advanced reservation',
  Licenses: 'waiting for licenses',
  launch_failed_requeued_held: 'its launch failed; requeued and held',
};

export function pendingMessage(jobId: string, job: SlurmJob): string {
  const r = job.reason;
  if (!r) return `Slurm job ${jobId} is pending`;
  const code = r.split(/[,(]/)[0]!;
  const why = PENDING_REASONS[code];
  return `Slurm job ${jobId} is pending: ${r}${why ? ` (${why})` : ''}`;
}

const exitOf = (job: SlurmJob | undefined, fallback: number) =>
  job?.signal ? 128 + job.signal : job?.exitCode ? job.exitCode : fallback;

type RecordContainer = PodRecord['containers'][number];

/** What every container's state is derived from: the pod's record and the job as observed. */
interface StatusContext {
  rec: PodRecord;
  obs: JobObservation;
  job: SlurmJob | undefined;
  state: string | undefined;
  waiting: boolean;
  completing: boolean;
  /** The job is over: how it ended. */
  ending: Ending | undefined;
  /** Why the containers are being killed, when known (ending, or a time limit while completing). */
  cause: Ending | undefined;
  failedInit: RecordContainer | undefined;
}

export function podStatus(rec: PodRecord, obs: JobObservation): PodStatus {
  const { job } = obs;
  const state = job?.state;
  const active = state !== undefined && ACTIVE_STATES.has(state);
  const waiting = state !== undefined && WAITING_STATES.has(state);
  // Over: Slurm says so, or answered without knowing the job.
  const over = (state !== undefined && !active) || (state === undefined && obs.slurmAnswered);
  const ending = over
    ? jobEnding(rec.jobId, job ?? (obs.jobExit !== undefined ? synthetic(rec.jobId, obs.jobExit) : undefined))
    : undefined;
  // While the job is ending (COMPLETING) its containers are being signalled: the cause is in
  // squeue's reason when it is a time limit; otherwise it is only known once the job is over,
  // so a container killed by a signal is held as running until then (seconds: KillWait).
  const completing = state === 'COMPLETING';
  const cause =
    ending ??
    (completing && job?.reason === 'TimeLimit'
      ? jobEnding(rec.jobId, { ...job, state: 'TIMEOUT' })
      : undefined);
  const failedInit = rec.containers.find(
    (c) => c.kind === 'init' && (obs.files.get(c.name)?.exitCode ?? 0) !== 0,
  );
  const ctx: StatusContext = { rec, obs, job, state, waiting, completing, ending, cause, failedInit };

  const statuses = rec.containers.map((c): ContainerStatus & { kind: ContainerKind } => {
    const { st, ready } = containerState(c, ctx);
    const started = st.running !== undefined || st.terminated?.startedAt != null;
    return {
      kind: c.kind,
      name: c.name,
      state: st,
      ready,
      started,
      restartCount: obs.restarts,
      ...(c.image ? { image: c.image } : {}),
      containerID: `slurm://${rec.jobId}/${c.name}`,
    };
  });

  const strip = ({ kind: _kind, ...s }: ContainerStatus & { kind: ContainerKind }) => s as ContainerStatus;
  return {
    name: rec.name,
    UID: rec.uid,
    namespace: rec.namespace,
    JID: rec.jobId,
    initContainers: statuses.filter((s) => s.kind !== 'app').map(strip),
    containers: statuses.filter((s) => s.kind === 'app').map(strip),
  };
}

/**
 * One container's state, from the most to the least certain evidence: its exit code file,
 * its start file, the job's end, then what Slurm says about the job.
 */
function containerState(c: RecordContainer, ctx: StatusContext): { st: ContainerState; ready: boolean } {
  const { rec, obs, job, state, ending } = ctx;
  const f = ctx.waiting ? {} : (obs.files.get(c.name) ?? {});
  // Killed by a signal while the job completes for a reason not yet known: still running.
  if (f.exitCode !== undefined && f.exitCode > 128 && ctx.completing && !ctx.cause) {
    return { st: { running: { startedAt: f.started ?? null } }, ready: true };
  }
  if (f.exitCode !== undefined) return exitedState(c, f, f.exitCode, ctx.cause);
  if (f.started) {
    if (ending) return { st: lostExitState(f.started, ending, ctx), ready: false };
    return { st: { running: { startedAt: f.started } }, ready: true };
  }
  if (ending) return { st: neverStartedState(c, ending, ctx), ready: false };
  if (ctx.waiting && job) {
    return {
      st: { waiting: { reason: 'JobPending', message: pendingMessage(rec.jobId, job) } },
      ready: false,
    };
  }
  if (!obs.slurmAnswered && state === undefined) {
    return {
      st: {
        waiting: {
          reason: 'ContainerCreating',
          message: `Slurm did not answer about job ${rec.jobId}; state unknown`,
        },
      },
      ready: false,
    };
  }
  return { st: startingState(c, ctx), ready: false };
}

/** The container wrote its exit code; a signal exit takes the job's cause when that was abnormal. */
function exitedState(
  c: RecordContainer,
  f: ContainerFiles,
  code: number,
  cause: Ending | undefined,
): { st: ContainerState; ready: boolean } {
  const killed = code > 128 && cause?.abnormal === true;
  const st: ContainerState = {
    terminated: {
      exitCode: code,
      ...(code > 128 ? { signal: code - 128 } : {}),
      reason: code === 0 ? 'Completed' : killed ? cause!.reason : 'Error',
      ...(killed ? { message: cause!.message } : {}),
      startedAt: f.started ?? null,
      finishedAt: f.finished ?? f.started ?? null,
    },
  };
  return { st, ready: c.kind === 'init' && code === 0 };
}

/** Started, the job is over, but no exit code was written (killed hard, or node lost). */
function lostExitState(started: string, ending: Ending, ctx: StatusContext): ContainerState {
  return {
    terminated: {
      exitCode: exitOf(ctx.job, 137),
      reason: ending.abnormal ? ending.reason : 'ContainerStatusUnknown',
      message: ending.abnormal ? ending.message : `${ending.message}, but the container left no exit code`,
      startedAt: started,
      finishedAt: ctx.job?.end ?? ctx.obs.now,
    },
  };
}

/** The job is over and the container never started: blame a failed init container if any. */
function neverStartedState(c: RecordContainer, ending: Ending, ctx: StatusContext): ContainerState {
  const { failedInit } = ctx;
  const because =
    failedInit && failedInit.name !== c.name ? `init container ${failedInit.name} failed` : ending.message;
  return {
    terminated: {
      exitCode: exitOf(ctx.job, 1),
      reason: ending.abnormal ? ending.reason : 'Error',
      message: `never started: ${because}`,
      startedAt: null,
      finishedAt: ctx.job?.end ?? ctx.obs.now,
    },
  };
}

/** Running (or starting): an init container not yet done holds back the later ones. */
function startingState(c: RecordContainer, ctx: StatusContext): ContainerState {
  const { rec, obs } = ctx;
  const idx = rec.containers.indexOf(c);
  const blocked = rec.containers.some(
    (x, i) =>
      x.kind === 'init' && (c.kind === 'app' || i < idx) && obs.files.get(x.name)?.exitCode === undefined,
  );
  return blocked
    ? { waiting: { reason: 'PodInitializing' } }
    : {
        waiting: {
          reason: 'ContainerCreating',
          message: `Slurm job ${rec.jobId} is ${ctx.state?.toLowerCase() ?? 'starting'}`,
        },
      };
}

/** A job Slurm forgot whose script still wrote its final exit code. */
function synthetic(id: string, exit: number): SlurmJob {
  return { id, state: exit === 0 ? 'COMPLETED' : 'FAILED', exitCode: exit, source: 'squeue' };
}
