/**
 * The job-level choices a pod's annotations and the site configuration make: sbatch options,
 * runtime options and mounts, pre-exec and MPI (job.ts builds the JobSpec from them). Each
 * throws INVALID_INPUT naming the annotation or flavor where the site does not allow it. Pure.
 */
import type { PodRef, PodSpecView } from '../../core/pod/spec.ts';
import { invalidInput } from '../../errors/index.ts';
import type { SlurmConfig } from './config.ts';
import { checkAllowed, checkFlags, type FlagGroup, groupFlags, mergeFlags, splitWords } from './flags.ts';
import { ANNOTATION, type JobSpec, jobNameOf } from './job-spec.ts';
import {
  asksGpus,
  flavorFlags,
  type podResources,
  resourceFlags,
  selectFlavor,
  totalGpus,
} from './resources.ts';

/** Pod annotations, by key. */
export type Annotations = Record<string, string>;

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
export function sbatchFlags(
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

function runAsFlags(spec: PodSpecView, cfg: SlurmConfig): FlagGroup[] {
  const sc = spec.securityContext;
  if (!cfg.allowRunAsUser || sc?.runAsUser === undefined) return [];
  return [[`--uid=${sc.runAsUser}`], ...(sc.runAsGroup !== undefined ? [[`--gid=${sc.runAsGroup}`]] : [])];
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
export function runtimeChoice(cfg: SlurmConfig, ann: Annotations, warnings: string[]): RuntimeChoice {
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

/** The pre-exec annotation: shell code from the pod author, so only where the site allows it. */
export function preExecOf(ann: Annotations, cfg: SlurmConfig): string | undefined {
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
export function mpiOf(ann: Annotations, cfg: SlurmConfig): JobSpec['mpi'] {
  const mpiRaw = ann[ANNOTATION.mpiFlags];
  return mpiRaw === undefined
    ? undefined
    : {
        path: cfg.mpiexecPath,
        flags: mpiRaw.trim() === 'true' ? [] : splitWords(mpiRaw, ANNOTATION.mpiFlags),
      };
}
