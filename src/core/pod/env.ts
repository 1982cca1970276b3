/**
 * Container environment the way the kubelet builds it (kubelet_pods.go
 * makeEnvironmentVariables), the one implementation for the VK (src/vk/resolve/env.ts, which
 * resolves a pod into literal values before /create) and the plugins (which resolve pods an
 * interLink 0.6 VK sends unresolved, with their ConfigMaps/Secrets beside them).
 *
 * `buildEnv` holds the rules: optional leading variables (the VK's KUBERNETES_SERVICE_*),
 * then `envFrom` sources in order, then `env` in order; `$(VAR)` in literal `value`s
 * expands against what is defined so far (when `expandVariables`), values from
 * ConfigMaps, Secrets and the downward API are taken byte-for-byte, never expanded. What
 * differs between the callers is an `EnvRules` parameter: where a redefined name goes, how
 * a source is read (binaryData, stringData, key order), which envFrom keys are usable, the
 * node facts the downward API knows, and what a problem does (`report`: the VK records a
 * missing source or a warning and goes on; a plugin throws INVALID_INPUT). Values are never
 * interpreted by a shell: quotes, `$`, backticks and newlines pass through byte for byte. Pure.
 */

import { invalidInput } from '../../errors/index.ts';
import type { ConfigMap, Pod, Secret } from '../../wire/k8s.ts';
import { expand } from '../kube/expand.ts';
import { resourceQuantity } from '../kube/quantity.ts';
import {
  DownwardFailed,
  type DownwardFailure,
  type DownwardPod,
  type DownwardRules,
  fieldRefValue as downwardFieldRef,
  resourceFieldValue as downwardResourceField,
  type ResourceContainer,
} from './downward.ts';
import type { ContainerSpec, PodSpecView } from './spec.ts';

export interface EnvSources {
  configMaps: Map<string, ConfigMap>;
  secrets: Map<string, Secret>;
}

/** Node capacity, the value of `resourceFieldRef` when the container has no limit. */
export interface NodeCapacity {
  cpu?: number;
  memory?: number;
}

export interface EnvContext {
  pod: Pod;
  spec: PodSpecView;
  sources: EnvSources;
  expandVariables: boolean;
  node?: NodeCapacity;
  /** Field path of the container, for errors (`pod.spec.containers[app]`). */
  field: string;
}

export type EnvList = Array<[name: string, value: string]>;

/** The bytes of a ConfigMap key (`data` as UTF-8, `binaryData` base64), or undefined. */
export function configMapValue(cm: ConfigMap, key: string): Buffer | undefined {
  const text = cm.data?.[key];
  if (text !== undefined) return Buffer.from(text, 'utf8');
  const bin = cm.binaryData?.[key];
  return bin === undefined ? undefined : Buffer.from(bin, 'base64');
}

/** The bytes of a Secret key (`stringData` as UTF-8 wins over base64 `data`), or undefined. */
export function secretValue(s: Secret, key: string): Buffer | undefined {
  const text = s.stringData?.[key];
  if (text !== undefined) return Buffer.from(text, 'utf8');
  const b64 = s.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64');
}

export function configMapKeys(cm: ConfigMap): string[] {
  return [...new Set([...Object.keys(cm.data ?? {}), ...Object.keys(cm.binaryData ?? {})])].sort();
}

export function secretKeys(s: Secret): string[] {
  return [...new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})])].sort();
}

/** A ConfigMap's or Secret's keys and values, the same way for both. */
export interface KeyedData {
  keys: string[];
  value: (k: string) => Buffer | undefined;
}
export const configMapData = (cm: ConfigMap): KeyedData => ({
  keys: configMapKeys(cm),
  value: (k) => configMapValue(cm, k),
});
export const secretData = (s: Secret): KeyedData => ({
  keys: secretKeys(s),
  value: (k) => secretValue(s, k),
});

export type SourceKind = 'ConfigMap' | 'Secret';

/** Something `buildEnv` could not use; the entry it concerns contributes nothing. */
export type EnvProblem = { field: string } & (
  | { type: 'missing'; kind: SourceKind; name: string; key?: string; objectExists: boolean }
  | { type: 'skippedKey'; key: string; name: string }
  | { type: 'badName'; name: string }
  | { type: 'downward'; name: string; failure: DownwardFailure }
  | { type: 'noSource'; name: string; keys: string[] }
);

/** The container fields `buildEnv` reads. */
export interface EnvContainer extends ResourceContainer {
  envFrom?:
    | Array<{
        prefix?: string | null | undefined;
        configMapRef?: { name: string; optional?: boolean | null | undefined } | null | undefined;
        secretRef?: { name: string; optional?: boolean | null | undefined } | null | undefined;
      }>
    | null
    | undefined;
  env?:
    | Array<{ name: string; value?: string | null | undefined; valueFrom?: ValueFrom | null | undefined }>
    | null
    | undefined;
}

type KeyRef = { name: string; key: string; optional?: boolean | null | undefined };
type ValueFrom = {
  configMapKeyRef?: KeyRef | null | undefined;
  secretKeyRef?: KeyRef | null | undefined;
  fieldRef?: { fieldPath: string } | null | undefined;
  resourceFieldRef?:
    | {
        resource: string;
        containerName?: string | null | undefined;
        divisor?: string | number | null | undefined;
      }
    | null
    | undefined;
};

/** Where the callers of `buildEnv` differ. */
export interface EnvRules {
  /** Variables defined before `envFrom` (the VK's KUBERNETES_SERVICE_*). */
  initial?: EnvList;
  /** A redefined name moves to the end (docker's `-e`) or keeps its first position (the kubelet's map). */
  redefinedMovesLast: boolean;
  /** Expand `$(VAR)` in literal values. */
  expandVariables: boolean;
  /** An envFrom source's keys and values in the order they are defined; undefined when it does not exist. */
  entries(kind: SourceKind, name: string): EnvList | undefined;
  /** One key of a source: undefined when the key is absent, null when the object is. */
  value(kind: SourceKind, name: string, key: string): string | undefined | null;
  /** Whether an envFrom key (`name` = prefix + key) becomes a variable; else it is reported. */
  usableKey(key: string, name: string): boolean;
  /** The downward API's rules for the entry at `field`. */
  downward(field: string): DownwardRules;
  /** A problem: throw to refuse the pod, or record it (the entry is then skipped). */
  report(problem: EnvProblem): void;
  /** Field path of the container, for problems (`pod.spec.containers[app]`). */
  field: string;
}

/** The variables the kubelet gives every container for the `kubernetes` Service. */
export function kubernetesServiceEnv(host: string, port: number): EnvList {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const url = `tcp://${hostPart}:${port}`;
  return [
    ['KUBERNETES_SERVICE_HOST', host],
    ['KUBERNETES_SERVICE_PORT', String(port)],
    ['KUBERNETES_SERVICE_PORT_HTTPS', String(port)],
    ['KUBERNETES_PORT', url],
    [`KUBERNETES_PORT_${port}_TCP`, url],
    [`KUBERNETES_PORT_${port}_TCP_PROTO`, 'tcp'],
    [`KUBERNETES_PORT_${port}_TCP_PORT`, String(port)],
    [`KUBERNETES_PORT_${port}_TCP_ADDR`, host],
  ];
}

/** A container's environment, in order, each name once (the last definition wins). */
export function buildEnv(c: EnvContainer, pod: DownwardPod, rules: EnvRules): EnvList {
  const env = new Map<string, string>();
  const set = (k: string, v: string) => {
    if (rules.redefinedMovesLast) env.delete(k);
    env.set(k, v);
  };
  for (const [k, v] of rules.initial ?? []) set(k, v);
  (c.envFrom ?? []).forEach((src, i) => {
    const field = `${rules.field}.envFrom[${i}]`;
    const prefix = src.prefix ?? '';
    const [kind, ref] = src.configMapRef
      ? (['ConfigMap', src.configMapRef] as const)
      : (['Secret', src.secretRef] as const);
    if (!ref) return;
    const entries = rules.entries(kind, ref.name);
    if (!entries) {
      if (ref.optional !== true)
        rules.report({ type: 'missing', kind, name: ref.name, objectExists: false, field });
      return;
    }
    for (const [k, v] of entries) {
      if (rules.usableKey(k, prefix + k)) set(prefix + k, v);
      else rules.report({ type: 'skippedKey', key: k, name: prefix + k, field });
    }
  });
  for (const e of c.env ?? []) {
    const field = `${rules.field}.env[${e.name}]`;
    if (e.name.includes('=')) {
      rules.report({ type: 'badName', name: e.name, field });
      continue;
    }
    const v = e.valueFrom
      ? valueFrom(c, pod, e.name, e.valueFrom, rules, field)
      : rules.expandVariables
        ? expand(e.value ?? '', (n) => env.get(n))
        : (e.value ?? '');
    if (v !== undefined) set(e.name, v);
  }
  return [...env.entries()];
}

/** A configMapKeyRef/secretKeyRef value; absent is undefined, reported unless optional. */
function keyValue(kind: SourceKind, ref: KeyRef, rules: EnvRules, field: string): string | undefined {
  const v = rules.value(kind, ref.name, ref.key);
  if (v !== undefined && v !== null) return v;
  if (ref.optional !== true)
    rules.report({ type: 'missing', kind, name: ref.name, key: ref.key, objectExists: v !== null, field });
  return undefined;
}

function valueFrom(
  c: EnvContainer,
  pod: DownwardPod,
  name: string,
  vf: ValueFrom,
  rules: EnvRules,
  field: string,
): string | undefined {
  if (vf.configMapKeyRef) return keyValue('ConfigMap', vf.configMapKeyRef, rules, field);
  if (vf.secretKeyRef) return keyValue('Secret', vf.secretKeyRef, rules, field);
  try {
    if (vf.fieldRef) return downwardFieldRef(pod, vf.fieldRef.fieldPath, rules.downward(field));
    if (vf.resourceFieldRef) return downwardResourceField(pod, vf.resourceFieldRef, c, rules.downward(field));
  } catch (err) {
    if (!(err instanceof DownwardFailed)) throw err;
    rules.report({ type: 'downward', name, failure: err.failure, field });
    return undefined;
  }
  rules.report({ type: 'noSource', name, keys: Object.keys(vf), field });
  return undefined;
}

/** `$(VAR)` in command or args, against the container's final environment (as the kubelet does). */
export function expandArgs(args: readonly string[], env: EnvList): string[] {
  const map = new Map(env);
  return args.map((a) => expand(a, (n) => map.get(n)));
}

// ---- The plugins' rules: sources handed over with the pod, every problem INVALID_INPUT. ----

/** A downward failure, worded for a plugin's INVALID_INPUT. */
function downwardMessage(f: DownwardFailure, field: string): string {
  switch (f.code) {
    case 'fieldPath':
      return `${field}: fieldRef "${f.fieldPath}" is not supported`;
    case 'resource':
      return `${field}: resourceFieldRef "${f.resource}" is not supported`;
    case 'container':
      return `${field}: resourceFieldRef names unknown container "${f.containerName}"`;
    case 'quantity':
      return `${field}: ${f.message}`;
  }
}

function downwardRules(node: NodeCapacity | undefined, field: string): DownwardRules {
  return {
    wholeMaps: true,
    quantity: (q, role) => resourceQuantity(q, role === 'divisor' ? `${field}.divisor` : field),
    unset: (kind, name, c) => {
      const limit = kind === 'requests' ? c.resources?.limits?.[name] : undefined;
      if (limit !== undefined && limit !== null) return resourceQuantity(limit, field);
      if (name === 'cpu') return node?.cpu;
      if (name === 'memory') return node?.memory;
      return undefined;
    },
  };
}

function downwardPod(pod: Pod, spec: PodSpecView): DownwardPod {
  return { metadata: pod.metadata, spec, status: pod.status as DownwardPod['status'] };
}

/** Runs a downward computation, a failure as INVALID_INPUT at `field`. */
function orInvalid<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof DownwardFailed) throw invalidInput(downwardMessage(err.failure, field), field);
    throw err;
  }
}

/** A `fieldRef` value. Throws INVALID_INPUT for a path the kubelet would not accept. */
export function fieldRefValue(pod: Pod, spec: PodSpecView, fieldPath: string, field: string): string {
  return orInvalid(field, () =>
    downwardFieldRef(downwardPod(pod, spec), fieldPath, downwardRules(undefined, field)),
  );
}

/**
 * A `resourceFieldRef` value: the container's limit (or request), else the node's capacity,
 * divided by `divisor` and rounded up, as the kubelet does.
 */
export function resourceFieldValue(
  container: ContainerSpec,
  resource: string,
  divisor: string | number | undefined,
  node: NodeCapacity | undefined,
  field: string,
): string {
  const rules = downwardRules(node, field);
  return orInvalid(field, () => downwardResourceField(undefined, { resource, divisor }, container, rules));
}

/** A problem, worded for a plugin: always INVALID_INPUT. */
function refuse(p: EnvProblem, containerField: string): void {
  switch (p.type) {
    case 'missing':
      if (p.key === undefined)
        throw invalidInput(`${p.field}: ${p.kind} "${p.name}" was not provided`, p.field);
      throw invalidInput(`${p.field}: key "${p.key}" of ${p.kind} "${p.name}" was not provided`, p.field);
    case 'skippedKey':
      return;
    case 'badName':
      throw invalidInput(`${p.field}: a variable name cannot contain "="`, `${containerField}.env`);
    case 'downward':
      throw invalidInput(downwardMessage(p.failure, p.field), p.field);
    case 'noSource':
      throw invalidInput(`${p.field}: valueFrom names no source`, p.field);
  }
}

/** `value(obj, key)` of the object named `name`: null when there is no such object. */
function mapGet<T>(
  objs: Map<string, T>,
  name: string,
  value: (o: T, key: string) => Buffer | undefined,
  key: string,
): Buffer | undefined | null {
  const o = objs.get(name);
  return o === undefined ? null : value(o, key);
}

/** The container's environment, in order, each name once (the last definition wins). */
export function resolveEnv(c: ContainerSpec, ctx: EnvContext): EnvList {
  const { configMaps, secrets } = ctx.sources;
  const data = (kind: SourceKind, name: string): KeyedData | undefined => {
    if (kind === 'ConfigMap') {
      const cm = configMaps.get(name);
      return cm && configMapData(cm);
    }
    const s = secrets.get(name);
    return s && secretData(s);
  };
  return buildEnv(c, downwardPod(ctx.pod, ctx.spec), {
    redefinedMovesLast: true,
    expandVariables: ctx.expandVariables,
    entries: (kind, name) => {
      const d = data(kind, name);
      return d?.keys.map((k) => [k, d.value(k)!.toString('utf8')] as [string, string]);
    },
    // One key: read it directly, without listing (and sorting) the object's keys.
    value: (kind, name, key) => {
      const v =
        kind === 'ConfigMap'
          ? mapGet(configMaps, name, configMapValue, key)
          : mapGet(secrets, name, secretValue, key);
      return v === null ? null : v?.toString('utf8');
    },
    usableKey: (key) => !key.includes('='),
    downward: (field) => downwardRules(ctx.node, field),
    report: (p) => refuse(p, ctx.field),
    field: ctx.field,
  });
}

/**
 * The process the container runs, Kubernetes semantics over the image's ENTRYPOINT/CMD:
 * `command` replaces ENTRYPOINT (and drops CMD), `args` replaces CMD. Returns the
 * `--entrypoint` value (undefined = the image's) and the words after the image.
 */
export function commandLine(
  c: { command?: string[] | undefined; args?: string[] | undefined },
  env: EnvList,
  expandVariables: boolean,
): { entrypoint: string | undefined; args: string[] } {
  const x = (words: string[]) => (expandVariables ? expandArgs(words, env) : words);
  const command = x(c.command ?? []);
  const args = x(c.args ?? []);
  if (command.length > 0) return { entrypoint: command[0], args: [...command.slice(1), ...args] };
  return { entrypoint: undefined, args };
}
