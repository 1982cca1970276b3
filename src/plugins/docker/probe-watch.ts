/**
 * What the docker prober watches in one pod: its running app containers with their probes
 * and hooks, from the pod spec the status call carries and Docker's observation. Pure.
 */
import { hooksOf, probesOf } from '../../core/pod/probes.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { PodAddress, Watched } from './prober.ts';
import type { ObservedPod } from './status.ts';

export function watchedOf(
  pod: Pod,
  observed: ObservedPod,
  address: PodAddress,
  defaultGrace: number,
): Watched[] {
  const spec = (pod.spec ?? {}) as { containers?: unknown[]; terminationGracePeriodSeconds?: unknown };
  const byName = new Map<string, unknown>();
  for (const c of spec.containers ?? []) {
    const name = (c as { name?: unknown })?.name;
    if (typeof name === 'string') byName.set(name, c);
  }
  const g = spec.terminationGracePeriodSeconds;
  const graceSeconds = typeof g === 'number' && Number.isFinite(g) && g >= 0 ? g : defaultGrace;
  const out: Watched[] = [];
  for (const o of observed.apps) {
    if (!o.ins.State.Running || o.ins.State.Restarting) continue;
    const c = byName.get(o.name);
    if (c === undefined) continue;
    const probes = probesOf(c);
    const hooks = hooksOf(c);
    if (probes.length === 0 && !hooks.postStart) continue;
    out.push({
      name: o.name,
      id: o.id,
      startedAt: o.ins.State.StartedAt,
      restartPolicy: o.restartPolicy,
      graceSeconds,
      probes,
      hooks,
      address,
    });
  }
  return out;
}
