/**
 * What the API knows of each pod, by UID: the last status the plugin reported (written by
 * every /status answer) and what it saw of the pod itself (written by /create: name,
 * creation time, containers, the backend job id or the create's error). Entries are dropped
 * by /delete and /updateCache (interLink 0.6 keyed its drop by the whole request body, so
 * entries were never dropped). Never served in place of a failed plugin call: the cache is
 * there for observation (a gauge, the status page), not to hide an outage.
 *
 * Owned by one API app; synchronous, so no two requests interleave inside a method.
 */
import type { PodStatus } from '../wire/interlink.ts';
import type { Pod } from '../wire/k8s.ts';

export interface CachedStatus {
  status: PodStatus;
  /** When the plugin reported it (ms since the epoch). */
  at: number;
}

/** A pod as this API saw it, from its create or (after a restart of the API) its first status. */
export interface KnownPod {
  uid: string;
  namespace: string;
  name: string;
  /** When this API first heard of the pod (ms since the epoch). */
  firstSeen: number;
  /** The pod's metadata.creationTimestamp, when the API saw its create. */
  createdAt?: string;
  /** Container names, init containers first, when the API saw the create. */
  containers: string[];
  /** The backend's job id, from the create's answer or a status. */
  jid?: string;
  /** Why the last create failed (the plugin's message); cleared by a successful one. */
  createError?: string;
}

/** A create error longer than this is cut: the page shows it, and a plugin may send a novel. */
export const MAX_ERROR_CHARS = 1024;

export class StatusCache {
  readonly #entries = new Map<string, CachedStatus>();
  readonly #pods = new Map<string, KnownPod>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Record statuses from one plugin answer; entries without a UID are ignored. */
  update(statuses: readonly PodStatus[]): void {
    const at = this.#now();
    for (const s of statuses) {
      if (!s.UID) continue;
      this.#entries.set(s.UID, { status: s, at });
      const known = this.#pods.get(s.UID);
      if (!known) {
        this.#pods.set(s.UID, {
          uid: s.UID,
          namespace: s.namespace,
          name: s.name,
          firstSeen: at,
          containers: [],
          ...(s.JID ? { jid: s.JID } : {}),
        });
      } else if (s.JID) known.jid = s.JID;
    }
  }

  /** Record a create the API forwarded: its answer's job id, or the plugin's error. */
  noteCreate(pod: Pod, outcome: { jid: string } | { error: string }): void {
    const uid = pod.metadata.uid;
    if (!uid) return;
    const prev = this.#pods.get(uid);
    const spec = pod.spec;
    const record: KnownPod = {
      uid,
      namespace: pod.metadata.namespace,
      name: pod.metadata.name,
      firstSeen: prev?.firstSeen ?? this.#now(),
      containers: [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((c) => c.name),
      ...(pod.metadata.creationTimestamp ? { createdAt: pod.metadata.creationTimestamp } : {}),
    };
    if ('jid' in outcome) record.jid = outcome.jid;
    else {
      if (prev?.jid) record.jid = prev.jid;
      record.createError = outcome.error.slice(0, MAX_ERROR_CHARS);
    }
    this.#pods.set(uid, record);
  }

  get(uid: string): CachedStatus | undefined {
    return this.#entries.get(uid);
  }

  /** Every known pod with its last status, if any; a snapshot (later updates do not show). */
  pods(): Array<{ pod: KnownPod; status?: CachedStatus }> {
    return [...this.#pods.values()].map((pod) => {
      const status = this.#entries.get(pod.uid);
      return status ? { pod: { ...pod }, status } : { pod: { ...pod } };
    });
  }

  /** Drop one pod's entries; true when it had a status. Idempotent. */
  drop(uid: string): boolean {
    this.#pods.delete(uid);
    return this.#entries.delete(uid);
  }

  /** Pods with a status. */
  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
    this.#pods.clear();
  }
}
