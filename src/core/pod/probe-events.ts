/**
 * The probe and hook Events a plugin has seen per container, as the additive `probeEvents`
 * field of the container status carries them (src/wire/k8s.ts ProbeEvent). Repeats of one
 * (reason, message) only raise a count, and a container keeps at most `max` distinct
 * entries (the oldest is dropped), so a probe failing forever costs constant memory and a
 * bounded status. Not thread-safe by design: one owner (the plugin's prober) mutates it.
 */
import type { ProbeEvent } from '../../wire/k8s.ts';

export class ProbeEventTally {
  readonly #byKey = new Map<string, Map<string, ProbeEvent>>();
  readonly #max: number;

  constructor(max = 8) {
    this.#max = max;
  }

  /** Count one occurrence for the container `key` (e.g. `<pod uid>/<container>`). */
  add(key: string, reason: string, message: string, type: 'Normal' | 'Warning' = 'Warning'): void {
    let m = this.#byKey.get(key);
    if (!m) {
      m = new Map();
      this.#byKey.set(key, m);
    }
    const id = `${reason}\n${message}`;
    const e = m.get(id);
    if (e) {
      e.count += 1;
      // Most recent last: re-insert so the oldest is the one dropped.
      m.delete(id);
      m.set(id, e);
      return;
    }
    m.set(id, { reason, message, type, count: 1 });
    while (m.size > this.#max) m.delete(m.keys().next().value as string);
  }

  /** A copy of the entries of a container (undefined when none). */
  get(key: string): ProbeEvent[] | undefined {
    const m = this.#byKey.get(key);
    return m && m.size > 0 ? [...m.values()].map((e) => ({ ...e })) : undefined;
  }

  /** Forget every container whose key starts with `prefix` (a deleted pod). */
  drop(prefix: string): void {
    for (const k of this.#byKey.keys()) if (k.startsWith(prefix)) this.#byKey.delete(k);
  }
}

/** The reason of a failed preStop hook's Event, as the kubelet writes it. */
export const FAILED_PRESTOP_HOOK = 'FailedPreStopHook';

/** Whether a probe event is a failed preStop hook (which a delete's answer must carry). */
export const isPreStopFailure = (e: ProbeEvent): boolean => e.reason === FAILED_PRESTOP_HOOK;
