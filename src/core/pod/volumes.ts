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
  configMapKeys,
  configMapValue,
  type EnvList,
  fieldRefValue,
  type NodeCapacity,
  resourceFieldValue,
  secretKeys,
  secretValue,
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

export function planVolumes(input: VolumeInput): VolumePlan {
  const { spec, podDir } = input;
  const plan: VolumePlan = {
    dirs: [],
    files: [],
    dockerVolumes: [],
    hostPathChecks: [],
    mounts: new Map(),
    warnings: [],
  };
  const configMaps = collect<ConfigMap>(input.retrieved, (c) => c.configMaps);
  const secrets = collect<Secret>(input.retrieved, (c) => c.secrets);
  const projected = collect<ConfigMap>(input.retrieved, (c) => c.projectedvolumemaps);
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v] as const));
  const containers: Array<[ContainerSpec, string]> = [
    ...(spec.initContainers ?? []).map(
      (c) => [c, `pod.spec.initContainers[${c.name}]`] as [ContainerSpec, string],
    ),
    ...spec.containers.map((c) => [c, `pod.spec.containers[${c.name}]`] as [ContainerSpec, string]),
  ];
  const mounted = new Set(containers.flatMap(([c]) => (c.volumeMounts ?? []).map((m) => m.name)));
  const volumeDirs = new Map<string, { dir: string; kind: 'files' | 'empty' | 'memory' | 'host' }>();

  for (const vol of spec.volumes ?? []) {
    if (!mounted.has(vol.name)) continue;
    const f = `pod.spec.volumes[${vol.name}]`;
    const filesDir = pathUnder(podDir, `${f}.name`, 'volumes', vol.name);
    const files = filesOf(vol, f, input, configMaps, secrets, projected, plan.warnings);
    if (files) {
      plan.dirs.push({ path: filesDir, mode: 0o755 });
      for (const [rel, file] of files) {
        const path = pathUnder(filesDir, f, rel);
        // Sub-directories of item paths ("a/b/c"): created before the files.
        for (let d = posix.dirname(path); d !== filesDir; d = posix.dirname(d))
          plan.dirs.push({ path: d, mode: 0o755 });
        plan.files.push({ path, data: file.data, mode: file.mode });
      }
      volumeDirs.set(vol.name, { dir: filesDir, kind: 'files' });
    } else if (vol.emptyDir) {
      if (vol.emptyDir.medium === 'Memory') {
        const size =
          vol.emptyDir.sizeLimit === undefined
            ? undefined
            : memoryBytes(vol.emptyDir.sizeLimit, `${f}.emptyDir.sizeLimit`);
        plan.dockerVolumes.push({
          name: volumeName(input.ref, vol.name),
          ...(size ? { sizeBytes: size } : {}),
        });
        volumeDirs.set(vol.name, { dir: volumeName(input.ref, vol.name), kind: 'memory' });
      } else if (!vol.emptyDir.medium) {
        const dir = pathUnder(podDir, `${f}.name`, 'empty', vol.name);
        // 0777 like the kubelet's emptyDir: a non-root container must be able to write.
        plan.dirs.push({ path: dir, mode: 0o777 });
        volumeDirs.set(vol.name, { dir, kind: 'empty' });
      } else {
        throw invalidInput(
          `${f}.emptyDir.medium: "${vol.emptyDir.medium}" is not supported (use "" or "Memory")`,
          `${f}.emptyDir.medium`,
        );
      }
    } else if (vol.hostPath) {
      const p = vol.hostPath.path;
      const hf = `${f}.hostPath.path`;
      if (!isAbsolute(p) || p.includes('\0') || p.includes('\n'))
        throw invalidInput(`${hf}: "${p}" must be an absolute path`, hf);
      const n = posix.normalize(p);
      if (!input.hostPathRoots.some((r) => isUnder(n, r))) {
        throw invalidInput(
          `${hf}: "${p}" is outside the directories this node allows (${input.hostPathRoots.join(', ') || 'none: hostPath is disabled'})`,
          hf,
        );
      }
      // Created or checked on the host by the I/O layer, which also resolves symlinks and
      // checks the real path against the allowed roots again.
      plan.hostPathChecks.push({ path: n, type: vol.hostPath.type ?? '', field: hf });
      volumeDirs.set(vol.name, { dir: n, kind: 'host' });
    } else {
      const kind = Object.keys(vol).find((k) => k !== 'name') ?? 'unknown';
      throw invalidInput(`${f}: volume type "${kind}" is not supported by the docker plugin`, f);
    }
  }

  for (const [c, cf] of containers) {
    const mounts: Mount[] = [];
    const targets = new Set<string>();
    (c.volumeMounts ?? []).forEach((m, i) => {
      const mf = `${cf}.volumeMounts[${i}]`;
      const vol = volumes.get(m.name);
      const where = volumeDirs.get(m.name);
      if (!vol || !where)
        throw invalidInput(`${mf}: volume "${m.name}" is not declared in pod.spec.volumes`, `${mf}.name`);
      if (!isAbsolute(m.mountPath) || m.mountPath.includes('\0') || m.mountPath.includes('\n')) {
        throw invalidInput(`${mf}.mountPath: "${m.mountPath}" must be an absolute path`, `${mf}.mountPath`);
      }
      const target = posix.normalize(m.mountPath).replace(/(.)\/+$/, '$1');
      if (targets.has(target))
        throw invalidInput(`${mf}.mountPath: "${m.mountPath}" is mounted twice`, `${mf}.mountPath`);
      targets.add(target);
      let sub: string | undefined;
      if (m.subPathExpr) {
        const env = new Map(input.envOf(c.name));
        sub = safeRelative(
          expand(m.subPathExpr, (n) => env.get(n)),
          `${mf}.subPathExpr`,
        );
      } else if (m.subPath) {
        sub = safeRelative(m.subPath, `${mf}.subPath`);
      }
      if (where.kind === 'memory') {
        if (sub)
          throw invalidInput(`${mf}.subPath: not supported on a memory-backed emptyDir`, `${mf}.subPath`);
        mounts.push({ type: 'volume', source: where.dir, target, readOnly: m.readOnly === true });
        return;
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
      mounts.push({
        type: 'bind',
        source,
        target,
        readOnly,
        ...(where.kind === 'host' ? { host: true } : {}),
      });
    });
    plan.mounts.set(c.name, mounts);
  }
  plan.dirs = dedupeDirs(plan.dirs);
  return plan;
}

/** Parents first, each path once (the first mode asked for wins). */
function dedupeDirs(dirs: DirToMake[]): DirToMake[] {
  const seen = new Map<string, DirToMake>();
  for (const d of dirs) if (!seen.has(d.path)) seen.set(d.path, d);
  return [...seen.values()].sort((a, b) => a.path.split('/').length - b.path.split('/').length);
}

function filesOf(
  vol: Volume,
  f: string,
  input: VolumeInput,
  configMaps: Map<string, ConfigMap>,
  secrets: Map<string, Secret>,
  projected: Map<string, ConfigMap>,
  warnings: string[],
): FileSet | undefined {
  if (vol.configMap) {
    const src = vol.configMap;
    const out: FileSet = new Map();
    const cm = configMaps.get(src.name);
    if (!cm) {
      if (src.optional) {
        warnings.push(`volume ${vol.name}: optional ConfigMap "${src.name}" absent, mounted empty`);
        return out;
      }
      throw invalidInput(`${f}.configMap: ConfigMap "${src.name}" was not provided`, `${f}.configMap.name`);
    }
    addKeyed(
      out,
      configMapKeys(cm),
      (k) => configMapValue(cm, k),
      src.items,
      src.defaultMode,
      src.optional === true,
      `${f}.configMap`,
      `ConfigMap "${src.name}"`,
    );
    return out;
  }
  if (vol.secret) {
    const src = vol.secret;
    const out: FileSet = new Map();
    const s = secrets.get(src.secretName);
    if (!s) {
      if (src.optional) {
        warnings.push(`volume ${vol.name}: optional Secret "${src.secretName}" absent, mounted empty`);
        return out;
      }
      throw invalidInput(
        `${f}.secret: Secret "${src.secretName}" was not provided`,
        `${f}.secret.secretName`,
      );
    }
    addKeyed(
      out,
      secretKeys(s),
      (k) => secretValue(s, k),
      src.items,
      src.defaultMode,
      src.optional === true,
      `${f}.secret`,
      `Secret "${src.secretName}"`,
    );
    return out;
  }
  if (vol.downwardAPI) {
    const out: FileSet = new Map();
    const given = projected.get(vol.name);
    if (given)
      return fromMap(given, new Map(), vol.downwardAPI.defaultMode ?? DEFAULT_FILE_MODE, `${f}.downwardAPI`);
    addDownward(
      out,
      vol.downwardAPI.items ?? [],
      vol.downwardAPI.defaultMode ?? DEFAULT_FILE_MODE,
      input,
      `${f}.downwardAPI`,
    );
    return out;
  }
  if (vol.projected) {
    const defaultMode = vol.projected.defaultMode ?? DEFAULT_FILE_MODE;
    const sources = vol.projected.sources ?? [];
    const given = projected.get(vol.name);
    if (given) {
      // The VK resolved the sources into one map (path → content); modes come from the spec.
      const modes = new Map<string, number>();
      for (const s of sources) {
        for (const it of [
          ...(s.configMap?.items ?? []),
          ...(s.secret?.items ?? []),
          ...(s.downwardAPI?.items ?? []),
        ]) {
          if (it.mode !== undefined) modes.set(safeRelative(it.path, `${f}.projected`), it.mode);
        }
      }
      return fromMap(given, modes, defaultMode, `${f}.projected`);
    }
    const out: FileSet = new Map();
    sources.forEach((s, i) => {
      const sf = `${f}.projected.sources[${i}]`;
      if (s.configMap) {
        const cm = configMaps.get(s.configMap.name);
        if (cm)
          addKeyed(
            out,
            configMapKeys(cm),
            (k) => configMapValue(cm, k),
            s.configMap.items,
            defaultMode,
            s.configMap.optional === true,
            `${sf}.configMap`,
            `ConfigMap "${s.configMap.name}"`,
          );
        else
          warnings.push(
            `volume ${vol.name}: ConfigMap "${s.configMap.name}" of a projected source was not provided`,
          );
      } else if (s.secret) {
        const sec = secrets.get(s.secret.name);
        if (sec)
          addKeyed(
            out,
            secretKeys(sec),
            (k) => secretValue(sec, k),
            s.secret.items,
            defaultMode,
            s.secret.optional === true,
            `${sf}.secret`,
            `Secret "${s.secret.name}"`,
          );
        else
          warnings.push(
            `volume ${vol.name}: Secret "${s.secret.name}" of a projected source was not provided`,
          );
      } else if (s.downwardAPI) {
        addDownward(out, s.downwardAPI.items ?? [], defaultMode, input, `${sf}.downwardAPI`);
      } else if (s.serviceAccountToken) {
        warnings.push(
          `volume ${vol.name}: no service-account token was provided for "${s.serviceAccountToken.path}"`,
        );
      }
    });
    return out;
  }
  return undefined;
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
