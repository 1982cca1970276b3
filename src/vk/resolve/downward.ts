/**
 * Downward API values (fieldRef, resourceFieldRef) as the kubelet computes them for a pod
 * on this node: the rules are src/core/pod/downward.ts; this file gives them the node's
 * facts (`DownwardContext`) and words their failures as a DownwardError (a warning Event,
 * not a failed sync). Pure.
 */
import { parseQuantity } from '../../core/kube/quantity.ts';
import {
  fieldRefValue as coreFieldRefValue,
  resourceFieldValue as coreResourceFieldValue,
  DownwardFailed,
  type DownwardFailure,
  type DownwardRules,
} from '../../core/pod/downward.ts';
import type { Container } from '../../wire/k8s.ts';
import type { KPod } from '../pods/kpod.ts';

export interface DownwardContext {
  /** The node's address (status.hostIP / status.podIP: pods run behind it). */
  hostIP?: string | undefined;
  podIP?: string | undefined;
  nodeName: string;
  /** Node allocatable, for limits a container does not set. */
  nodeAllocatable: { cpu: string; memory: string; 'ephemeral-storage'?: string };
}

export class DownwardError extends Error {}

export function downwardMessage(f: DownwardFailure): string {
  switch (f.code) {
    case 'fieldPath':
      return `unsupported fieldRef "${f.fieldPath}"`;
    case 'resource':
      return `unsupported resourceFieldRef "${f.resource}"`;
    case 'container':
      return `resourceFieldRef: container "${f.containerName ?? ''}" not found`;
    case 'quantity':
      return f.message;
  }
}

/** A quantity, or DownwardFailed: a bad one becomes a warning, not a failed sync. */
function quantity(q: string | number): number {
  try {
    return parseQuantity(q);
  } catch (err) {
    throw new DownwardFailed({ code: 'quantity', message: (err as Error).message });
  }
}

/**
 * The kubelet's downward rules on this node. `wholeMaps`: whole `metadata.labels`/`annotations`
 * (only downwardAPI volumes may). A limit a container does not set is the node's
 * allocatable; a request it does not set is 0 (the apiserver defaults requests to limits
 * when only limits are given). An empty divisor, lenient, is the unset one.
 */
export function downwardRules(ctx: DownwardContext, wholeMaps: boolean): DownwardRules {
  const allocatable = ctx.nodeAllocatable as Record<string, string | undefined>;
  return {
    nodeName: ctx.nodeName,
    hostIP: ctx.hostIP,
    podIP: ctx.podIP,
    wholeMaps,
    quantity: (q, role) => {
      if (role === 'value') return quantity(q);
      const divisor = q === '' ? 0 : quantity(q);
      if (divisor < 0)
        throw new DownwardFailed({
          code: 'quantity',
          message: `resourceFieldRef: divisor "${String(q)}" must be positive`,
        });
      return divisor;
    },
    unset: (kind, name) => (kind === 'limits' ? quantity(allocatable[name] ?? '0') : 0),
  };
}

/** Runs a downward computation, a failure as a DownwardError. */
function worded<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof DownwardFailed) throw new DownwardError(downwardMessage(err.failure));
    throw err;
  }
}

/** The value of a fieldRef. Throws DownwardError for an unsupported path. */
export function fieldRefValue(pod: KPod, fieldPath: string, ctx: DownwardContext, allowMaps = false): string {
  return worded(() => coreFieldRefValue(pod, fieldPath, downwardRules(ctx, allowMaps)));
}

/** resourceFieldRef, rounded up; throws DownwardError for a bad reference or quantity. */
export function resourceFieldValue(
  pod: KPod,
  ref: { resource: string; containerName?: string | undefined; divisor?: string | number | undefined },
  container: Container | undefined,
  ctx: DownwardContext,
): string {
  return worded(() => coreResourceFieldValue(pod, ref, container, downwardRules(ctx, false)));
}
