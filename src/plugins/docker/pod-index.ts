/**
 * The docker plugin's in-memory index: pod UID → its container ids, rebuilt from the
 * container labels when the plugin starts (plugin.ts `#load`), and where a pod's files live. Pure.
 */
import { pathUnder } from '../../core/pod/paths.ts';
import type { PodRef } from '../../core/pod/spec.ts';
import type { ObservedPod } from './status.ts';

export interface IndexEntry {
  ref: PodRef;
  infraId?: string;
  /** Kubernetes container name → Docker id. */
  byName: Map<string, string>;
  inits: string[];
  apps: string[];
}

/** Every container id (infra first) of the pods named, in that order; unknown uids are skipped. */
export function idsOf(index: ReadonlyMap<string, IndexEntry>, uids: string[]): string[] {
  const ids: string[] = [];
  for (const u of uids) {
    const e = index.get(u);
    if (!e) continue;
    if (e.infraId) ids.push(e.infraId);
    ids.push(...e.byName.values());
  }
  return ids;
}

/** A pod's entry as Docker shows it (the index rebuilt from the labels at start-up). */
export function entryOf(p: ObservedPod): IndexEntry {
  const byName = new Map<string, string>();
  for (const o of [...p.inits, ...p.apps]) byName.set(o.name, o.id);
  return {
    ref: p.ref,
    ...(p.infra ? { infraId: p.infra.id } : {}),
    byName,
    inits: p.inits.map((o) => o.name),
    apps: p.apps.map((o) => o.name),
  };
}

/** Where a pod's files live: `<dataRoot>/<uid>`, the uid checked as one path component. */
export function podDirOf(dataRoot: string, uid: string): string {
  return pathUnder(dataRoot, 'pod.metadata.uid', uid);
}
