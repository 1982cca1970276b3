/**
 * Everything a pod needs from the cluster before it can be sent to the interLink API:
 * fetches the referenced ConfigMaps and Secrets, requests service-account tokens, and
 * builds the PodCreateRequests with literal env values and resolved projected volumes
 * (the pure parts are env.ts, volumes.ts, downward.ts).
 *
 * Contract: does not mutate the pod it is given; may block on the apiserver; throws on
 * apiserver errors other than "not found" (the caller retries); a missing object is not
 * an error but a `missing` entry (the caller waits, bounded).
 */

import type { Clock } from '../../core/clock.ts';
import type { PodCreateRequests } from '../../wire/interlink.ts';
import type { ConfigMap, Secret } from '../../wire/k8s.ts';
import { httpStatusOf, kubeRequest } from '../kube.ts';
import type { KubeConnection } from '../kube-connection.ts';
import type { KPod } from '../pods/kpod.ts';
import type { DownwardContext } from './downward.ts';
import { type EnvContext, expandCommand, type Missing, resolveEnv, type SourceObjects } from './env.ts';
import type { SourceVersionCache } from './source-versions.ts';
import {
  collectRefs,
  downwardAsProjected,
  type IssuedToken,
  resolveVolumes,
  tokenSources,
} from './volumes.ts';

/** The ConfigMaps and Secrets a pod's volumes (not its env) take files from. */
function volumeRefs(pod: KPod) {
  return collectRefs({ ...pod, spec: { ...pod.spec, initContainers: [], containers: [] } });
}

export interface ResolverOptions {
  kubeConfig: KubeConnection;
  clock: Clock;
  ctx: EnvContext;
  /** Default lifetime asked for tokens whose source does not say (seconds). */
  tokenSeconds: number;
  /** Refresh after this fraction of a token's lifetime (default 0.8, as the kubelet). */
  refreshFraction?: number;
  /**
   * Watched resourceVersions (source-versions.ts): the volume resync answers from them
   * instead of a GET per object; absent, or unable to answer, and it GETs.
   */
  sourceVersions?: Pick<SourceVersionCache, 'versions'>;
}

export interface Resolution {
  request: PodCreateRequests;
  missing: Missing[];
  warnings: string[];
  /** When the earliest token should be refreshed (by default at 80% of its life), ms since the epoch. */
  refreshAt: number | undefined;
  /**
   * The versions of the ConfigMaps and Secrets the pod's volumes were filled from
   * (`volumeSourceVersions`); undefined when no volume takes its files from one.
   */
  sourceVersions?: string | undefined;
}

/** "configmap/<name>@<resourceVersion>" for each volume source, absent ones "@-", sorted. */
function versionsOf(
  refs: { configMaps: Map<string, boolean>; secrets: Map<string, boolean> },
  rv: (kind: 'configmap' | 'secret', name: string) => string | undefined,
): string | undefined {
  const out: string[] = [];
  for (const n of refs.configMaps.keys()) out.push(`configmap/${n}@${rv('configmap', n) ?? '-'}`);
  for (const n of refs.secrets.keys()) out.push(`secret/${n}@${rv('secret', n) ?? '-'}`);
  return out.length > 0 ? out.sort().join(',') : undefined;
}

/** versionsOf for objects just read. */
function fetchedVersions(
  refs: { configMaps: Map<string, boolean>; secrets: Map<string, boolean> },
  fetched: { configMaps: Map<string, RawObject>; secrets: Map<string, RawObject> },
): string | undefined {
  const rv = (o: RawObject | undefined) => o?.metadata.resourceVersion;
  return versionsOf(refs, (kind, n) =>
    rv(kind === 'configmap' ? fetched.configMaps.get(n) : fetched.secrets.get(n)),
  );
}

/** A ConfigMap or Secret as the apiserver sends it (read, not validated: the API validates what we send). */
type RawObject = ConfigMap | Secret;

/** Fields the backend has no use for (and that only cost bytes on every call). */
export function slimObject<T extends object>(obj: T): T {
  const meta = (obj as { metadata?: Record<string, unknown> }).metadata;
  if (!meta?.managedFields) return obj;
  const { managedFields: _drop, ...metadata } = meta;
  return { ...obj, metadata } as T;
}

/**
 * The ConfigMap every namespace has and every pod with a projected service-account token
 * reads: kept per namespace and reused while the watched resourceVersion says it is current.
 */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';

export class PodResolver {
  readonly #opts: ResolverOptions;
  /** In-flight GETs shared by pods created in the same burst (never a stale cache). */
  readonly #inflight = new Map<string, Promise<RawObject | undefined>>();
  /** kube-root-ca.crt by namespace, valid while its watched version is the same. */
  readonly #rootCa = new Map<string, RawObject>();

  constructor(opts: ResolverOptions) {
    this.#opts = opts;
  }

  async #get(
    kind: 'configmaps' | 'secrets',
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<RawObject | undefined> {
    if (kind === 'configmaps' && name === ROOT_CA_CONFIGMAP) return this.#getRootCa(namespace, signal);
    return this.#fetch(kind, namespace, name, signal);
  }

  /**
   * kube-root-ca.crt from memory when the metadata watch (sourceVersions) shows the version
   * we hold; otherwise (no watch, not synced, changed, absent) one GET, kept for the next pods.
   */
  async #getRootCa(namespace: string, signal?: AbortSignal): Promise<RawObject | undefined> {
    const held = this.#rootCa.get(namespace);
    const versions = await this.#opts.sourceVersions?.versions('configmaps', namespace);
    const rv = versions?.get(ROOT_CA_CONFIGMAP);
    if (held && rv !== undefined && held.metadata.resourceVersion === rv) return held;
    const o = await this.#fetch('configmaps', namespace, ROOT_CA_CONFIGMAP, signal);
    if (o && versions) this.#rootCa.set(namespace, o);
    else this.#rootCa.delete(namespace);
    return o;
  }

  async #fetch(
    kind: 'configmaps' | 'secrets',
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<RawObject | undefined> {
    const key = `${kind}/${namespace}/${name}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = kubeRequest<RawObject>(this.#opts.kubeConfig, {
        method: 'GET',
        path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/${kind}/${encodeURIComponent(name)}`,
        ...(signal ? { signal } : {}),
      })
        .then((o) => slimObject(o))
        .catch((err) => {
          if (httpStatusOf(err) === 404) return undefined;
          throw err;
        })
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  /** Fetch the ConfigMaps and Secrets the pod references. Absent ones are left out. */
  async fetchSources(
    pod: KPod,
    signal?: AbortSignal,
  ): Promise<{ configMaps: Map<string, RawObject>; secrets: Map<string, RawObject> }> {
    const ns = pod.metadata.namespace;
    const refs = collectRefs(pod);
    const configMaps = new Map<string, RawObject>();
    const secrets = new Map<string, RawObject>();
    await Promise.all([
      ...[...refs.configMaps.keys()].map(async (n) => {
        const o = await this.#get('configmaps', ns, n, signal);
        if (o) configMaps.set(n, o);
      }),
      ...[...refs.secrets.keys()].map(async (n) => {
        const o = await this.#get('secrets', ns, n, signal);
        if (o) secrets.set(n, o);
      }),
    ]);
    return { configMaps, secrets };
  }

  /**
   * The versions of the ConfigMaps and Secrets the pod's volumes take files from, as
   * `Resolution.sourceVersions` has them: a running pod whose answer differs needs its
   * volumes refreshed. Answered from the watched versions when they can, else one GET per
   * object; undefined when no volume uses one.
   */
  async volumeSourceVersions(pod: KPod, signal?: AbortSignal): Promise<string | undefined> {
    const refs = volumeRefs(pod);
    if (refs.configMaps.size + refs.secrets.size === 0) return undefined;
    const cache = this.#opts.sourceVersions;
    if (cache) {
      const ns = pod.metadata.namespace;
      const none: ReadonlyMap<string, string> = new Map();
      const [cms, secrets] = await Promise.all([
        refs.configMaps.size > 0 ? cache.versions('configmaps', ns) : none,
        refs.secrets.size > 0 ? cache.versions('secrets', ns) : none,
      ]);
      if (cms && secrets) return versionsOf(refs, (kind, n) => (kind === 'configmap' ? cms : secrets).get(n));
    }
    const volumesOnly = { ...pod, spec: { ...pod.spec, initContainers: [], containers: [] } };
    return fetchedVersions(refs, await this.fetchSources(volumesOnly, signal));
  }

  /** TokenRequests for every serviceAccountToken source, bound to the pod. */
  async issueTokens(pod: KPod, signal?: AbortSignal): Promise<Map<string, IssuedToken>> {
    const out = new Map<string, IssuedToken>();
    const sa = pod.spec.serviceAccountName || 'default';
    for (const src of tokenSources(pod)) {
      const answer = await kubeRequest<{ status?: { token?: string; expirationTimestamp?: string } }>(
        this.#opts.kubeConfig,
        {
          method: 'POST',
          path: `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/serviceaccounts/${encodeURIComponent(sa)}/token`,
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: {
              audiences: src.audience ? [src.audience] : [],
              expirationSeconds: src.expirationSeconds ?? this.#opts.tokenSeconds,
              boundObjectRef: {
                apiVersion: 'v1',
                kind: 'Pod',
                name: pod.metadata.name,
                uid: pod.metadata.uid,
              },
            },
          },
          ...(signal ? { signal } : {}),
        },
      );
      const token = answer.status?.token;
      if (!token)
        throw new Error(
          `TokenRequest for service account ${pod.metadata.namespace}/${sa} answered without a token`,
        );
      const exp = Date.parse(answer.status?.expirationTimestamp ?? '');
      out.set(src.key, {
        token,
        expiresAt: Number.isFinite(exp)
          ? exp
          : this.#opts.clock.now() + (src.expirationSeconds ?? this.#opts.tokenSeconds) * 1000,
      });
    }
    return out;
  }

  /** Resolve the pod into a create request (tokens only when nothing is missing). */
  async resolve(pod: KPod, signal?: AbortSignal): Promise<Resolution> {
    const fetched = await this.fetchSources(pod, signal);
    const sources: SourceObjects = fetched;
    const ctx = this.#opts.ctx;
    const missing: Missing[] = [];
    const warnings: string[] = [];
    const sent = structuredClone(slimObject(pod));
    const containers = [...(sent.spec.initContainers ?? []), ...sent.spec.containers];
    for (const c of containers) {
      const r = resolveEnv(pod, c, sources, ctx);
      missing.push(...r.missing);
      warnings.push(...r.warnings.map((w) => `container ${c.name}: ${w}`));
      if (r.env.length > 0) c.env = r.env;
      else delete c.env;
      delete c.envFrom;
      const command = expandCommand(c.command as string[] | undefined, r.env);
      if (command) c.command = command;
      const args = expandCommand(c.args as string[] | undefined, r.env);
      if (args) c.args = args;
    }
    // Tokens are credentials: request them only for a pod that will be sent.
    const firstPass = resolveVolumes(pod, sources, new Map(), ctx as DownwardContext);
    missing.push(...firstPass.missing);
    let tokens = new Map<string, IssuedToken>();
    let projected = firstPass.projected;
    if (missing.length === 0 && tokenSources(pod).length > 0) {
      tokens = await this.issueTokens(pod, signal);
      const again = resolveVolumes(pod, sources, tokens, ctx);
      projected = again.projected;
      warnings.push(...again.warnings);
    } else {
      warnings.push(...firstPass.warnings.filter((w) => !w.includes('no token for')));
    }
    const volumes = downwardAsProjected(sent.spec.volumes);
    if (volumes) sent.spec.volumes = volumes;
    const now = this.#opts.clock.now();
    let refreshAt: number | undefined;
    for (const t of tokens.values()) {
      const at = now + Math.max(0, t.expiresAt - now) * (this.#opts.refreshFraction ?? 0.8);
      refreshAt = refreshAt === undefined ? at : Math.min(refreshAt, at);
    }
    const dedupe = <T>(xs: T[], key: (x: T) => string) => [...new Map(xs.map((x) => [key(x), x])).values()];
    return {
      request: {
        pod: sent,
        configmaps: [...fetched.configMaps.values()],
        secrets: [...fetched.secrets.values()],
        projectedvolumesmaps: projected,
      },
      missing: dedupe(missing, (m) => `${m.kind}/${m.name}/${m.key ?? ''}`),
      warnings,
      refreshAt,
      sourceVersions: fetchedVersions(volumeRefs(pod), fetched),
    };
  }
}
