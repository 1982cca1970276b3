/**
 * Volume planning: from the pod's volumes, its containers' volumeMounts and the ConfigMaps/
 * Secrets/projected maps the API handed over, decide which files and directories to write
 * under the pod's data directory, which Docker volumes to create, and what each container
 * mounts. Pure: writes nothing; the I/O layer carries the plan out.
 *
 * Layout under `<dataRoot>/<pod uid>/`:
 *   volumes/<volume>/...   configMap, secret, projected, downwardAPI files (mounted read-only)
 *   empty/<volume>/        emptyDir (mode 0777, shared by the pod's containers)
 * A memory-backed emptyDir is a Docker `local` volume of type tmpfs shared by the containers.
 *
 * Beside it: volume-files.ts (the files of configMap, secret, downwardAPI and projected
 * volumes), volume-mounts.ts (volumeMounts → Mounts), volume-types.ts (the plan's shapes).
 */
import { isAbsolute, posix } from 'node:path';
import { invalidInput } from '../../errors/index.ts';
import type { RetrievedContainer } from '../../wire/interlink.ts';
import type { ConfigMap, Secret } from '../../wire/k8s.ts';
import { memoryBytes } from '../kube/quantity.ts';
import { isUnder, pathUnder } from './paths.ts';
import type { ContainerSpec, Volume } from './spec.ts';
import { filesOf } from './volume-files.ts';
import { mountOf } from './volume-mounts.ts';
import {
  type DirToMake,
  dirModeFor,
  type FileSet,
  SECRET_FILE_MODE,
  type VolumeDir,
  type VolumeInput,
  type VolumePlan,
  type VolumeSources,
  volumeName,
} from './volume-types.ts';

export {
  DEFAULT_FILE_MODE,
  type DirToMake,
  type DockerVolume,
  dirModeFor,
  type FileToWrite,
  type HostPathCheck,
  type Mount,
  SECRET_FILE_MODE,
  type VolumeInput,
  type VolumePlan,
  volumeName,
} from './volume-types.ts';

function collect<T extends { metadata: { name: string } }>(
  retrieved: RetrievedContainer[],
  pick: (c: RetrievedContainer) => T[] | null | undefined,
): Map<string, T> {
  const out = new Map<string, T>();
  for (const c of retrieved) for (const o of pick(c) ?? []) out.set(o.metadata.name, o);
  return out;
}

export function planVolumes(input: VolumeInput): VolumePlan {
  const { spec } = input;
  const plan: VolumePlan = {
    dirs: [],
    files: [],
    dockerVolumes: [],
    hostPathChecks: [],
    mounts: new Map(),
    warnings: [],
  };
  const sources: VolumeSources = {
    configMaps: collect<ConfigMap>(input.retrieved, (c) => c.configMaps),
    secrets: collect<Secret>(input.retrieved, (c) => c.secrets),
    projected: collect<ConfigMap>(input.retrieved, (c) => c.projectedvolumemaps),
  };
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v] as const));
  const containers: Array<[ContainerSpec, string]> = [
    ...(spec.initContainers ?? []).map(
      (c) => [c, `pod.spec.initContainers[${c.name}]`] as [ContainerSpec, string],
    ),
    ...spec.containers.map((c) => [c, `pod.spec.containers[${c.name}]`] as [ContainerSpec, string]),
  ];
  // Volumes no container mounts are neither materialised nor validated.
  const mounted = new Set(containers.flatMap(([c]) => (c.volumeMounts ?? []).map((m) => m.name)));
  const volumeDirs = new Map<string, VolumeDir>();

  for (const vol of spec.volumes ?? []) {
    if (!mounted.has(vol.name)) continue;
    volumeDirs.set(vol.name, planVolume(vol, input, sources, plan));
  }

  // Mounts are planned after every volume: a subPath of a files volume checks plan.files.
  for (const [c, cf] of containers) {
    const targets = new Set<string>();
    const mounts = (c.volumeMounts ?? []).map((m, i) =>
      mountOf(m, `${cf}.volumeMounts[${i}]`, c, { input, volumes, volumeDirs, plan, targets }),
    );
    plan.mounts.set(c.name, mounts);
  }
  plan.dirs = dedupeDirs(plan.dirs);
  return plan;
}

/** One mounted volume: its files, dirs, docker volume or host path check are added to plan. */
function planVolume(vol: Volume, input: VolumeInput, sources: VolumeSources, plan: VolumePlan): VolumeDir {
  const f = `pod.spec.volumes[${vol.name}]`;
  // Every path below is built by pathUnder: checked components, proven under podDir. Built
  // before the files (for every volume type) so that a bad name is the error reported.
  const filesDir = pathUnder(input.podDir, `${f}.name`, 'volumes', vol.name);
  const files = filesOf(vol, f, input, sources, plan.warnings);
  if (files) return planFilesVolume(vol, f, files, filesDir, plan);
  if (vol.emptyDir) return planEmptyDir(vol, vol.emptyDir, f, input, plan);
  if (vol.hostPath) return planHostPath(vol.hostPath, f, input.hostPathRoots, plan);
  const kind = Object.keys(vol).find((k) => k !== 'name') ?? 'unknown';
  throw invalidInput(`${f}: volume type "${kind}" is not supported by the docker plugin`, f);
}

function planFilesVolume(
  vol: Volume,
  f: string,
  files: FileSet,
  filesDir: string,
  plan: VolumePlan,
): VolumeDir {
  const dirMode = vol.secret ? dirModeFor(vol.secret.defaultMode ?? SECRET_FILE_MODE) : 0o755;
  plan.dirs.push({ path: filesDir, mode: dirMode });
  for (const [rel, file] of files) {
    const path = pathUnder(filesDir, f, rel);
    // Sub-directories of item paths ("a/b/c"): created before the files.
    for (let d = posix.dirname(path); d !== filesDir; d = posix.dirname(d))
      plan.dirs.push({ path: d, mode: dirMode });
    plan.files.push({ path, data: file.data, mode: file.mode });
  }
  return { dir: filesDir, kind: 'files' };
}

function planEmptyDir(
  vol: Volume,
  emptyDir: NonNullable<Volume['emptyDir']>,
  f: string,
  input: VolumeInput,
  plan: VolumePlan,
): VolumeDir {
  if (emptyDir.medium === 'Memory') {
    const size =
      emptyDir.sizeLimit === undefined
        ? undefined
        : memoryBytes(emptyDir.sizeLimit, `${f}.emptyDir.sizeLimit`);
    plan.dockerVolumes.push({
      name: volumeName(input.ref, vol.name),
      ...(size ? { sizeBytes: size } : {}),
    });
    return { dir: volumeName(input.ref, vol.name), kind: 'memory' };
  }
  if (!emptyDir.medium) {
    const dir = pathUnder(input.podDir, `${f}.name`, 'empty', vol.name);
    // 0777 like the kubelet's emptyDir: a non-root container must be able to write.
    plan.dirs.push({ path: dir, mode: 0o777 });
    return { dir, kind: 'empty' };
  }
  throw invalidInput(
    `${f}.emptyDir.medium: "${emptyDir.medium}" is not supported (use "" or "Memory")`,
    `${f}.emptyDir.medium`,
  );
}

function planHostPath(
  hostPath: NonNullable<Volume['hostPath']>,
  f: string,
  hostPathRoots: string[],
  plan: VolumePlan,
): VolumeDir {
  const p = hostPath.path;
  const hf = `${f}.hostPath.path`;
  if (!isAbsolute(p) || p.includes('\0') || p.includes('\n'))
    throw invalidInput(`${hf}: must be an absolute path`, hf);
  const n = posix.normalize(p);
  if (!hostPathRoots.some((r) => isUnder(n, r))) {
    throw invalidInput(
      `${hf}: the path is outside the directories this node allows (${hostPathRoots.join(', ') || 'none: hostPath is disabled'})`,
      hf,
    );
  }
  // Created or checked on the host by the I/O layer, which also resolves symlinks and
  // checks the real path against the allowed roots again.
  plan.hostPathChecks.push({ path: n, type: hostPath.type ?? '', field: hf });
  return { dir: n, kind: 'host' };
}

/** Parents first, each path once (the first mode asked for wins). */
function dedupeDirs(dirs: DirToMake[]): DirToMake[] {
  const seen = new Map<string, DirToMake>();
  for (const d of dirs) if (!seen.has(d.path)) seen.set(d.path, d);
  return [...seen.values()].sort((a, b) => a.path.split('/').length - b.path.split('/').length);
}
