/**
 * The virtual node as data: labels, taints, capacity, addresses and node info computed
 * from the configuration and the plugin's latest PingResponse (DESIGN.md §3). Pure
 * functions, tested by tables; the controller only sends what these return.
 */
import type { V1Node, V1NodeAddress, V1NodeSystemInfo, V1Taint } from '@kubernetes/client-node';
import type { PingResponse } from '../../wire/interlink.ts';
import type { AcceleratorSpec, NodeTaintSpec } from '../config.ts';

/** The Kubernetes version our node claims to speak; the suffix says who we are. */
export const KUBE_VERSION = 'v1.37.2';

export const DEFAULT_TAINT: V1Taint = {
  key: 'virtual-node.interlink/no-schedule',
  value: 'true',
  effect: 'NoSchedule',
};

/** Annotation listing the taint keys we manage, so a taint the plugin stops sending is removed. */
export const MANAGED_TAINTS_ANNOTATION = 'interlink.io/managed-taints';

export interface NodeInput {
  nodeName: string;
  resources: { cpu: string; memory: string; pods: string; accelerators: AcceleratorSpec[] };
  nodeLabels: Record<string, string>;
  nodeTaints: NodeTaintSpec[];
  kubeletPort: number;
  /** InternalIP of the node; omitted from addresses when unknown. */
  internalIp?: string | undefined;
  /** Our release (package version), appended to the kubelet version. */
  version: string;
  operatingSystem?: string;
  architecture?: string;
}

/** Label values are at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric. */
export function labelValue(raw: string): string {
  const cleaned = raw
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned;
}

/** `nvidia.com/gpu` → `nvidia.com/gpu.product`, the label GPU feature discovery uses for the model. */
export function modelLabelKey(resourceType: string): string {
  return `${resourceType}.product`;
}

export function nodeLabels(
  input: Pick<NodeInput, 'nodeName' | 'nodeLabels' | 'resources'>,
): Record<string, string> {
  const labels: Record<string, string> = {
    type: 'virtual-kubelet',
    'kubernetes.io/role': 'agent',
    'kubernetes.io/hostname': input.nodeName,
    'kubernetes.io/os': 'linux',
    'node.kubernetes.io/exclude-from-external-load-balancers': 'true',
  };
  for (const acc of input.resources.accelerators) {
    const model = labelValue(acc.model);
    if (model) labels[modelLabelKey(acc.resourceType)] = model;
  }
  // Configured labels win: an operator may need to override any of ours.
  return { ...labels, ...input.nodeLabels };
}

/** Our taints: the fixed one, the configured ones, then the plugin's; later ones replace earlier of the same key+effect. */
export function nodeTaints(configured: NodeTaintSpec[], ping?: PingResponse): V1Taint[] {
  const all: V1Taint[] = [
    DEFAULT_TAINT,
    ...configured.map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
    ...(ping?.taints ?? []).map((t) => ({ key: t.key, value: t.value ?? '', effect: t.effect })),
  ];
  const byKey = new Map<string, V1Taint>();
  for (const t of all) byKey.set(`${t.key}:${t.effect}`, t);
  return [...byKey.values()];
}

/**
 * The node's taint list after we apply ours: others' taints (the node-lifecycle
 * controller's `node.kubernetes.io/unreachable`, an operator's cordon) are kept;
 * taints with a key we manage now or managed before are replaced by ours.
 */
export function mergeTaints(
  existing: V1Taint[] | undefined,
  ours: V1Taint[],
  previouslyManaged: string[],
): V1Taint[] {
  const managed = new Set([...ours.map((t) => t.key), ...previouslyManaged]);
  const others = (existing ?? []).filter((t) => !managed.has(t.key));
  return [...others, ...ours.map((t) => ({ key: t.key, value: t.value, effect: t.effect }))];
}

export function parseManagedTaints(annotation: string | undefined): string[] {
  if (!annotation) return [];
  return annotation.split(',').filter((k) => k !== '');
}

/**
 * Capacity (= allocatable: nothing is reserved on a virtual node). The plugin's numbers
 * replace the configured ones where it gives them; an accelerator it reports with
 * `available` replaces the configured count of the same type.
 */
export function nodeCapacity(resources: NodeInput['resources'], ping?: PingResponse): Record<string, string> {
  const r = ping?.resources;
  const out: Record<string, string> = {
    cpu: nonEmpty(r?.cpu) ?? resources.cpu,
    memory: nonEmpty(r?.memory) ?? resources.memory,
    pods: nonEmpty(r?.pods) ?? resources.pods,
  };
  for (const acc of resources.accelerators) out[acc.resourceType] = String(acc.available);
  for (const acc of r?.accelerators ?? []) out[acc.resourceType] = String(acc.available);
  return out;
}

const nonEmpty = (s: string | undefined) => (s === undefined || s.trim() === '' ? undefined : s.trim());

export function nodeAddresses(input: Pick<NodeInput, 'nodeName' | 'internalIp'>): V1NodeAddress[] {
  const addrs: V1NodeAddress[] = [];
  if (input.internalIp) addrs.push({ type: 'InternalIP', address: input.internalIp });
  addrs.push({ type: 'Hostname', address: input.nodeName });
  return addrs;
}

export function nodeInfo(
  input: Pick<NodeInput, 'version' | 'operatingSystem' | 'architecture'>,
): V1NodeSystemInfo {
  const kubeletVersion = `${KUBE_VERSION}-interlink-${input.version}`;
  return {
    architecture: input.architecture ?? 'amd64',
    operatingSystem: input.operatingSystem ?? 'linux',
    kubeletVersion,
    kubeProxyVersion: kubeletVersion,
    containerRuntimeVersion: `interlink://${input.version}`,
    osImage: 'interLink virtual node',
    kernelVersion: '',
    bootID: '',
    machineID: '',
    systemUUID: '',
  };
}

/** The whole Node as first created (conditions come from conditions.ts). */
export function buildNode(input: NodeInput, ping?: PingResponse): V1Node {
  const taints = nodeTaints(input.nodeTaints, ping);
  const capacity = nodeCapacity(input.resources, ping);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: input.nodeName,
      labels: nodeLabels(input),
      annotations: { [MANAGED_TAINTS_ANNOTATION]: taints.map((t) => t.key).join(',') },
    },
    spec: { taints },
    status: {
      capacity,
      allocatable: { ...capacity },
      addresses: nodeAddresses(input),
      daemonEndpoints: { kubeletEndpoint: { Port: input.kubeletPort } },
      nodeInfo: nodeInfo(input),
    },
  };
}

/**
 * A merge patch of the Node's metadata and spec: our labels and the merged taint list,
 * guarded by resourceVersion (the taint list is replaced whole, so a concurrent change by
 * someone else must make this fail with 409 rather than be lost).
 */
export function nodeSpecPatch(
  current: V1Node,
  input: NodeInput,
  ping?: PingResponse,
): Record<string, unknown> | undefined {
  const ours = nodeTaints(input.nodeTaints, ping);
  const previously = parseManagedTaints(current.metadata?.annotations?.[MANAGED_TAINTS_ANNOTATION]);
  const taints = mergeTaints(current.spec?.taints, ours, previously);
  const labels = nodeLabels(input);
  const annotation = ours.map((t) => t.key).join(',');
  const labelsChanged = Object.entries(labels).some(([k, v]) => current.metadata?.labels?.[k] !== v);
  const taintsChanged = !sameTaints(current.spec?.taints ?? [], taints);
  const annotationChanged = current.metadata?.annotations?.[MANAGED_TAINTS_ANNOTATION] !== annotation;
  if (!labelsChanged && !taintsChanged && !annotationChanged) return undefined;
  return {
    metadata: {
      resourceVersion: current.metadata?.resourceVersion,
      labels,
      annotations: { [MANAGED_TAINTS_ANNOTATION]: annotation },
    },
    spec: { taints },
  };
}

function sameTaints(a: V1Taint[], b: V1Taint[]): boolean {
  const key = (t: V1Taint) => `${t.key}=${t.value ?? ''}:${t.effect}`;
  const sa = a.map(key).sort();
  const sb = b.map(key).sort();
  return sa.length === sb.length && sa.every((k, i) => k === sb[i]);
}

/**
 * Capacity fields for a status patch: our values, plus `null` for resources we no longer
 * offer (an accelerator the plugin stopped reporting), which a merge patch deletes.
 */
export function capacityPatch(
  current: Record<string, string> | undefined,
  desired: Record<string, string>,
): Record<string, string | null> {
  const out: Record<string, string | null> = { ...desired };
  for (const k of Object.keys(current ?? {})) if (!(k in desired)) out[k] = null;
  return out;
}
