/**
 * The files of a configMap, secret, downwardAPI or projected volume (volumes.ts writes them):
 * relative path → bytes and mode, from the objects the API handed over or the VK's resolved
 * projected maps. Pure; an absent required object or key is an invalid-input error.
 */
import { invalidInput } from '../../errors/index.ts';
import type { ConfigMap } from '../../wire/k8s.ts';
import {
  configMapData,
  configMapKeys,
  configMapValue,
  fieldRefValue,
  type KeyedData,
  resourceFieldValue,
  secretData,
} from './env.ts';
import { safeRelative } from './paths.ts';
import type { DownwardAPIFile, KeyToPath, Volume } from './spec.ts';
import {
  DEFAULT_FILE_MODE,
  type FileSet,
  SECRET_FILE_MODE,
  type VolumeInput,
  type VolumeSources,
} from './volume-types.ts';

/** A files volume's contents (path relative to the volume → data, mode); undefined = not a files volume. */
export function filesOf(
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
