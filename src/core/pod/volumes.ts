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
 */
import { isAbsolute, posix } from 'node:path';
import { invalidInput } from '../../errors/index.ts';
import type { RetrievedContainer } from '../../wire/interlink.ts';
import type { ConfigMap, Pod, Secret } from '../../wire/k8s.ts';
import { expand } from '../kube/expand.ts';
import { memoryBytes } from '../kube/quantity.ts';
import {
  configMapData,
  configMapKeys,
  configMapValue,
  type EnvList,
  fieldRefValue,
  type KeyedData,
  type NodeCapacity,
  resourceFieldValue,
  secretData,
} from './env.ts';
import { isUnder, pathUnder, safeRelative } from './paths.ts';
import type { ContainerSpec, DownwardAPIFile, KeyToPath, PodRef, PodSpecView, Volume } from './spec.ts';

export interface Mount {
  type: 'bind' | 'volume';
  /** Host path (bind) or Docker volume name (volume). */
  source: string;
  target: string;
  readOnly: boolean;
  /** A hostPath source: its real path must stay under the allowed roots. */
  host?: boolean;
}

export interface FileToWrite {
  path: string;
  data: Buffer;
  mode: number;
}

export interface DirToMake {
  path: string;
  mode: number;
}

export interface DockerVolume {
  name: string;
  sizeBytes?: number;
}

/**
 * A hostPath volume: created (`DirectoryOrCreate`, `FileOrCreate`) or checked (`Directory`,
 * `File`, `Socket`, ...; "" = no check) on the host before the containers are created.
 */
export interface HostPathCheck {
  path: string;
  type: string;
  field: string;
}

export interface VolumePlan {
  dirs: DirToMake[];
  files: FileToWrite[];
  dockerVolumes: DockerVolume[];
  hostPathChecks: HostPathCheck[];
  /** Mounts by container name. */
  mounts: Map<string, Mount[]>;
  /** What the pod will miss (an optional object absent, a token not provided). */
  warnings: string[];
}

export interface VolumeInput {
  pod: Pod;
  spec: PodSpecView;
  ref: PodRef;
  retrieved: RetrievedContainer[];
  podDir: string;
  hostPathRoots: string[];
  node?: NodeCapacity;
  /** A container's resolved environment (for subPathExpr). */
  envOf(container: string): EnvList;
}

export const DEFAULT_FILE_MODE = 0o644;
/** A Secret volume's files without a defaultMode: private to the container's owner. */
export const SECRET_FILE_MODE = 0o600;

/** The directories of a files volume: searchable by others only if its files are readable by them. */
export const dirModeFor = (fileMode: number) => (fileMode & 0o044 ? 0o755 : 0o700);

/** The Docker-style volume name of a memory-backed emptyDir: unique per pod UID and volume. */
export function volumeName(pod: PodRef, volume: string): string {
  return `ilk_${pod.uid}_${volume}`;
}

type FileSet = Map<string, { data: Buffer; mode: number }>;

function collect<T extends { metadata: { name: string } }>(
  retrieved: RetrievedContainer[],
  pick: (c: RetrievedContainer) => T[] | null | undefined,
): Map<string, T> {
  const out = new Map<string, T>();
  for (const c of retrieved) for (const o of pick(c) ?? []) out.set(o.metadata.name, o);
  return out;
}

/** The objects the VK sent with the pod, by name: what files volumes are filled from. */
interface VolumeSources {
  configMaps: Map<string, ConfigMap>;
  secrets: Map<string, Secret>;
  /** Projected and downwardAPI volumes the VK already resolved, by volume name. */
  projected: Map<string, ConfigMap>;
}

/** Where a volume lives on the node once planned, and what kind of thing it is. */
interface VolumeDir {
  dir: string;
  kind: 'files' | 'empty' | 'memory' | 'host';
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

interface MountContext {
  input: VolumeInput;
  volumes: Map<string, Volume>;
  volumeDirs: Map<string, VolumeDir>;
  /** Directories a subPath needs are added to plan.dirs. */
  plan: VolumePlan;
  /** The container's mount targets so far (a target may be mounted once). */
  targets: Set<string>;
}

type VolumeMount = NonNullable<ContainerSpec['volumeMounts']>[number];

/** One volumeMount of container c (field mf) as a Mount, validated. */
function mountOf(m: VolumeMount, mf: string, c: ContainerSpec, ctx: MountContext): Mount {
  const { plan } = ctx;
  const vol = ctx.volumes.get(m.name);
  const where = ctx.volumeDirs.get(m.name);
  if (!vol || !where)
    throw invalidInput(`${mf}: volume "${m.name}" is not declared in pod.spec.volumes`, `${mf}.name`);
  if (!isAbsolute(m.mountPath) || m.mountPath.includes('\0') || m.mountPath.includes('\n')) {
    throw invalidInput(`${mf}.mountPath: must be an absolute path`, `${mf}.mountPath`);
  }
  const target = posix.normalize(m.mountPath).replace(/(.)\/+$/, '$1');
  if (ctx.targets.has(target))
    throw invalidInput(`${mf}.mountPath: the same path is mounted twice`, `${mf}.mountPath`);
  ctx.targets.add(target);
  const sub = subPathOf(m, mf, c, ctx.input);
  if (where.kind === 'memory') {
    if (sub) throw invalidInput(`${mf}.subPath: not supported on a memory-backed emptyDir`, `${mf}.subPath`);
    return { type: 'volume', source: where.dir, target, readOnly: m.readOnly === true };
  }
  const source = sub ? pathUnder(where.dir, `${mf}.subPath`, sub) : where.dir;
  if (sub && where.kind === 'empty') plan.dirs.push({ path: source, mode: 0o777 });
  if (
    sub &&
    where.kind === 'files' &&
    !plan.files.some((x) => x.path === source || x.path.startsWith(`${source}/`))
  ) {
    plan.dirs.push({ path: source, mode: 0o755 });
  }
  if (sub && where.kind === 'host') plan.dirs.push({ path: source, mode: 0o755 });
  // ConfigMap, Secret, projected and downwardAPI volumes are read-only whatever the mount says.
  const readOnly = where.kind === 'files' || m.readOnly === true;
  return {
    type: 'bind',
    source,
    target,
    readOnly,
    ...(where.kind === 'host' ? { host: true } : {}),
  };
}

/** The mount's subPath (subPathExpr expanded with the container's env), checked relative. */
function subPathOf(m: VolumeMount, mf: string, c: ContainerSpec, input: VolumeInput): string | undefined {
  if (m.subPathExpr) {
    const env = new Map(input.envOf(c.name));
    return safeRelative(
      expand(m.subPathExpr, (n) => env.get(n)),
      `${mf}.subPathExpr`,
    );
  }
  if (m.subPath) return safeRelative(m.subPath, `${mf}.subPath`);
  return undefined;
}

/** Parents first, each path once (the first mode asked for wins). */
function dedupeDirs(dirs: DirToMake[]): DirToMake[] {
  const seen = new Map<string, DirToMake>();
  for (const d of dirs) if (!seen.has(d.path)) seen.set(d.path, d);
  return [...seen.values()].sort((a, b) => a.path.split('/').length - b.path.split('/').length);
}

/** A files volume's contents (path relative to the volume → data, mode); undefined = not a files volume. */
function filesOf(
  vol: Volume,
  f: string,
  input: VolumeInput,
  sources: VolumeSources,
  warnings: string[],
): FileSet | undefined {
  if (vol.configMap) {
    const src = vol.configMap;
    const cm = sources.configMaps.get(src.name);
    const label = keyedLabel('ConfigMap', src.name, `${f}.configMap`, 'name');
    return keyedVolumeFiles(vol.name, label, cm && configMapData(cm), src, src.defaultMode, warnings);
  }
  if (vol.secret) {
    const src = vol.secret;
    const s = sources.secrets.get(src.secretName);
    const label = keyedLabel('Secret', src.secretName, `${f}.secret`, 'secretName');
    const mode = src.defaultMode ?? SECRET_FILE_MODE;
    return keyedVolumeFiles(vol.name, label, s && secretData(s), src, mode, warnings);
  }
  if (vol.downwardAPI) {
    const defaultMode = vol.downwardAPI.defaultMode ?? DEFAULT_FILE_MODE;
    const given = sources.projected.get(vol.name);
    if (given) return fromMap(given, new Map(), defaultMode, `${f}.downwardAPI`);
    const out: FileSet = new Map();
    addDownward(out, vol.downwardAPI.items ?? [], defaultMode, input, `${f}.downwardAPI`);
    return out;
  }
  if (vol.projected) return projectedFiles(vol.name, vol.projected, f, input, sources, warnings);
  return undefined;
}

/** How messages name a configMap or secret volume's object, and the fields they point at. */
interface KeyedLabel {
  /** `ConfigMap "name"` / `Secret "name"`. */
  what: string;
  field: string;
  nameField: string;
}

const keyedLabel = (kind: string, object: string, field: string, nameKey: string): KeyedLabel => ({
  what: `${kind} "${object}"`,
  field,
  nameField: `${field}.${nameKey}`,
});

/** An absent optional object mounts empty with a warning; an absent required one is an error. */
function keyedVolumeFiles(
  name: string,
  label: KeyedLabel,
  data: KeyedData | undefined,
  src: { items?: KeyToPath[] | undefined; optional?: boolean | undefined },
  defaultMode: number | undefined,
  warnings: string[],
): FileSet {
  const out: FileSet = new Map();
  if (!data) {
    if (src.optional) {
      warnings.push(`volume ${name}: optional ${label.what} absent, mounted empty`);
      return out;
    }
    throw invalidInput(`${label.field}: ${label.what} was not provided`, label.nameField);
  }
  addKeyed(
    out,
    data.keys,
    data.value,
    src.items,
    defaultMode,
    src.optional === true,
    label.field,
    label.what,
  );
  return out;
}

type Projected = NonNullable<Volume['projected']>;
type ProjectedSource = NonNullable<Projected['sources']>[number];

function projectedFiles(
  name: string,
  projected: Projected,
  f: string,
  input: VolumeInput,
  sources: VolumeSources,
  warnings: string[],
): FileSet {
  const defaultMode = projected.defaultMode ?? DEFAULT_FILE_MODE;
  const list = projected.sources ?? [];
  const given = sources.projected.get(name);
  // The VK resolved the sources into one map (path → content); modes come from the spec.
  if (given) return fromMap(given, projectedModes(list, f), defaultMode, `${f}.projected`);
  const out: FileSet = new Map();
  list.forEach((s, i) => {
    addProjectedSource(out, s, `${f}.projected.sources[${i}]`, {
      name,
      defaultMode,
      input,
      sources,
      warnings,
    });
  });
  return out;
}

/** Item modes of all sources of a projected volume, by checked relative path. */
function projectedModes(list: ProjectedSource[], f: string): Map<string, number> {
  const modes = new Map<string, number>();
  for (const s of list) {
    for (const it of [
      ...(s.configMap?.items ?? []),
      ...(s.secret?.items ?? []),
      ...(s.downwardAPI?.items ?? []),
    ]) {
      if (it.mode !== undefined) modes.set(safeRelative(it.path, `${f}.projected`), it.mode);
    }
  }
  return modes;
}

interface ProjectedContext {
  /** The volume's name (warnings name it). */
  name: string;
  defaultMode: number;
  input: VolumeInput;
  sources: VolumeSources;
  warnings: string[];
}

/**
 * One source of a projected volume the VK did not resolve. An absent object is a warning,
 * not an error, as in interLink 0.6: the pod runs with the files it has.
 */
function addProjectedSource(out: FileSet, s: ProjectedSource, sf: string, ctx: ProjectedContext): void {
  const { name, defaultMode, warnings } = ctx;
  const keyed = (
    data: KeyedData | undefined,
    src: { items?: KeyToPath[] | undefined; optional?: boolean | undefined },
    field: string,
    what: string,
  ) => {
    if (data)
      addKeyed(out, data.keys, data.value, src.items, defaultMode, src.optional === true, field, what);
    else warnings.push(`volume ${name}: ${what} of a projected source was not provided`);
  };
  if (s.configMap) {
    const cm = ctx.sources.configMaps.get(s.configMap.name);
    keyed(cm && configMapData(cm), s.configMap, `${sf}.configMap`, `ConfigMap "${s.configMap.name}"`);
  } else if (s.secret) {
    const sec = ctx.sources.secrets.get(s.secret.name);
    keyed(sec && secretData(sec), s.secret, `${sf}.secret`, `Secret "${s.secret.name}"`);
  } else if (s.downwardAPI) {
    addDownward(out, s.downwardAPI.items ?? [], defaultMode, ctx.input, `${sf}.downwardAPI`);
  } else if (s.serviceAccountToken) {
    warnings.push(
      `volume ${name}: no service-account token was provided for "${s.serviceAccountToken.path}"`,
    );
  }
}

function addKeyed(
  out: FileSet,
  keys: string[],
  value: (k: string) => Buffer | undefined,
  items: KeyToPath[] | undefined,
  defaultMode: number | undefined,
  optional: boolean,
  f: string,
  what: string,
): void {
  const mode = defaultMode ?? DEFAULT_FILE_MODE;
  if (!items || items.length === 0) {
    for (const k of keys) out.set(safeRelative(k, `${f} key`), { data: value(k)!, mode });
    return;
  }
  items.forEach((it, i) => {
    const data = value(it.key);
    if (data === undefined) {
      if (optional) return;
      throw invalidInput(`${f}.items[${i}]: ${what} has no key "${it.key}"`, `${f}.items`);
    }
    out.set(safeRelative(it.path, `${f}.items[${i}].path`), { data, mode: it.mode ?? mode });
  });
}

function addDownward(
  out: FileSet,
  items: DownwardAPIFile[],
  defaultMode: number,
  input: VolumeInput,
  f: string,
): void {
  items.forEach((it, i) => {
    const itf = `${f}.items[${i}]`;
    let text: string;
    if (it.fieldRef) text = fieldRefValue(input.pod, input.spec, it.fieldRef.fieldPath, itf);
    else if (it.resourceFieldRef) {
      const name = it.resourceFieldRef.containerName;
      const c = [...input.spec.containers, ...(input.spec.initContainers ?? [])].find((x) => x.name === name);
      if (!c)
        throw invalidInput(
          `${itf}.resourceFieldRef: needs the containerName of one of the pod's containers`,
          itf,
        );
      text = resourceFieldValue(
        c,
        it.resourceFieldRef.resource,
        it.resourceFieldRef.divisor,
        input.node,
        itf,
      );
    } else throw invalidInput(`${itf}: needs fieldRef or resourceFieldRef`, itf);
    out.set(safeRelative(it.path, `${itf}.path`), {
      data: Buffer.from(text, 'utf8'),
      mode: it.mode ?? defaultMode,
    });
  });
}

function fromMap(cm: ConfigMap, modes: Map<string, number>, defaultMode: number, f: string): FileSet {
  const out: FileSet = new Map();
  for (const k of configMapKeys(cm)) {
    const rel = safeRelative(k, `${f} path`);
    out.set(rel, { data: configMapValue(cm, k)!, mode: modes.get(rel) ?? defaultMode });
  }
  return out;
}
