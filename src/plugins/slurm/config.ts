/**
 * Configuration of `interlink plugin slurm` (merged by src/plugins/serve.ts with the serving
 * keys every plugin shares). Keys are case/underscore-insensitive (src/core/config.ts), so
 * interLink 0.6's SlurmConfig.yaml keys (SbatchPath, DataRootFolder, BashPath, Tsocks,
 * TsocksPath, TsocksLoginNode, CommandPrefix, ImagePrefix, SingularityDefaultOptions, ...)
 * are read as they are.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { BoolLike, configNames } from '../../core/config.ts';
import { ALLOWED_FLAGS, RESERVED_FLAGS } from './flags.ts';

/** A list from YAML, or a comma-separated string from an environment variable. */
const StringList = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== ''));

const Int = (min: number) => z.coerce.number().int().min(min);

export const RUNTIMES = ['apptainer', 'singularity', 'enroot', 'docker', 'podman', 'none'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** interLink 0.6 flavor keys (CPUDefault, MemoryDefault, SlurmFlags) → ours. */
const FLAVOR_KEYS: Record<string, string> = {
  cpudefault: 'cpu',
  memorydefault: 'memory',
  slurmflags: 'flags',
  gpus: 'gpu',
};

/**
 * A named set of site defaults. Selected by the pod annotation `slurm-job.vk.io/flavor`,
 * else by GPU auto-selection (pods asking for GPUs get the flavor whose `gpu` count matches,
 * else any GPU flavor), else `defaultFlavor`.
 */
export const Flavor = z.preprocess(
  (v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [FLAVOR_KEYS[k.toLowerCase()] ?? k, x]))
      : v,
  z.object({
    /** CPUs per task when the pod sets no CPU limit. */
    cpu: z.coerce.number().positive().optional(),
    /** Memory when the pod sets no memory limit: a Kubernetes quantity or Slurm size ("16G", "4000M"). */
    memory: z.coerce.string().optional(),
    /** GPUs this flavor provides (for auto-selection); also read from `--gres=gpu:N` in `flags`. */
    gpu: z.coerce.number().int().min(0).optional(),
    /** Extra sbatch flags (`--partition=gpu`, `--account=x`). */
    flags: StringList.default([]),
  }),
);
export type Flavor = z.output<typeof Flavor>;

const Taint = z.object({ key: z.string().min(1), value: z.string().optional(), effect: z.string().min(1) });

function defaultDataRoot(): string {
  return join(homedir(), '.interlink', 'slurm-jobs');
}

export const SlurmConfig = z.object({
  /**
   * Job directories live under `<dataRoot>/<namespace>-<pod uid>`: the job script, volume
   * files, per-container logs and exit codes. It must be visible to the plugin and to the
   * compute nodes (a shared filesystem), as for any Slurm batch output.
   */
  dataRoot: z
    .string()
    .min(1)
    .regex(/^[^\s"'\\#]+$/, 'no blanks, quotes, backslashes or "#" (it appears in #SBATCH lines)')
    .default(defaultDataRoot()),
  sbatchPath: z.string().min(1).default('sbatch'),
  squeuePath: z.string().min(1).default('squeue'),
  scancelPath: z.string().min(1).default('scancel'),
  scontrolPath: z.string().min(1).default('scontrol'),
  sacctPath: z.string().min(1).default('sacct'),
  /** Reads running jobs' usage for `kubectl top` (needs JobAcctGatherType other than none). */
  sstatPath: z.string().min(1).default('sstat'),
  sinfoPath: z.string().min(1).default('sinfo'),
  /** `srun`, for exec into a running job's allocation (exec-io.ts). */
  srunPath: z.string().min(1).default('srun'),
  /** Interpreter of the job script (bash ≥ 4.2). */
  bashPath: z.string().min(1).default('/bin/bash'),
  /**
   * Shared-filesystem mode: the plugin writes volume and env files into the job directory.
   * Off: those files travel inside the job script (base64) and the job writes them itself.
   */
  sharedFs: BoolLike.default(true),
  /** Container runtime of the job's containers (`none`: plain processes on the node; pods with volumeMounts other than the service-account token are refused). */
  containerRuntime: z.enum(RUNTIMES).default('apptainer'),
  /** The runtime's executable; default its name (`apptainer`, `enroot`, `docker`, ...). */
  runtimePath: z.string().min(1).optional(),
  /** Prefix of image names that are neither paths nor URIs (apptainer/singularity). */
  imagePrefix: z.string().default('docker://'),
  /** Options given to every `apptainer exec|run` (interLink 0.6: SingularityDefaultOptions). */
  apptainerOptions: StringList.default(['--containall']),
  /** Options given to every `enroot start`. */
  enrootOptions: StringList.default(['--rw']),
  /** Options given to every `docker run` / `podman run`. */
  dockerOptions: StringList.default(['--network=host']),
  /** `mpiexec` used by the `slurm-job.vk.io/mpi-flags` annotation. */
  mpiexecPath: z.string().min(1).default('mpiexec'),
  flavors: z.record(z.string(), Flavor).default({}),
  defaultFlavor: z.string().optional(),
  /** sbatch options no flavor or annotation may set (the plugin sets them). */
  reservedFlags: StringList.default([...RESERVED_FLAGS]),
  /**
   * sbatch options (exact long names) the pod annotation `slurm-job.vk.io/flags` may set:
   * an allow-list of resource and placement options, with values checked. Setting it
   * replaces the default list; `extraAllowedFlags` adds to it. Flavors are not limited.
   */
  allowedFlags: StringList.default([...ALLOWED_FLAGS]),
  /** sbatch options the annotation may set on top of `allowedFlags` (`--mail-type`, ...). */
  extraAllowedFlags: StringList.default([]),
  /** Shell lines run at the top of every job (`module load apptainer`): raw, site-controlled. */
  commandPrefix: z.string().default(''),
  /** Variables exported at the top of every job script (values quoted). */
  jobEnv: z.record(z.string(), z.coerce.string()).default({}),
  /**
   * Variables of the plugin's own environment handed to sbatch (and so to the job). Nothing
   * else of the plugin's environment reaches jobs.
   */
  passEnv: StringList.default([]),
  /** Proxy the job's TCP through `ssh -D` to `tsocksLoginNode` with libtsocks (interLink 0.6). */
  tsocks: BoolLike.default(false),
  tsocksPath: z.string().default(''),
  tsocksLoginNode: z.string().default(''),
  /** Honour the `slurm-job.vk.io/pre-exec` annotation (raw shell run at the start of the job). */
  allowPreExec: BoolLike.default(true),
  /** Accept hostPath volumes. */
  allowHostPath: BoolLike.default(true),
  /** Submit as the pod's `securityContext.runAsUser` (`sbatch --uid`, needs a root plugin). */
  allowRunAsUser: BoolLike.default(false),
  /** Keep job directories after delete (for post-mortems). */
  keepJobDirs: BoolLike.default(false),
  /**
   * SIGTERM → SIGKILL grace on delete when the pod names none, and its cap: a delete answers
   * within the API's 30 s call timeout (grace + wait), or asks to be retried. Delete is Slurm's
   * own cancel (the job ends CANCELLED), so the cluster's KillWait also bounds the grace.
   */
  deleteGraceSeconds: Int(0).default(10),
  deleteGraceMaxSeconds: Int(0).default(15),
  /** How long delete waits for Slurm to confirm the job ended before asking to be retried. */
  deleteWaitSeconds: Int(0).default(10),
  /** Upper bound of one Slurm command. */
  commandTimeoutSeconds: Int(1).default(60),
  /** Log follow: poll interval (fs.watch wakes it earlier where it works). */
  logPollMs: Int(20).default(500),
  /** How long "accounting storage is disabled" is believed before sacct is tried again. */
  accountingRecheckSeconds: Int(0).default(600),
  /** exec, attach and port-forward streams open at once in the plugin, and per pod (beyond: 503). */
  execMaxStreams: Int(1).default(32),
  execMaxStreamsPerPod: Int(1).default(8),
  /** A stream with no byte either way this long is closed (0 = never; a kubelet's default is 4 h). */
  execIdleTimeoutSeconds: Int(0).default(14400),
  /** After a client went away: SIGTERM to the `srun` step, SIGKILL this much later. */
  execKillGraceSeconds: Int(0).default(5),
  /** Reported in ping (PingResponse.taints) for the VK's node. */
  taints: z.array(Taint).default([]),
  /** Pods reported in ping; unset = not reported. */
  maxPods: z.coerce.string().optional(),
  /** Partition whose nodes ping sums up; unset = all. */
  partition: z.string().optional(),
  /**
   * Expand `$(VAR)` in env values, command and args as the kubelet does (`$$` escapes).
   * Off by default: our VK already expands them, and expanding twice turns an escaped
   * `$$(X)` into X's value. Turn on behind a VK that sends them unexpanded.
   */
  expandVariables: BoolLike.default(false),
});
export type SlurmConfig = z.output<typeof SlurmConfig>;

/** Other names of the settings: `$` environment variables, interLink 0.6 `SlurmConfig.yaml` keys. */
export const SLURM_CONFIG_SPEC = configNames({
  tsocks: ['$TSOCKS'],
  tsocksPath: ['$TSOCKSPATH'],
  sharedFs: ['$SHARED_FS'],
  dataRoot: ['$INTERLINK_SLURM_DATA_ROOT', 'DataRootFolder'],
  apptainerOptions: ['SingularityDefaultOptions'],
  runtimePath: ['SingularityPath', 'EnrootPath'],
  enrootOptions: ['EnrootDefaultOptions'],
  containerRuntime: ['runtime'],
  keepJobDirs: ['keepJobDir'],
});

/** Defaults with overrides, for tests and embedding. */
export function slurmConfig(overrides: Partial<z.input<typeof SlurmConfig>> = {}): SlurmConfig {
  return SlurmConfig.parse(overrides);
}
