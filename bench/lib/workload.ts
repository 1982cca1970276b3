/**
 * The benchmark's pods (pure): what a user of the virtual node would submit. They select
 * the virtual node and tolerate its taint; with the mock plugin, annotations set their run
 * time; with docker/slurm the container sleeps that long.
 */
import type { V1Job, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import type { BenchPlugin } from './options.ts';

/** The taint every interlink virtual node carries (src/vk/node/build.ts). */
export const VIRTUAL_NODE_TAINT = 'virtual-node.interlink/no-schedule';
export const RUN_LABEL = 'interlink.io/bench-run';

export interface WorkloadSpec {
  runId: string;
  namespace: string;
  nodeName: string;
  plugin: BenchPlugin;
  runTimeMs: number;
  startDelayMs: number;
  image: string;
  serviceAccountToken: boolean;
}

const goDuration = (ms: number) => `${ms}ms`;

function podMeta(w: WorkloadSpec): { labels: Record<string, string>; annotations: Record<string, string> } {
  const labels = { app: 'interlink-bench', [RUN_LABEL]: w.runId };
  const annotations: Record<string, string> =
    w.plugin === 'mock'
      ? {
          'mock.interlink.io/run-time': goDuration(w.runTimeMs),
          'mock.interlink.io/start-delay': goDuration(w.startDelayMs),
          'mock.interlink.io/log-lines': '0',
        }
      : {};
  return { labels, annotations };
}

function podSpec(w: WorkloadSpec): V1PodSpec {
  const seconds = Math.max(0, Math.ceil(w.runTimeMs / 1000));
  return {
    nodeSelector: { 'kubernetes.io/hostname': w.nodeName },
    tolerations: [{ key: VIRTUAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
    restartPolicy: 'Never',
    automountServiceAccountToken: w.serviceAccountToken,
    containers: [
      {
        name: 'main',
        image: w.image,
        ...(w.plugin === 'mock' ? {} : { command: ['sleep', String(seconds)] }),
      },
    ],
  };
}

/** Pod number `i` of the run. */
export function benchPod(w: WorkloadSpec, i: number): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `bench-${i}`, namespace: w.namespace, ...podMeta(w) },
    spec: podSpec(w),
  };
}

/** One Job running `completions` pods, all at once (parallelism = completions). */
export function benchJob(w: WorkloadSpec, completions: number): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'bench', namespace: w.namespace, labels: { [RUN_LABEL]: w.runId } },
    spec: {
      completions,
      parallelism: completions,
      // A failed pod is a figure to report, not a reason to stop the Job.
      backoffLimit: completions,
      template: { metadata: podMeta(w), spec: podSpec(w) },
    },
  };
}
