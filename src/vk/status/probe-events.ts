/**
 * The Events of probes and lifecycle hooks a plugin reports in the additive `probeEvents`
 * field of its container statuses (src/wire/k8s.ts). The plugin's counts only grow while it
 * runs; the VK remembers the last count it saw per (container, reason, message) and records
 * one Event when a count grew since the last poll. Repeats therefore cost one aggregated
 * Event write per poll at most (the recorder patches `count` of the existing Event), never one
 * per probe run. Pure.
 */
import type { DeleteAnswer, PodStatus } from '../../wire/interlink.ts';
import type { StatusEvent } from './map.ts';

export function probeEventsOf(
  seen: Map<string, number>,
  reported: PodStatus,
): { events: StatusEvent[]; seen: Map<string, number> } {
  const next = new Map<string, number>();
  const events: StatusEvent[] = [];
  const scan = (list: PodStatus['containers'], field: string) => {
    for (const c of list ?? []) {
      for (const e of c.probeEvents ?? []) {
        const key = `${field}{${c.name}}\n${e.reason}\n${e.message}`;
        next.set(key, e.count);
        if (e.count > (seen.get(key) ?? 0))
          events.push({
            type: e.type ?? 'Warning',
            reason: e.reason,
            message: e.message,
            fieldPath: `${field}{${c.name}}`,
          });
      }
    }
  };
  scan(reported.initContainers, 'spec.initContainers');
  scan(reported.containers, 'spec.containers');
  // Keys the plugin stopped reporting keep their count: a report that drops and re-adds an
  // entry with a lower count (a restarted plugin) is not a new failure until it passes it.
  for (const [k, v] of seen) if (!next.has(k)) next.set(k, v);
  return { events, seen: next };
}

/**
 * The Events of a `/delete` answer (e.g. a failed preStop hook): each once, since no status
 * poll follows a delete. Pure.
 */
export function deleteEventsOf(answer: DeleteAnswer | undefined): StatusEvent[] {
  return (answer?.containers ?? []).flatMap((c) =>
    c.probeEvents.map((e) => ({
      type: e.type ?? 'Warning',
      reason: e.reason,
      message: e.message,
      fieldPath: `spec.containers{${c.name}}`,
    })),
  );
}
