/**
 * Our additive `GET /stats/summary` (API → plugin, VK → API): a kubelet stats/v1alpha1
 * Summary. Only the fields `kubectl top` and the VK's `/metrics/resource` read are described;
 * every object is loose, so a plugin may send the rest of the kubelet document (network,
 * filesystems, …) and it passes through unchanged.
 */
import { z } from 'zod';

const Time = z.string().describe('RFC 3339 time the value was measured');

export const CpuStats = z.looseObject({
  time: Time.optional(),
  /** Current rate, nanocores (1e9 = one busy core). */
  usageNanoCores: z.number().nonnegative().optional(),
  /** Cumulative CPU time, core-nanoseconds: what `/metrics/resource` reports. */
  usageCoreNanoSeconds: z.number().nonnegative().optional(),
});

export const MemoryStats = z.looseObject({
  time: Time.optional(),
  workingSetBytes: z.number().nonnegative().optional(),
  usageBytes: z.number().nonnegative().optional(),
  rssBytes: z.number().nonnegative().optional(),
});

export const ContainerStats = z.looseObject({
  name: z.string(),
  startTime: z.string().optional(),
  cpu: CpuStats.optional(),
  memory: MemoryStats.optional(),
});

export const PodStats = z.looseObject({
  podRef: z.looseObject({ name: z.string(), namespace: z.string(), uid: z.string() }),
  startTime: z.string().optional(),
  containers: z.array(ContainerStats).optional(),
  cpu: CpuStats.optional(),
  memory: MemoryStats.optional(),
});

export const StatsSummary = z.looseObject({
  node: z.looseObject({
    nodeName: z.string().optional(),
    startTime: z.string().optional(),
    cpu: CpuStats.optional(),
    memory: MemoryStats.optional(),
  }),
  pods: z.array(PodStats),
});
export type StatsSummary = z.infer<typeof StatsSummary>;
export type PodStats = z.infer<typeof PodStats>;
export type ContainerStats = z.infer<typeof ContainerStats>;
