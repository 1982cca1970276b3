/**
 * Names and labels of everything the plugin creates in Docker. The labels are the plugin's
 * whole memory: a restarted plugin finds its pods again by listing them (DESIGN.md §4).
 * Pure.
 */

import type { PodRef } from '../../core/pod/spec.ts';

const P = 'interlink.vk.io';

export const LABEL = {
  /** Which plugin instance owns the object (config `instance`). */
  instance: `${P}/instance`,
  podUid: `${P}/pod-uid`,
  podNamespace: `${P}/pod-namespace`,
  podName: `${P}/pod-name`,
  containerName: `${P}/container-name`,
  /** `infra`, `init` or `app`. */
  role: `${P}/role`,
  /** Position among the pod's init containers or app containers (0-based). */
  index: `${P}/index`,
  /** The pod's restartPolicy, needed to decide whether a failed init container fails the pod. */
  restartPolicy: `${P}/restart-policy`,
  /** `true` on an init container with restartPolicy Always (a sidecar, KEP-753). */
  sidecar: `${P}/sidecar`,
} as const;

export type Role = 'infra' | 'init' | 'app';

/**
 * `ilk_<container>_<pod>_<namespace>_<uid>`, like the kubelet's dockershim names. Every part
 * is an RFC 1123 name or a UID, so the result is a valid Docker name; the infra container is
 * `ilk_POD_...`, which no Kubernetes container name (lower case) can collide with.
 */
export function containerName(pod: PodRef, container: string): string {
  return `ilk_${container}_${pod.name}_${pod.namespace}_${pod.uid}`;
}

export function infraName(pod: PodRef): string {
  return containerName(pod, 'POD');
}

export function podLabels(instance: string, pod: PodRef): Record<string, string> {
  return {
    [LABEL.instance]: instance,
    [LABEL.podUid]: pod.uid,
    [LABEL.podNamespace]: pod.namespace,
    [LABEL.podName]: pod.name,
  };
}

/** `--label=k=v` words in a stable order (one word each: a value is never read as a flag). */
export function labelArgs(labels: Record<string, string>): string[] {
  return Object.keys(labels)
    .sort()
    .map((k) => `--label=${k}=${labels[k]}`);
}
