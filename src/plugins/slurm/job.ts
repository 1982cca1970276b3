/**
 * From a pod (RetrievedPodData) and the site configuration to a JobSpec: everything the job
 * script generator needs, decided and validated up front, so that create fails with
 * INVALID_INPUT naming the field instead of submitting a job that cannot work. Pure.
 *
 * Kubernetes semantics are shared: env resolution and volume files with the docker plugin
 * (src/core/pod/{spec,env,volumes}.ts), `$(VAR)` expansion and quantities with the VK
 * too (src/core/kube).
 */

import { posix } from 'node:path';
import { commandLine, type EnvList, resolveEnv } from '../../core/pod/env.ts';
import { type ProbeHandler, type ProbeSpec, preStopHooks } from '../../core/pod/probes.ts';
import type { PodRef } from '../../core/pod/spec.ts';
import { type ContainerSpec, type PodSpecView, podSpecOf } from '../../core/pod/spec.ts';
import {
  DEFAULT_FILE_MODE,
  type DirToMake,
  type FileToWrite,
  type HostPathCheck,
  type Mount,
  planVolumes,
} from '../../core/pod/volumes.ts';
import { invalidInput } from '../../errors/index.ts';
import type { RetrievedPodData } from '../../wire/interlink.ts';
import { type ConfigMap, EnvVarName, type Secret } from '../../wire/k8s.ts';
import type { RuntimeName, SlurmConfig } from './config.ts';
import { checkAllowed, checkFlags, type FlagGroup, groupFlags, mergeFlags, splitWords } from './flags.ts';
import { checkImage, resolveImage } from './image.ts';
import { podPostStarts, podProbes } from './probes.ts';
import { SHELL_IDENTIFIER, sh } from './quote.ts';
import { asksGpus, flavorFlags, podResources, resourceFlags, selectFlavor, totalGpus } from './resources.ts';

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
  /** Apptainer/Singularity: the env file (absolute path) the job hands to `--env-file`. */
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

const MOUNT_PATH = /^\/[^\s:,$\0]*$/;

function collect<T extends { metadata: { name: string } }>(
  data: RetrievedPodData,
  pick: (c: NonNullable<RetrievedPodData['container']>[number]) => T[] | null | undefined,
): Map<string, T> {
  const out = new Map<string, T>();
  for (const c of data.container ?? []) for (const o of pick(c) ?? []) out.set(o.metadata.name, o);
  return out;
}

/** The spec with memory-backed emptyDirs made plain directories (a job has no tmpfs volumes). */
function withPlainEmptyDirs(spec: PodSpecView): PodSpecView {
  if (!(spec.volumes ?? []).some((v) => v.emptyDir?.medium)) return spec;
  return {
    ...spec,
    volumes: (spec.volumes ?? []).map((v) =>
      v.emptyDir?.medium ? { ...v, emptyDir: { ...v.emptyDir, medium: undefined } } : v,
    ),
  };
}

type Annotations = Record<string, string>;
/** A container with its kind and the field path that errors name. */
type ContainerEntry = [ContainerSpec, ContainerKind, string];

/** An annotation's words, [] when it is absent (split errors name the annotation key). */
function annotationWords(ann: Annotations, key: string): string[] {
  const v = ann[key];
  return v === undefined ? [] : splitWords(v, key);
}

/**
 * The job's sbatch options: our own (name, output, chdir) first so that nothing can move the
 * job out of its directory, then flavor, annotation and pod-derived resources merged, then
 * the run-as user. Throws INVALID_INPUT for reserved or not-allowed flags.
 */
function sbatchFlags(
  spec: PodSpecView,
  cfg: SlurmConfig,
  ann: Annotations,
  ref: PodRef,
  jobDir: string,
  resources: ReturnType<typeof podResources>,
): FlagGroup[] {
  const flavor = selectFlavor(cfg.flavors, cfg.defaultFlavor, ann[ANNOTATION.flavor], totalGpus(resources));
  const fromFlavor = flavor ? flavorFlags(flavor.name, flavor.flavor) : [];
  checkFlags(fromFlavor, cfg.reservedFlags, `flavors.${flavor?.name}.flags`);
  const fromAnnotation = groupFlags(annotationWords(ann, ANNOTATION.flags), ANNOTATION.flags);
  checkFlags(fromAnnotation, cfg.reservedFlags, `annotation ${ANNOTATION.flags}`);
  checkAllowed(
    fromAnnotation,
    [...cfg.allowedFlags, ...cfg.extraAllowedFlags],
    `annotation ${ANNOTATION.flags}`,
  );
  let fromPod = resourceFlags(resources);
  // A flavor or the user already chose GPUs (type, count): keep their choice.
  if (asksGpus([...fromFlavor, ...fromAnnotation]))
    fromPod = fromPod.filter((g) => !g[0]!.startsWith('--gres=gpu'));
  const own: FlagGroup[] = [
    [`--job-name=${jobNameOf(ref.uid)}`],
    [`--output=${jobDir}/slurm.out`],
    [`--chdir=${jobDir}`],
  ];
  const user = runAsFlags(spec, cfg);
  return [...own, ...mergeFlags(fromFlavor, fromAnnotation, fromPod), ...user];
}

interface RuntimeChoice {
  apptainerLike: boolean;
  runtimeOptions: string[];
  extraMountArgs: string[];
}

/**
 * Runtime options: site defaults for the runtime, plus the singularity annotations, which
 * only apptainer/singularity understand — other runtimes ignore them with a warning rather
 * than failing, as interLink 0.6 did.
 */
function runtimeChoice(cfg: SlurmConfig, ann: Annotations, warnings: string[]): RuntimeChoice {
  const runtime = cfg.containerRuntime;
  const apptainerLike = runtime === 'apptainer' || runtime === 'singularity';
  const annOptions = annotationWords(ann, ANNOTATION.singularityOptions);
  const annMounts = mountWords(annotationWords(ann, ANNOTATION.singularityMounts));
  if (!apptainerLike && (annOptions.length > 0 || annMounts.length > 0)) {
    warnings.push(
      `runtime ${runtime}: annotations ${ANNOTATION.singularityOptions}/${ANNOTATION.singularityMounts} ignored`,
    );
  }
  const baseOptions = apptainerLike
    ? cfg.apptainerOptions
    : runtime === 'enroot'
      ? cfg.enrootOptions
      : runtime === 'none'
        ? []
        : cfg.dockerOptions;
  return {
    apptainerLike,
    runtimeOptions: [...baseOptions, ...(apptainerLike ? annOptions : [])],
    extraMountArgs: apptainerLike ? annMounts : [],
  };
}

/** The pre-exec annotation: shell code from the pod author, so only where the site allows it. */
function preExecOf(ann: Annotations, cfg: SlurmConfig): string | undefined {
  const preExec = ann[ANNOTATION.preExec];
  if (preExec !== undefined && !cfg.allowPreExec) {
    throw invalidInput(
      `annotation ${ANNOTATION.preExec}: this site does not allow pre-exec commands`,
      ANNOTATION.preExec,
    );
  }
  return preExec;
}

/** The MPI annotation: "true" = mpiexec without flags, otherwise its flag words. */
function mpiOf(ann: Annotations, cfg: SlurmConfig): JobSpec['mpi'] {
  const mpiRaw = ann[ANNOTATION.mpiFlags];
  return mpiRaw === undefined
    ? undefined
    : {
        path: cfg.mpiexecPath,
        flags: mpiRaw.trim() === 'true' ? [] : splitWords(mpiRaw, ANNOTATION.mpiFlags),
      };
}

/** Init containers (restartPolicy Always = sidecar) then app containers, in pod order. */
function containerEntries(spec: PodSpecView): ContainerEntry[] {
  return [
    ...(spec.initContainers ?? []).map(
      (c): ContainerEntry => [
        c,
        c.restartPolicy === 'Always' ? 'sidecar' : 'init',
        `pod.spec.initContainers[${c.name}]`,
      ],
    ),
    ...spec.containers.map((c): ContainerEntry => [c, 'app', `pod.spec.containers[${c.name}]`]),
  ];
}

/** Runtime none: a plain process has no mount namespace: it would run without its files and succeed. */
/** Where service-account admission mounts the pod's API token (`kube-api-access-*`). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The `none` runtime cannot make volumeMounts real, so a pod that needs its files is refused
 * rather than run without them. The one exception is the API token that service-account
 * admission adds to nearly every Pod: a batch process rarely reads it, refusing it would
 * refuse almost every pod, and its files are still written into the job directory.
 */
function checkNoMounts(all: ContainerEntry[], spec: PodSpecView): void {
  const tokenVolumes = new Set(
    (spec.volumes ?? [])
      .filter((v) => v.projected?.sources?.some((src) => src.serviceAccountToken))
      .map((v) => v.name),
  );
  for (const [c, , field] of all) {
    const i = (c.volumeMounts ?? []).findIndex(
      (m) => !(tokenVolumes.has(m.name) && m.mountPath === SERVICE_ACCOUNT_DIR),
    );
    const m = c.volumeMounts?.[i];
    if (m) {
      throw invalidInput(
        `${field}.volumeMounts[${i}]: volume "${m.name}" cannot be mounted: this site runs pods as plain processes (runtime none), which have no volumeMounts; remove the mounts or use a site with a container runtime`,
        `${field}.volumeMounts`,
      );
    }
  }
}

/**
 * Mount paths become words of a `--bind SRC:DST` style option, where blanks, ":" and ","
 * would split or add binds and "$" would be expanded by the script.
 */
function checkMountPaths(mounts: Mount[], field: string): void {
  for (const m of mounts) {
    if (!MOUNT_PATH.test(m.target))
      throw invalidInput(
        `${field}.volumeMounts: mountPath "${m.target}" may not contain blanks, ":", "," or "$"`,
        `${field}.volumeMounts`,
      );
    if (!MOUNT_PATH.test(m.source))
      throw invalidInput(
        `${field}.volumeMounts: source path "${m.source}" may not contain blanks, ":", "," or "$"`,
        `${field}.volumeMounts`,
      );
  }
}

/** What every container of one job shares while being turned into a JobContainer. */
interface ContainerContext {
  cfg: SlurmConfig;
  ann: Annotations;
  jobDir: string;
  apptainerLike: boolean;
  envs: Map<string, EnvList>;
  mounts: Map<string, Mount[]>;
  gpuVendors: string[];
  /** Env files are appended here (apptainer/singularity). */
  files: FileToWrite[];
}

/** One container, validated; checks run in the order the error messages were always produced. */
function jobContainer([c, kind, field]: ContainerEntry, ctx: ContainerContext): JobContainer {
  const { cfg, jobDir } = ctx;
  const runtime = cfg.containerRuntime;
  const env = ctx.envs.get(c.name)!;
  checkEnvNames(env, runtime, field);
  checkImage(c.image, `${field}.image`);
  const { entrypoint, args } = commandLine(c, env, cfg.expandVariables);
  if (runtime === 'none' && entrypoint === undefined && args.length === 0) {
    throw invalidInput(
      `${field}.command: runtime none runs a process on the node and needs a command`,
      `${field}.command`,
    );
  }
  const mounts = ctx.mounts.get(c.name) ?? [];
  checkMountPaths(mounts, field);
  let envFile: string | undefined;
  if (ctx.apptainerLike) {
    envFile = posix.join(jobDir, 'env', `${c.name}.env`);
    const text = env.map(([k, v]) => `${k}=${sh(v, `${field}.env[${k}]`)}\n`).join('');
    ctx.files.push({ path: envFile, data: Buffer.from(text, 'utf8'), mode: 0o600 });
  }
  if (c.workingDir !== undefined && !c.workingDir.startsWith('/')) {
    throw invalidInput(
      `${field}.workingDir: "${c.workingDir}" must be an absolute path`,
      `${field}.workingDir`,
    );
  }
  return {
    name: c.name,
    kind,
    image: resolveImage(c.image, runtime, cfg.imagePrefix, ctx.ann[ANNOTATION.imageRoot]),
    entrypoint,
    args,
    env,
    mounts,
    workingDir: c.workingDir,
    envFile,
    gpuVendors: ctx.gpuVendors,
  };
}

export function buildJob(data: RetrievedPodData, cfg: SlurmConfig): JobSpec {
  const pod = data.pod;
  const meta = pod.metadata;
  const ref: PodRef = { uid: meta.uid, namespace: meta.namespace, name: meta.name };
  const spec = withPlainEmptyDirs(podSpecOf(pod));
  const ann = meta.annotations ?? {};
  const runtime = cfg.containerRuntime;
  const jobDir = jobDirOf(cfg.dataRoot, ref.namespace, ref.uid);
  const warnings: string[] = [];

  // Validation order is part of the behaviour (the first error wins): sbatch options,
  // runtime options, pre-exec and MPI, then environment and volumes, then each container.
  const resources = podResources(spec);
  const sbatch = sbatchFlags(spec, cfg, ann, ref, jobDir, resources);
  const choice = runtimeChoice(cfg, ann, warnings);
  const gpuVendors = Object.keys(resources.gpus).map((g) => g.split('.')[0]!);
  const preExec = preExecOf(ann, cfg);
  const mpi = mpiOf(ann, cfg);

  const sources = {
    configMaps: collect<ConfigMap>(data, (c) => c.configMaps),
    secrets: collect<Secret>(data, (c) => c.secrets),
  };
  const all = containerEntries(spec);
  const envs = new Map<string, EnvList>();
  for (const [c, , field] of all) {
    envs.set(c.name, resolveEnv(c, { pod, spec, sources, expandVariables: cfg.expandVariables, field }));
  }
  const plan = planVolumes({
    pod,
    spec,
    ref,
    retrieved: data.container ?? [],
    podDir: jobDir,
    hostPathRoots: cfg.allowHostPath ? ['/'] : [],
    envOf: (name) => envs.get(name) ?? [],
  });
  warnings.push(...plan.warnings);
  if (runtime === 'none') checkNoMounts(all, spec);

  const files = ownerOnlySecrets(plan.files, spec, jobDir);
  const dirs = [...plan.dirs];
  const ctx: ContainerContext = {
    cfg,
    ann,
    jobDir,
    apptainerLike: choice.apptainerLike,
    envs,
    mounts: plan.mounts,
    gpuVendors,
    files,
  };
  const containers = all.map((entry) => jobContainer(entry, ctx));
  if (choice.apptainerLike) dirs.push({ path: posix.join(jobDir, 'env'), mode: 0o700 });

  return {
    pod: ref,
    jobName: jobNameOf(ref.uid),
    jobDir,
    bashPath: cfg.bashPath,
    runtime,
    runtimePath: cfg.runtimePath ?? runtime,
    runtimeOptions: choice.runtimeOptions,
    extraMountArgs: choice.extraMountArgs,
    sbatch,
    files,
    dirs,
    hostPaths: plan.hostPathChecks,
    sharedFs: cfg.sharedFs,
    jobEnv: Object.entries(cfg.jobEnv),
    commandPrefix: cfg.commandPrefix,
    preExec,
    tsocks: cfg.tsocks ? { libPath: cfg.tsocksPath, loginNode: cfg.tsocksLoginNode } : undefined,
    mpi,
    containers,
    warnings,
    probes: podProbes(pod),
    postStarts: podPostStarts(pod),
    preStops: preStopHooks(pod),
    graceSeconds: spec.terminationGracePeriodSeconds ?? 30,
  };
}

/** `slurm-job.vk.io/singularity-mounts`: option words as written, bare specs become `--bind SPEC`. */
function mountWords(words: string[]): string[] {
  const out: string[] = [];
  let expectValue = false;
  for (const w of words) {
    if (w.startsWith('-')) {
      out.push(w);
      expectValue = !w.includes('=');
    } else if (expectValue) {
      out.push(w);
      expectValue = false;
    } else out.push('--bind', w);
  }
  return out;
}

/**
 * Every name must pass the shared rule (src/wire/k8s.ts EnvVarName: never a leading "-"),
 * also names that came from `envFrom` keys after the wire (a data key may start with "-"):
 * a name is an argv word of `env(1)` or a runtime. Apptainer env files and bash `export`
 * need shell identifiers; docker/podman/enroot get the other names through `env -- NAME=VALUE`.
 * Messages name the variable's position, never the name itself.
 */
function checkEnvNames(env: EnvList, runtime: RuntimeName, field: string): void {
  const shellOnly = runtime === 'apptainer' || runtime === 'singularity' || runtime === 'none';
  env.forEach(([k], i) => {
    if (!EnvVarName.safeParse(k).success) {
      throw invalidInput(
        `${field}.env: variable ${i + 1} (after envFrom) has an invalid name: it must start with a letter or "_" and hold only [A-Za-z0-9_.-]`,
        `${field}.env`,
      );
    }
    if (shellOnly && !SHELL_IDENTIFIER.test(k)) {
      throw invalidInput(
        `${field}.env: variable ${i + 1} (after envFrom) is not a valid variable name for runtime ${runtime} (letters, digits, "_")`,
        `${field}.env`,
      );
    }
  });
}

/**
 * Secret files are owner-only (0600) unless the pod chose a mode (`defaultMode`, an item's
 * `mode` other than the default): the file's owner is the job's user (the plugin's, or the
 * pod's runAsUser after chown), the one the pod's mode is meant for.
 */
function ownerOnlySecrets(files: FileToWrite[], spec: PodSpecView, jobDir: string): FileToWrite[] {
  const secretDirs = (spec.volumes ?? [])
    .filter((v) =>
      v.secret
        ? v.secret.defaultMode === undefined
        : v.projected
          ? v.projected.defaultMode === undefined && (v.projected.sources ?? []).some((s) => s.secret)
          : false,
    )
    .map((v) => `${posix.join(jobDir, 'volumes', v.name)}/`);
  return files.map((f) =>
    f.mode === DEFAULT_FILE_MODE && secretDirs.some((d) => f.path.startsWith(d)) ? { ...f, mode: 0o600 } : f,
  );
}

function runAsFlags(spec: PodSpecView, cfg: SlurmConfig): FlagGroup[] {
  const sc = spec.securityContext;
  if (!cfg.allowRunAsUser || sc?.runAsUser === undefined) return [];
  return [[`--uid=${sc.runAsUser}`], ...(sc.runAsGroup !== undefined ? [[`--gid=${sc.runAsGroup}`]] : [])];
}
