/**
 * One pod container → one JobContainer: its kind (init, sidecar, app) and the checks a batch
 * job needs on top of the wire's (env names a shell or runtime accepts, mount paths that
 * stay one bind word, absolute working dirs, no mounts under runtime none), each throwing
 * INVALID_INPUT naming the field. Pure.
 */
import { posix } from 'node:path';
import { commandLine, type EnvList } from '../../core/pod/env.ts';
import { cliMayCarry, splitEnv } from '../../core/pod/runtime-env.ts';
import type { ContainerSpec, PodSpecView } from '../../core/pod/spec.ts';
import type { FileToWrite, Mount } from '../../core/pod/volumes.ts';
import { invalidInput } from '../../errors/index.ts';
import { EnvVarName } from '../../wire/k8s.ts';
import type { RuntimeName, SlurmConfig } from './config.ts';
import { checkImage, resolveImage } from './image.ts';
import type { Annotations } from './job-options.ts';
import { ANNOTATION, type ContainerKind, type JobContainer } from './job-spec.ts';
import { SHELL_IDENTIFIER, sh } from './quote.ts';

const MOUNT_PATH = /^\/[^\s:,$\0]*$/;

/** A container with its kind and the field path that errors name. */
export type ContainerEntry = [ContainerSpec, ContainerKind, string];

/** Init containers (restartPolicy Always = sidecar) then app containers, in pod order. */
export function containerEntries(spec: PodSpecView): ContainerEntry[] {
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

/** Where service-account admission mounts the pod's API token (`kube-api-access-*`). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The `none` runtime cannot make volumeMounts real, so a pod that needs its files is refused
 * rather than run without them. The one exception is the API token that service-account
 * admission adds to nearly every Pod: a batch process rarely reads it, refusing it would
 * refuse almost every pod, and its files are still written into the job directory.
 */
export function checkNoMounts(all: ContainerEntry[], spec: PodSpecView): void {
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
export interface ContainerContext {
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
export function jobContainer([c, kind, field]: ContainerEntry, ctx: ContainerContext): JobContainer {
  const { cfg } = ctx;
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
  const { envFile, cliEnv } = envDelivery(c.name, env, ctx, field);
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
    env: cliEnv,
    mounts,
    workingDir: c.workingDir,
    envFile,
    gpuVendors: ctx.gpuVendors,
  };
}

/**
 * How the container's environment gets past the runtime's CLI, which runs on the node as
 * the job's user (core/pod/runtime-env.ts). apptainer/singularity: all of it in an env file.
 * docker/podman: single-line values in a `--env-file`; multi-line ones (the format cannot
 * carry them) through the CLI's environment, and only under names the CLI, the loader and
 * bash do not read, else a pod's PATH, LD_PRELOAD or DOCKER_HOST would choose what runs on
 * the node. enroot (`--env NAME` reads the CLI's environment): every variable, under the
 * same rule. none: the process runs on the node anyway.
 */
function envDelivery(
  name: string,
  env: EnvList,
  ctx: ContainerContext,
  field: string,
): { envFile: string | undefined; cliEnv: EnvList } {
  const runtime = ctx.cfg.containerRuntime;
  const file = (text: string) => {
    const path = posix.join(ctx.jobDir, 'env', `${name}.env`);
    ctx.files.push({ path, data: Buffer.from(text, 'utf8'), mode: 0o600 });
    return path;
  };
  if (ctx.apptainerLike) {
    return {
      envFile: file(env.map(([k, v]) => `${k}=${sh(v, `${field}.env[${k}]`)}\n`).join('')),
      cliEnv: [],
    };
  }
  if (runtime === 'docker' || runtime === 'podman') {
    const split = splitEnv(env, field);
    for (const [k] of split.cliEnv) checkCarried(k, runtime, field, 'a multi-line value');
    const envFile = split.fileLines.length > 0 ? file(`${split.fileLines.join('\n')}\n`) : undefined;
    return { envFile, cliEnv: split.cliEnv };
  }
  if (runtime === 'enroot') for (const [k] of env) checkCarried(k, runtime, field, 'a variable');
  return { envFile: undefined, cliEnv: env };
}

/** A variable handed over through the runtime CLI's environment: a name it does not read. */
function checkCarried(k: string, runtime: RuntimeName, field: string, what: string): void {
  const f = `${field}.env[${k}]`;
  if (!cliMayCarry(k)) {
    throw invalidInput(
      `${f}: ${what} cannot be passed in a variable of this name with runtime ${runtime} (its command line tool on the node reads it)`,
      f,
    );
  }
  if (!SHELL_IDENTIFIER.test(k)) {
    throw invalidInput(
      `${f}: ${what} needs a shell variable name (letters, digits, "_") with runtime ${runtime}`,
      f,
    );
  }
}

/**
 * Every name must pass the shared rule (src/wire/k8s.ts EnvVarName: never a leading "-"),
 * also names that came from `envFrom` keys after the wire (a data key may start with "-"):
 * a name is an argv word of `env(1)` or a runtime. Apptainer env files and bash `export`
 * need shell identifiers; docker/podman take any valid name in their env file (envDelivery).
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
