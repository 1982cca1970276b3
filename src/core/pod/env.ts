/**
 * Container environment the way the kubelet builds it: `envFrom` sources first (in order,
 * each ConfigMap's keys sorted), then `env` (later names win), `valueFrom` resolved from
 * the ConfigMaps/Secrets the API handed over and from the pod itself, and `$(VAR)`
 * references expanded in env values, command and args. Values are never interpreted by a
 * shell: quotes, `$`, backticks and newlines pass through byte for byte. Pure.
 */

import { invalidInput } from '../../errors/index.ts';
import type { ConfigMap, Pod, Secret } from '../../wire/k8s.ts';
import { expand } from '../kube/expand.ts';
import { metadataFieldValue } from '../kube/fieldpath.ts';
import { divideResource, resourceQuantity } from '../kube/quantity.ts';
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

/** A `fieldRef` value. Throws INVALID_INPUT for a path the kubelet would not accept. */
export function fieldRefValue(pod: Pod, spec: PodSpecView, fieldPath: string, field: string): string {
  const status = (pod.status ?? {}) as {
    podIP?: string;
    hostIP?: string;
    podIPs?: Array<{ ip?: string }>;
    hostIPs?: Array<{ ip?: string }>;
  };
  const meta = metadataFieldValue(pod.metadata, fieldPath);
  if (meta !== undefined) return meta;
  switch (fieldPath) {
    case 'spec.nodeName':
      return spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return spec.serviceAccountName ?? '';
    case 'status.podIP':
      return status.podIP ?? '';
    case 'status.podIPs':
      return (status.podIPs ?? []).map((p) => p.ip ?? '').join(',');
    case 'status.hostIP':
      return status.hostIP ?? '';
    case 'status.hostIPs':
      return (status.hostIPs ?? []).map((p) => p.ip ?? '').join(',');
  }
  throw invalidInput(`${field}: fieldRef "${fieldPath}" is not supported`, field);
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
  const [kind, name] = resource.split('.', 2) as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || !name) {
    throw invalidInput(`${field}: resourceFieldRef "${resource}" is not supported`, field);
  }
  const list = kind === 'limits' ? container.resources?.limits : container.resources?.requests;
  let value: number | undefined;
  const raw = list?.[name] ?? (kind === 'requests' ? container.resources?.limits?.[name] : undefined);
  if (raw !== undefined) value = resourceQuantity(raw, field);
  else if (name === 'cpu') value = node?.cpu;
  else if (name === 'memory') value = node?.memory;
  if (value === undefined) return '0';
  // resourceQuantity refuses a negative divisor; zero is the unset one, 1 (divideResource).
  const div = divisor === undefined ? 0 : resourceQuantity(divisor, `${field}.divisor`);
  return String(divideResource(name, value, div));
}

/** The container's environment, in order, each name once (the last definition wins). */
export function resolveEnv(c: ContainerSpec, ctx: EnvContext): EnvList {
  const env = new Map<string, string>();
  const set = (k: string, v: string) => {
    // Re-insert so the final order follows the last definition, as docker's own -e would.
    env.delete(k);
    env.set(k, v);
  };
  (c.envFrom ?? []).forEach((src, i) => {
    const f = `${ctx.field}.envFrom[${i}]`;
    const prefix = src.prefix ?? '';
    const cm = src.configMapRef && ctx.sources.configMaps.get(src.configMapRef.name);
    const s = src.secretRef && ctx.sources.secrets.get(src.secretRef.name);
    const [kind, ref, data] = src.configMapRef
      ? (['ConfigMap', src.configMapRef, cm && configMapData(cm)] as const)
      : (['Secret', src.secretRef, s && secretData(s)] as const);
    if (!ref) return;
    if (!data) {
      if (ref.optional) return;
      throw invalidInput(`${f}: ${kind} "${ref.name}" was not provided`, f);
    }
    for (const k of data.keys) if (!k.includes('=')) set(prefix + k, data.value(k)!.toString('utf8'));
  });
  for (const e of c.env ?? []) {
    const f = `${ctx.field}.env[${e.name}]`;
    if (e.name.includes('='))
      throw invalidInput(`${f}: a variable name cannot contain "="`, `${ctx.field}.env`);
    if (e.valueFrom) {
      const v = valueFrom(c, e.valueFrom, ctx, f);
      if (v !== undefined) set(e.name, v);
      continue;
    }
    const raw = e.value ?? '';
    set(e.name, ctx.expandVariables ? expand(raw, (n) => env.get(n)) : raw);
  }
  return [...env.entries()];
}

/** A configMapKeyRef/secretKeyRef value: absent is undefined when optional, else INVALID_INPUT. */
function keyValue(
  kind: 'ConfigMap' | 'Secret',
  ref: { name: string; key: string; optional?: boolean | undefined },
  v: Buffer | undefined,
  f: string,
): string | undefined {
  if (v !== undefined) return v.toString('utf8');
  if (ref.optional) return undefined;
  throw invalidInput(`${f}: key "${ref.key}" of ${kind} "${ref.name}" was not provided`, f);
}

function valueFrom(
  c: ContainerSpec,
  vf: NonNullable<ContainerSpec['env']>[number]['valueFrom'] & object,
  ctx: EnvContext,
  f: string,
): string | undefined {
  if (vf.configMapKeyRef) {
    const ref = vf.configMapKeyRef;
    const cm = ctx.sources.configMaps.get(ref.name);
    return keyValue('ConfigMap', ref, cm ? configMapValue(cm, ref.key) : undefined, f);
  }
  if (vf.secretKeyRef) {
    const ref = vf.secretKeyRef;
    const s = ctx.sources.secrets.get(ref.name);
    return keyValue('Secret', ref, s ? secretValue(s, ref.key) : undefined, f);
  }
  if (vf.fieldRef) return fieldRefValue(ctx.pod, ctx.spec, vf.fieldRef.fieldPath, f);
  if (vf.resourceFieldRef) {
    const ref = vf.resourceFieldRef;
    const target = ref.containerName
      ? [...ctx.spec.containers, ...(ctx.spec.initContainers ?? [])].find((x) => x.name === ref.containerName)
      : c;
    if (!target)
      throw invalidInput(`${f}: resourceFieldRef names unknown container "${ref.containerName}"`, f);
    return resourceFieldValue(target, ref.resource, ref.divisor, ctx.node, f);
  }
  throw invalidInput(`${f}: valueFrom names no source`, f);
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
  const map = new Map(env);
  const x = (s: string) => (expandVariables ? expand(s, (n) => map.get(n)) : s);
  const command = (c.command ?? []).map(x);
  const args = (c.args ?? []).map(x);
  if (command.length > 0) return { entrypoint: command[0], args: [...command.slice(1), ...args] };
  return { entrypoint: undefined, args };
}
