/**
 * A container's environment as the kubelet would build it, resolved into literal values so
 * every plugin, ours or an interLink 0.6 one, receives plain `{name, value}` pairs. The
 * rules are src/core/pod/env.ts (`buildEnv`, shared with the plugins); this file gives them
 * the VK's sources and records what is missing or skipped instead of refusing. Pure: the
 * ConfigMaps and Secrets are fetched by the caller.
 *
 * Order and precedence: KUBERNETES_SERVICE_* (when configured), then `envFrom` in order,
 * then `env` in order; a later definition of a name wins, in the position of the first.
 * `$(VAR)` in literal `value`s expands against what is defined so far; values from
 * ConfigMaps, Secrets and the downward API are taken byte-for-byte, never expanded.
 */
import {
  buildEnv,
  type EnvList,
  type EnvProblem,
  expandArgs,
  kubernetesServiceEnv,
  type SourceKind,
} from '../../core/pod/env.ts';
import { type Container, EnvVarName } from '../../wire/k8s.ts';
import type { KPod } from '../pods/kpod.ts';
import { type DownwardContext, downwardMessage, downwardRules } from './downward.ts';

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

/** A problem recorded, not thrown: a missing source blocks the pod, the rest are warnings. */
function record(p: EnvProblem, missing: Missing[], warnings: string[]): void {
  switch (p.type) {
    case 'missing':
      missing.push(
        p.key !== undefined && p.objectExists
          ? { kind: p.kind, name: p.name, key: p.key }
          : { kind: p.kind, name: p.name },
      );
      return;
    case 'skippedKey':
      // The plugins' rule (src/wire/k8s.ts), so a skipped key is an Event here rather than a
      // refused pod at the API; the kubelet skips invalid names the same way.
      warnings.push(`envFrom: skipped key "${p.key}": "${p.name}" is not a valid environment variable name`);
      return;
    case 'badName':
      warnings.push(`env ${p.name}: a variable name cannot contain "="`);
      return;
    case 'downward':
      warnings.push(`env ${p.name}: ${downwardMessage(p.failure)}`);
      return;
    case 'noSource':
      warnings.push(`env ${p.name}: unsupported valueFrom (${p.keys.join(', ')})`);
      return;
  }
}

export function resolveEnv(
  pod: KPod,
  container: Container,
  sources: SourceObjects,
  ctx: EnvContext,
): EnvResult {
  const missing: Missing[] = [];
  const warnings: string[] = [];
  // Only `data`: the kubelet reads neither a ConfigMap's binaryData nor (the apiserver never
  // returns it) a Secret's stringData into the environment.
  const data = (kind: SourceKind, name: string) =>
    (kind === 'ConfigMap' ? sources.configMaps.get(name) : sources.secrets.get(name)) ?? null;
  const text = (kind: SourceKind, v: string) => (kind === 'Secret' ? decodeBase64(v) : v);
  const service = ctx.kubernetesService;
  const env = buildEnv(container, pod, {
    initial: service ? kubernetesServiceEnv(service.host, service.port) : [],
    redefinedMovesLast: false,
    expandVariables: true,
    entries: (kind, name) => {
      const obj = data(kind, name);
      return obj
        ? Object.entries(obj.data ?? {}).map(([k, v]): [string, string] => [k, text(kind, v)])
        : undefined;
    },
    value: (kind, name, key) => {
      const obj = data(kind, name);
      if (!obj) return null;
      const v = obj.data?.[key];
      return v === undefined ? undefined : text(kind, v);
    },
    usableKey: (_key, name) => EnvVarName.safeParse(name).success,
    downward: () => downwardRules(ctx, false),
    report: (p) => record(p, missing, warnings),
    field: container.name,
  });
  return { env: env.map(([name, value]) => ({ name, value })), missing, warnings };
}

/** `$(VAR)` in command and args, against the container's final environment (as the kubelet does). */
export function expandCommand(
  args: string[] | undefined,
  env: Array<{ name: string; value: string }>,
): string[] | undefined {
  if (!args) return undefined;
  return expandArgs(
    args,
    env.map((e): EnvList[number] => [e.name, e.value]),
  );
}
