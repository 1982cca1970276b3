/**
 * PodCreateRequests (what the VK sends) → RetrievedPodData (what the plugin gets): for
 * each container, init containers first, the ConfigMaps, Secrets, projected-volume maps and
 * emptyDir names that its volumeMounts reference through pod.spec.volumes. Pure.
 *
 * Differences from interLink 0.6, on purpose: every container gets its entry (0.6 left the
 * name empty for a container without mounts); a volume mounted twice is sent once; a
 * referenced ConfigMap or Secret that is neither in the request nor `optional` is an
 * INVALID_INPUT naming it (0.6 logged and sent the pod without it); emptyDirs are volume
 * names (0.6 sent paths under its DataRootFolder, later nothing): plugins own their data directories.
 */
import { invalidInput } from '../errors/index.ts';
import type { PodCreateRequests, RetrievedContainer, RetrievedPodData } from '../wire/interlink.ts';
import type { ConfigMap, Secret } from '../wire/k8s.ts';

interface VolumeMount {
  name?: unknown;
}
interface Volume {
  name?: unknown;
  configMap?: { name?: unknown; optional?: unknown } | null;
  secret?: { secretName?: unknown; optional?: unknown } | null;
  projected?: unknown;
  emptyDir?: unknown;
}
interface ContainerLike {
  name: string;
  volumeMounts?: unknown;
}

export interface RetrieveResult {
  data: RetrievedPodData;
  /** Things the plugin will miss, worth a log line (optional objects absent, projected maps absent). */
  warnings: string[];
}

const asArray = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/**
 * The ConfigMap or Secret a volume references, when the request carries it; an absent
 * optional one is a warning, an absent required one INVALID_INPUT on the request's list.
 */
function carried<T>(
  kind: 'ConfigMap' | 'Secret',
  found: T | undefined,
  name: string,
  optional: boolean,
  where: { volume: string; container: string; warnings: string[] },
): T | undefined {
  if (found) return found;
  if (optional) {
    where.warnings.push(`optional ${kind} "${name}" (volume ${where.volume}) is absent`);
    return undefined;
  }
  const field = kind === 'ConfigMap' ? 'configmaps' : 'secrets';
  throw invalidInput(
    `${field}: volume "${where.volume}" of container ${where.container} needs ${kind} "${name}", which the request does not carry`,
    field,
  );
}

export function toRetrievedPodData(req: PodCreateRequests): RetrieveResult {
  const pod = req.pod;
  const spec = pod.spec;
  if (!spec) throw invalidInput('pod.spec: required for create', 'pod.spec');
  const volumes = new Map<string, Volume>();
  for (const v of asArray<Volume>((spec as { volumes?: unknown }).volumes)) {
    if (typeof v?.name === 'string') volumes.set(v.name, v);
  }
  const configMaps = new Map((req.configmaps ?? []).map((c) => [c.metadata.name, c] as const));
  const secrets = new Map((req.secrets ?? []).map((s) => [s.metadata.name, s] as const));
  const projected = new Map((req.projectedvolumesmaps ?? []).map((p) => [p.metadata.name, p] as const));
  const warnings: string[] = [];

  const containers: ContainerLike[] = [...(spec.initContainers ?? []), ...spec.containers];
  const out: RetrievedContainer[] = containers.map((c, ci) => {
    const entry = {
      name: c.name,
      configMaps: [] as ConfigMap[],
      projectedvolumemaps: [] as ConfigMap[],
      secrets: [] as Secret[],
      emptyDirs: [] as string[],
    };
    const seen = new Set<string>();
    const kind = ci < (spec.initContainers?.length ?? 0) ? 'initContainers' : 'containers';
    for (const m of asArray<VolumeMount>(c.volumeMounts)) {
      if (typeof m?.name !== 'string' || seen.has(m.name)) continue;
      seen.add(m.name);
      const vol = volumes.get(m.name);
      if (!vol) {
        throw invalidInput(
          `pod.spec.${kind}[${c.name}].volumeMounts: mounts volume "${m.name}", which pod.spec.volumes does not declare`,
          `pod.spec.${kind}.volumeMounts`,
        );
      }
      const where = { volume: m.name, container: c.name, warnings };
      if (vol.configMap) {
        const name = String(vol.configMap.name ?? '');
        const cm = carried('ConfigMap', configMaps.get(name), name, vol.configMap.optional === true, where);
        if (cm) entry.configMaps.push(cm);
      } else if (vol.secret) {
        const name = String(vol.secret.secretName ?? '');
        const s = carried('Secret', secrets.get(name), name, vol.secret.optional === true, where);
        if (s) entry.secrets.push(s);
      } else if (vol.projected) {
        // The VK resolves a projected volume into one ConfigMap named after the volume.
        const p = projected.get(m.name);
        if (p) entry.projectedvolumemaps.push(p);
        else warnings.push(`projected volume "${m.name}" has no entry in projectedvolumesmaps`);
      } else if (vol.emptyDir !== undefined && vol.emptyDir !== null) {
        entry.emptyDirs.push(m.name);
      }
      // Other kinds (hostPath, downwardAPI, ...) travel in pod.spec.volumes for the plugin to read.
    }
    return entry;
  });

  const data: RetrievedPodData = { pod, container: out };
  return { data, warnings };
}
