/**
 * The kubelet `/stats/summary` document (stats/v1alpha1 Summary). The node part is ours
 * (name, start time); pod stats come from the plugin when it offers them. Pure.
 */

export interface Summary {
  node: { nodeName: string; startTime: string; [k: string]: unknown };
  pods: unknown[];
}

/** A well-formed summary with no measurements: what metrics pipelines expect from a node without stats. */
export function emptySummary(nodeName: string, startTime: Date): Summary {
  return { node: { nodeName, startTime: startTime.toISOString().replace(/\.\d{3}Z$/, 'Z') }, pods: [] };
}

/**
 * The plugin's summary with our node identity: its `node` fields are kept except the
 * name (the plugin may not know what the node is called), its `pods` when they are a list.
 * Anything not shaped like a summary yields `base`.
 */
export function mergeSummary(base: Summary, fromPlugin: unknown): Summary {
  if (!fromPlugin || typeof fromPlugin !== 'object' || Array.isArray(fromPlugin)) return base;
  const doc = fromPlugin as { node?: unknown; pods?: unknown };
  const node =
    doc.node && typeof doc.node === 'object' && !Array.isArray(doc.node)
      ? (doc.node as Record<string, unknown>)
      : {};
  const startTime =
    typeof node.startTime === 'string' && node.startTime !== '' ? node.startTime : base.node.startTime;
  return {
    node: { ...node, nodeName: base.node.nodeName, startTime },
    pods: Array.isArray(doc.pods) ? doc.pods : [],
  };
}
