/**
 * The job a pod becomes: the JobSpec that job.ts builds and the script, status, probes and
 * stop code read, with the pod annotations it honours and the names derived from the pod
 * UID. Types and names only, so that every reader depends on them and not on the builder.
 */
import { posix } from 'node:path';
import type { EnvList } from '../../core/pod/env.ts';
import type { ProbeHandler, ProbeSpec } from '../../core/pod/probes.ts';
import type { PodRef } from '../../core/pod/spec.ts';
import type { DirToMake, FileToWrite, HostPathCheck, Mount } from '../../core/pod/volumes.ts';
import type { RuntimeName } from './config.ts';
import type { FlagGroup } from './flags.ts';

/** Pod annotations the plugin reads (interLink 0.6 names). */
export const ANNOTATION = {
  flags: 'slurm-job.vk.io/flags',
  preExec: 'slurm-job.vk.io/pre-exec',
  singularityOptions: 'slurm-job.vk.io/singularity-options',
  singularityMounts: 'slurm-job.vk.io/singularity-mounts',
  imageRoot: 'slurm-job.vk.io/image-root',
  mpiFlags: 'slurm-job.vk.io/mpi-flags',
  flavor: 'slurm-job.vk.io/flavor',
} as const;

export type ContainerKind = 'init' | 'sidecar' | 'app';

export interface JobContainer {
  name: string;
  kind: ContainerKind;
  /** The reference the runtime is given (prefix rules applied). */
  image: string;
  /**
   * `command[0]` (replaces the image entrypoint), undefined = the image's own; `args` are the
   * words after it (the rest of `command`, then `args`), after `$(VAR)` expansion.
   */
  entrypoint: string | undefined;
  args: string[];
  env: EnvList;
  mounts: Mount[];
  workingDir: string | undefined;
  /** apptainer/singularity (all variables), docker/podman (single-line ones): the env file (absolute path) for `--env-file`. */
  envFile: string | undefined;
  gpuVendors: string[];
}

export interface JobSpec {
  pod: PodRef;
  /** Slurm job name: carries the pod UID (restart-safe lookup, `squeue --name`). */
  jobName: string;
  jobDir: string;
  bashPath: string;
  runtime: RuntimeName;
  runtimePath: string;
  /** Options for every container of the runtime (site defaults, then the pod's annotation). */
  runtimeOptions: string[];
  /** `slurm-job.vk.io/singularity-mounts` as option words (apptainer/singularity). */
  extraMountArgs: string[];
  sbatch: FlagGroup[];
  /** Files and directories of volumes and env files (absolute paths under jobDir). */
  files: FileToWrite[];
  dirs: DirToMake[];
  hostPaths: HostPathCheck[];
  /** Shared filesystem: the plugin writes `files`; otherwise the script carries them. */
  sharedFs: boolean;
  jobEnv: Array<[string, string]>;
  commandPrefix: string;
  preExec: string | undefined;
  tsocks: { libPath: string; loginNode: string } | undefined;
  mpi: { path: string; flags: string[] } | undefined;
  containers: JobContainer[];
  warnings: string[];
  /** App containers' probes (probes.ts) and the pod's grace period for a probe's kill. */
  probes?: Map<string, ProbeSpec[]>;
  /** App containers' postStart hooks (run beside the container, gating its probes). */
  postStarts?: Map<string, ProbeHandler>;
  /** App containers' preStop hooks (prestop.ts: run by the batch shell on the plugin's signal). */
  preStops?: Map<string, ProbeHandler>;
  graceSeconds?: number;
}

export const jobNameOf = (uid: string) => `il-${uid}`;
export const jobDirOf = (dataRoot: string, ns: string, uid: string) => posix.join(dataRoot, `${ns}-${uid}`);
