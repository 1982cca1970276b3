/**
 * The syncer's writes to the apiserver: pod status (with annotations), and the final
 * Pod delete. Injected into the syncer so unit tests record writes instead.
 */

import type { KubePodStatus } from '../../wire/k8s.ts';
import { httpStatusOf, kubeRequest } from '../kube.ts';
import type { KubeConnection } from '../kube-connection.ts';
import type { KPod } from './kpod.ts';
import { type PodMetrics, startLatencySeconds } from './metrics.ts';

export interface KubeWriter {
  /**
   * Write `status` (and `annotations`) with the pod's resourceVersion; fields of the
   * current status absent from `status` are removed. Resolves the updated pod, or
   * undefined when the pod is gone; throws on a conflict (after refreshing the cache) and
   * other errors, for the queue to retry. May block on the apiserver.
   */
  writeStatus(
    pod: KPod,
    status: KubePodStatus,
    annotations?: Record<string, string>,
  ): Promise<KPod | undefined>;
  /** Delete the Pod object with grace period 0 and a UID precondition; resolves when it is gone or the name is another pod's. */
  deletePod(pod: KPod): Promise<void>;
}

export interface KubeWriterOptions {
  kubeConfig: KubeConnection;
  /** Our own write's answer goes into the informer cache when it is newer. */
  upsert: (pod: KPod) => void;
  metrics: Pick<PodMetrics, 'statusWrites' | 'podStart'>;
  /** Wall clock, ms since the epoch (compared with creationTimestamp); default Date.now. */
  now?: () => number;
}

const podPath = (pod: KPod) =>
  `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/pods/${encodeURIComponent(pod.metadata.name)}`;

/** The status merge patch: `status`, with `null` for every current field it drops. */
export function statusPatch(pod: KPod, status: KubePodStatus, annotations?: Record<string, string>) {
  const patch: Record<string, unknown> = { ...status };
  for (const k of Object.keys(pod.status ?? {}))
    if (!(k in status) || status[k] === undefined) patch[k] = null;
  return {
    metadata: {
      uid: pod.metadata.uid,
      resourceVersion: pod.metadata.resourceVersion,
      ...(annotations ? { annotations } : {}),
    },
    status: patch,
  };
}

export function createKubeWriter(opts: KubeWriterOptions): KubeWriter {
  const { kubeConfig: kc, upsert, metrics } = opts;
  const now = opts.now ?? Date.now;
  return {
    async writeStatus(pod, status, annotations) {
      const body = statusPatch(pod, status, annotations);
      try {
        const updated = await kubeRequest<KPod>(kc, {
          method: 'PATCH',
          path: `${podPath(pod)}/status`,
          body,
        });
        metrics.statusWrites.inc({ outcome: 'ok' });
        const started = startLatencySeconds(pod, status, now());
        if (started !== undefined) metrics.podStart.observe(started);
        upsert(updated);
        return updated;
      } catch (err) {
        const code = httpStatusOf(err);
        if (code === 404) {
          metrics.statusWrites.inc({ outcome: 'gone' });
          return undefined;
        }
        if (code === 409) {
          metrics.statusWrites.inc({ outcome: 'conflict' });
          const fresh = await kubeRequest<KPod>(kc, { method: 'GET', path: podPath(pod) }).catch(
            () => undefined,
          );
          if (fresh) upsert(fresh);
        } else metrics.statusWrites.inc({ outcome: 'error' });
        throw err;
      }
    },
    async deletePod(pod) {
      try {
        await kubeRequest(kc, {
          method: 'DELETE',
          path: podPath(pod),
          body: {
            apiVersion: 'v1',
            kind: 'DeleteOptions',
            gracePeriodSeconds: 0,
            preconditions: { uid: pod.metadata.uid },
          },
          discard: true,
        });
      } catch (err) {
        const code = httpStatusOf(err);
        // Gone already, or the name now belongs to another pod: nothing of ours to delete.
        if (code === 404 || code === 409) return;
        throw err;
      }
    },
  };
}
