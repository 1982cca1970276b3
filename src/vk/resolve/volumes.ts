/**
 * What a pod's volumes need from the cluster, and the resolved projected volumes
 * (`projectedvolumesmaps`: one ConfigMap per projected volume, named after the volume,
 * `data` = file path → content; binary content goes to `binaryData`, base64). Pure: the
 * caller fetches the objects and requests the tokens.
 *
 * A plain `downwardAPI` volume is resolved the same way, and the pod sent to the API
 * declares it as a projected volume with one downwardAPI source, so plugins handle one
 * kind of generated volume.
 */
import type { Volume, VolumeProjection } from '../../wire/k8s.ts';
import type { KPod } from '../pods/kpod.ts';
import { type DownwardContext, DownwardError, fieldRefValue, resourceFieldValue } from './downward.ts';
import type { Missing, SourceObjects } from './env.ts';

export interface Refs {
  /** Names referenced, with whether at least one reference is required (not optional). */
  configMaps: Map<string, boolean>;
  secrets: Map<string, boolean>;
}

/** Every ConfigMap and Secret the pod references (volumes, env, envFrom, projected sources). */
export function collectRefs(pod: KPod): Refs {
  const refs: Refs = { configMaps: new Map(), secrets: new Map() };
  const add = (m: Map<string, boolean>, name: string | undefined, optional: boolean | null | undefined) => {
    if (!name) return;
    m.set(name, (m.get(name) ?? false) || optional !== true);
  };
  for (const v of pod.spec.volumes ?? []) {
    add(refs.configMaps, v.configMap?.name, v.configMap?.optional);
    add(refs.secrets, v.secret?.secretName, v.secret?.optional);
    for (const s of v.projected?.sources ?? []) {
      add(refs.configMaps, s.configMap?.name, s.configMap?.optional);
      add(refs.secrets, s.secret?.name, s.secret?.optional);
    }
  }
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const f of c.envFrom ?? []) {
      add(refs.configMaps, f.configMapRef?.name, f.configMapRef?.optional);
      add(refs.secrets, f.secretRef?.name, f.secretRef?.optional);
    }
    for (const e of c.env ?? []) {
      add(refs.configMaps, e.valueFrom?.configMapKeyRef?.name, e.valueFrom?.configMapKeyRef?.optional);
      add(refs.secrets, e.valueFrom?.secretKeyRef?.name, e.valueFrom?.secretKeyRef?.optional);
    }
  }
  return refs;
}

/** A token obtained for one serviceAccountToken source. */
export interface IssuedToken {
  token: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

/** Key of a serviceAccountToken source: `<volume>/<path>`. */
export const tokenKey = (volume: string, path: string) => `${volume}/${path}`;

/** The serviceAccountToken sources of a pod, for the caller to request. */
export function tokenSources(
  pod: KPod,
): Array<{ key: string; audience?: string; expirationSeconds?: number }> {
  const out: Array<{ key: string; audience?: string; expirationSeconds?: number }> = [];
  for (const v of pod.spec.volumes ?? []) {
    for (const s of v.projected?.sources ?? []) {
      const t = s.serviceAccountToken;
      if (!t) continue;
      out.push({
        key: tokenKey(v.name, t.path),
        ...(t.audience ? { audience: t.audience } : {}),
        ...(t.expirationSeconds ? { expirationSeconds: t.expirationSeconds } : {}),
      });
    }
  }
  return out;
}

/** A type, not an interface: it must fit the wire's ProjectedVolumeMap, whose fields are open. */
export type ProjectedMap = {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string };
  data: Record<string, string>;
  binaryData?: Record<string, string>;
};

export interface VolumesResult {
  projected: ProjectedMap[];
  missing: Missing[];
  warnings: string[];
}

/** Bytes that survive a UTF-8 round trip can travel in `data`; others go to `binaryData`. */
function putBytes(map: ProjectedMap, path: string, b64: string): void {
  const bytes = Buffer.from(b64, 'base64');
  const text = bytes.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(bytes)) map.data[path] = text;
  else {
    map.binaryData ??= {};
    map.binaryData[path] = bytes.toString('base64');
  }
}

function projectSource(
  pod: KPod,
  volume: Volume,
  src: VolumeProjection,
  map: ProjectedMap,
  sources: SourceObjects,
  tokens: ReadonlyMap<string, IssuedToken>,
  ctx: DownwardContext,
  res: VolumesResult,
): void {
  if (src.configMap) {
    const ref = src.configMap;
    const cm = sources.configMaps.get(ref.name);
    if (!cm) {
      if (ref.optional !== true) res.missing.push({ kind: 'ConfigMap', name: ref.name });
      return;
    }
    const items = ref.items ?? [
      ...Object.keys(cm.data ?? {}).map((key) => ({ key, path: key })),
      ...Object.keys(cm.binaryData ?? {}).map((key) => ({ key, path: key })),
    ];
    for (const item of items) {
      const text = cm.data?.[item.key];
      const bin = cm.binaryData?.[item.key];
      if (text !== undefined) map.data[item.path] = text;
      else if (bin !== undefined) putBytes(map, item.path, bin);
      else if (ref.optional !== true) res.missing.push({ kind: 'ConfigMap', name: ref.name, key: item.key });
    }
  } else if (src.secret) {
    const ref = src.secret;
    const s = sources.secrets.get(ref.name);
    if (!s) {
      if (ref.optional !== true) res.missing.push({ kind: 'Secret', name: ref.name });
      return;
    }
    const items = ref.items ?? Object.keys(s.data ?? {}).map((key) => ({ key, path: key }));
    for (const item of items) {
      const v = s.data?.[item.key];
      if (v !== undefined) putBytes(map, item.path, v);
      else if (ref.optional !== true) res.missing.push({ kind: 'Secret', name: ref.name, key: item.key });
    }
  } else if (src.downwardAPI) {
    for (const item of src.downwardAPI.items ?? []) {
      try {
        if (item.fieldRef) map.data[item.path] = fieldRefValue(pod, item.fieldRef.fieldPath, ctx, true);
        else if (item.resourceFieldRef)
          map.data[item.path] = resourceFieldValue(pod, item.resourceFieldRef, undefined, ctx);
      } catch (err) {
        if (!(err instanceof DownwardError)) throw err;
        res.warnings.push(`volume ${volume.name}: ${item.path}: ${err.message}`);
      }
    }
  } else if (src.serviceAccountToken) {
    const t = tokens.get(tokenKey(volume.name, src.serviceAccountToken.path));
    if (t) map.data[src.serviceAccountToken.path] = t.token;
    else res.warnings.push(`volume ${volume.name}: no token for ${src.serviceAccountToken.path}`);
  } else {
    res.warnings.push(
      `volume ${volume.name}: projected source ${Object.keys(src).join(', ')} is not supported; skipped`,
    );
  }
}

/** Resolve every projected and downwardAPI volume into its ConfigMap. */
export function resolveVolumes(
  pod: KPod,
  sources: SourceObjects,
  tokens: ReadonlyMap<string, IssuedToken>,
  ctx: DownwardContext,
): VolumesResult {
  const res: VolumesResult = { projected: [], missing: [], warnings: [] };
  for (const v of pod.spec.volumes ?? []) {
    const srcs: VolumeProjection[] | undefined = v.projected
      ? (v.projected.sources ?? [])
      : v.downwardAPI
        ? [{ downwardAPI: v.downwardAPI }]
        : undefined;
    if (!srcs) {
      if (v.configMap && !sources.configMaps.has(v.configMap.name) && v.configMap.optional !== true) {
        res.missing.push({ kind: 'ConfigMap', name: v.configMap.name });
      }
      if (v.secret && !sources.secrets.has(v.secret.secretName) && v.secret.optional !== true) {
        res.missing.push({ kind: 'Secret', name: v.secret.secretName });
      }
      continue;
    }
    const map: ProjectedMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: v.name, namespace: pod.metadata.namespace },
      data: {},
    };
    for (const s of srcs) projectSource(pod, v, s, map, sources, tokens, ctx, res);
    res.projected.push(map);
  }
  return res;
}

/** downwardAPI volumes declared as projected ones (what the API and plugins receive). */
export function downwardAsProjected(volumes: Volume[] | null | undefined): Volume[] | null | undefined {
  if (!volumes) return volumes;
  return volumes.map((v) => {
    if (!v.downwardAPI) return v;
    const { downwardAPI, ...rest } = v;
    return {
      ...rest,
      projected: {
        sources: [{ downwardAPI: { items: downwardAPI.items ?? [] } }],
        ...(downwardAPI.defaultMode == null ? {} : { defaultMode: downwardAPI.defaultMode }),
      },
    };
  });
}
