/**
 * A container's environment as the kubelet would build it (kubelet_pods.go
 * makeEnvironmentVariables), resolved into literal values so every plugin, ours or an
 * interLink 0.6 one, receives plain `{name, value}` pairs. Pure: the ConfigMaps and
 * Secrets are fetched by the caller.
 *
 * Order and precedence: KUBERNETES_SERVICE_* (when configured), then `envFrom` in order,
 * then `env` in order; a later definition of a name wins, in the position of the first.
 * `$(VAR)` in literal `value`s expands against what is defined so far; values from
 * ConfigMaps, Secrets and the downward API are taken byte-for-byte, never expanded.
 */
import { expand } from '../../core/kube/expand.ts';
import { type Container, type EnvVar, EnvVarName } from '../../wire/k8s.ts';
import type { KPod } from '../pods/kpod.ts';
import { type DownwardContext, DownwardError, fieldRefValue, resourceFieldValue } from './downward.ts';

export interface SourceObjects {
  /** ConfigMaps by name (in the pod's namespace); absent = does not exist. */
  configMaps: ReadonlyMap<
    string,
    { data?: Record<string, string> | null; binaryData?: Record<string, string> | null }
  >;
  /** Secrets by name; `data` values base64 as the apiserver sends them. */
  secrets: ReadonlyMap<string, { data?: Record<string, string> | null }>;
}

export interface EnvContext extends DownwardContext {
  kubernetesService?: { host: string; port: number } | undefined;
}

/** Why a pod cannot be resolved yet: an object or key that is not there. */
export interface Missing {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  key?: string;
}

export interface EnvResult {
  env: Array<{ name: string; value: string }>;
  missing: Missing[];
  /** Problems that do not block (skipped envFrom keys, bad fieldRefs), for an Event. */
  warnings: string[];
}

export const decodeBase64 = (b64: string): string => Buffer.from(b64, 'base64').toString('utf8');

export function describeMissing(m: Missing, namespace: string): string {
  const obj = `${m.kind} "${namespace}/${m.name}"`;
  return m.key === undefined ? `${obj} not found` : `key "${m.key}" not found in ${obj}`;
}

export function resolveEnv(
  pod: KPod,
  container: Container,
  sources: SourceObjects,
  ctx: EnvContext,
): EnvResult {
  const values = new Map<string, string>();
  const missing: Missing[] = [];
  const warnings: string[] = [];
  const set = (name: string, value: string) => {
    values.set(name, value);
  };

  if (ctx.kubernetesService) {
    const { host, port } = ctx.kubernetesService;
    const hostPart = host.includes(':') ? `[${host}]` : host;
    set('KUBERNETES_SERVICE_HOST', host);
    set('KUBERNETES_SERVICE_PORT', String(port));
    set('KUBERNETES_SERVICE_PORT_HTTPS', String(port));
    set('KUBERNETES_PORT', `tcp://${hostPart}:${port}`);
    set(`KUBERNETES_PORT_${port}_TCP`, `tcp://${hostPart}:${port}`);
    set(`KUBERNETES_PORT_${port}_TCP_PROTO`, 'tcp');
    set(`KUBERNETES_PORT_${port}_TCP_PORT`, String(port));
    set(`KUBERNETES_PORT_${port}_TCP_ADDR`, host);
  }

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    let data: Record<string, string> | undefined;
    if (from.configMapRef) {
      const cm = sources.configMaps.get(from.configMapRef.name);
      if (!cm) {
        if (from.configMapRef.optional !== true)
          missing.push({ kind: 'ConfigMap', name: from.configMapRef.name });
        continue;
      }
      data = { ...(cm.data ?? {}) };
    } else if (from.secretRef) {
      const s = sources.secrets.get(from.secretRef.name);
      if (!s) {
        if (from.secretRef.optional !== true) missing.push({ kind: 'Secret', name: from.secretRef.name });
        continue;
      }
      data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, decodeBase64(v)]));
    }
    for (const [k, v] of Object.entries(data ?? {})) {
      const name = prefix + k;
      // The plugins' rule (src/wire/k8s.ts), so a skipped key is an Event here rather than a
      // refused pod at the API; the kubelet skips invalid names the same way.
      if (!EnvVarName.safeParse(name).success) {
        warnings.push(`envFrom: skipped key "${k}": "${name}" is not a valid environment variable name`);
        continue;
      }
      set(name, v);
    }
  }

  for (const e of container.env ?? []) {
    const v = envValue(pod, container, e, sources, ctx, values, missing, warnings);
    if (v !== undefined) set(e.name, v);
  }
  return { env: [...values].map(([name, value]) => ({ name, value })), missing, warnings };
}

/** A configMapKeyRef's or secretKeyRef's raw value; a missing object or key is recorded unless optional. */
function keyRefValue(
  kind: Missing['kind'],
  ref: { name: string; key: string; optional?: boolean | undefined | null },
  obj: { data?: Record<string, string> | null | undefined } | undefined,
  missing: Missing[],
): string | undefined {
  const v = obj?.data?.[ref.key];
  if (v === undefined && ref.optional !== true) {
    missing.push(obj ? { kind, name: ref.name, key: ref.key } : { kind, name: ref.name });
  }
  return v;
}

function envValue(
  pod: KPod,
  container: Container,
  e: EnvVar,
  sources: SourceObjects,
  ctx: EnvContext,
  soFar: Map<string, string>,
  missing: Missing[],
  warnings: string[],
): string | undefined {
  const from = e.valueFrom;
  if (!from) return expand(e.value ?? '', (name) => soFar.get(name));
  if (from.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    return keyRefValue('ConfigMap', ref, sources.configMaps.get(ref.name), missing);
  }
  if (from.secretKeyRef) {
    const ref = from.secretKeyRef;
    const v = keyRefValue('Secret', ref, sources.secrets.get(ref.name), missing);
    return v === undefined ? undefined : decodeBase64(v);
  }
  try {
    if (from.fieldRef) return fieldRefValue(pod, from.fieldRef.fieldPath, ctx);
    if (from.resourceFieldRef) return resourceFieldValue(pod, from.resourceFieldRef, container, ctx);
  } catch (err) {
    if (!(err instanceof DownwardError)) throw err;
    warnings.push(`env ${e.name}: ${err.message}`);
    return undefined;
  }
  warnings.push(`env ${e.name}: unsupported valueFrom (${Object.keys(from).join(', ')})`);
  return undefined;
}

/** `$(VAR)` in command and args, against the container's final environment (as the kubelet does). */
export function expandCommand(
  args: string[] | undefined,
  env: Array<{ name: string; value: string }>,
): string[] | undefined {
  if (!args) return undefined;
  const map = new Map(env.map((e) => [e.name, e.value]));
  return args.map((a) => expand(a, (n) => map.get(n)));
}
