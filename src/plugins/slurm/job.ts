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
import { type EnvList, resolveEnv } from '../../core/pod/env.ts';
import { preStopHooks } from '../../core/pod/probes.ts';
import { type PodRef, type PodSpecView, podSpecOf } from '../../core/pod/spec.ts';
import { DEFAULT_FILE_MODE, type FileToWrite, planVolumes } from '../../core/pod/volumes.ts';
import type { RetrievedPodData } from '../../wire/interlink.ts';
import type { ConfigMap, Secret } from '../../wire/k8s.ts';
import type { SlurmConfig } from './config.ts';
import { type ContainerContext, checkNoMounts, containerEntries, jobContainer } from './job-containers.ts';
import { mpiOf, preExecOf, runtimeChoice, sbatchFlags } from './job-options.ts';
import { type JobSpec, jobDirOf, jobNameOf } from './job-spec.ts';
import { podPostStarts, podProbes } from './probes.ts';
import { podResources } from './resources.ts';

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
