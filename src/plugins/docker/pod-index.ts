/**
 * The docker plugin's in-memory index: pod UID → its container ids, rebuilt from the
 * container labels when the plugin starts (plugin.ts `#load`). Pure.
 */
import type { PodRef } from '../../core/pod/spec.ts';

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
