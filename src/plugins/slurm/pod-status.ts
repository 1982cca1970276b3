/** The status call of the slurm plugin: job directories, then one squeue (and sacct) for all. */

import { stat } from 'node:fs/promises';
import { preStopHooks } from '../../core/pod/probes.ts';
import type { PingResponse, PodStatus } from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { CallContext } from '../sdk/types.ts';
import type { SlurmDeps } from './deps.ts';
import { type SlurmJob, usableNode } from './parse.ts';
import { withProbes } from './probes.ts';
import { type JobObservation, podStatus } from './status.ts';

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Map with at most `n` calls in flight. */
async function mapLimit<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

export async function statusOf(d: SlurmDeps, pods: Pod[], ctx: CallContext): Promise<PodStatus[]> {
  const found = await mapLimit(pods, 32, async (p) => {
    const dir = d.dirOf(p.metadata.namespace, p.metadata.uid);
    if (d.cfg.keepJobDirs && (await exists(dir.file('deleted')))) return undefined;
    const rec = await dir.record();
    return rec ? { dir, rec, pod: p } : undefined;
  });
  const live = found.filter((x): x is NonNullable<typeof x> => x !== undefined);
  if (live.length === 0) return [];
  const ids = [...new Set(live.map((x) => x.rec.jobId))];
  let jobs = new Map<string, SlurmJob>();
  let answered = true;
  try {
    jobs = await d.cli.queue(ids);
  } catch (err) {
    answered = false;
    ctx.log.warn({ err }, 'squeue failed: reporting from the job directories only');
  }
  const missing = ids.filter((id) => !jobs.has(id));
  if (answered && missing.length > 0) {
    try {
      for (const [id, j] of await d.cli.accounting(missing)) jobs.set(id, j);
    } catch (err) {
      ctx.log.warn({ err }, 'sacct failed: finished jobs are reported from their exit-code files');
    }
  }
  const stamp = new Date(d.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return mapLimit(live, 32, async ({ dir, rec, pod }) => {
    const files = new Map(
      await Promise.all(rec.containers.map(async (c) => [c.name, await dir.containerFiles(c.name)] as const)),
    );
    const [restarts, jobExit] = await Promise.all([dir.readInt('restarts'), dir.readInt('job.exit')]);
    const job = jobs.get(rec.jobId);
    const obs: JobObservation = {
      slurmAnswered: answered,
      restarts: restarts ?? 0,
      files,
      now: stamp,
      ...(job ? { job } : {}),
      ...(jobExit !== undefined ? { jobExit } : {}),
    };
    const preStops = new Set(pod.spec ? preStopHooks(pod).keys() : []);
    return withProbes(podStatus(rec, obs), pod, (name) => dir.probeFiles(name), preStops);
  });
}

export async function pingSlurm(d: SlurmDeps): Promise<PingResponse> {
  const nodes = (await d.cli.nodes(d.cfg.partition)).filter(usableNode);
  const cpus = nodes.reduce((a, n) => a + n.cpus, 0);
  const mem = nodes.reduce((a, n) => a + n.memory, 0);
  const gpus = nodes.reduce((a, n) => a + n.gpus, 0);
  return {
    status: 'ok',
    resources: {
      cpu: String(cpus),
      memory: `${mem}Mi`,
      ...(d.cfg.maxPods ? { pods: d.cfg.maxPods } : {}),
      ...(gpus > 0 ? { accelerators: [{ resourceType: 'nvidia.com/gpu', available: gpus }] } : {}),
    },
    ...(d.cfg.taints.length > 0 ? { taints: d.cfg.taints } : {}),
  };
}
