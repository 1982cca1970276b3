/**
 * The docker plugin's prober: runs the readiness, liveness and startup probes and the
 * postStart hooks of every running container of the plugin's pods, with one Clock timer
 * for all of them (set to the earliest due probe), and overlays the results on the
 * container statuses the plugin reports (ready, started, restarts, probeEvents).
 *
 * The plugin tells it what runs (`observe`, from each status poll: level-triggered, so a
 * restarted plugin picks its pods up again on the next poll) and forgets a pod on delete
 * (`drop`). The decisions are the pure state machine of core/pod/probes.ts; running a
 * handler and killing a container are the plugin's (ProberIO), so this file does no I/O.
 *
 * A container instance is (id, startedAt): when Docker restarts a container, or the prober
 * has it restarted, its probes and postStart hook start over, as the kubelet's do. What the
 * prober counted (its own restarts, the Events) lives in memory: a restarted plugin reports
 * Docker's RestartCount again, which the VK never lets shrink.
 */
import type { Clock, Timer } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import { ProbeEventTally } from '../../core/pod/probe-events.ts';
import {
  type ContainerProbes,
  clip,
  dueProbes,
  failureMessage,
  type Hooks,
  initialProbes,
  nextDue,
  type ProbeHandler,
  type ProbeKind,
  type ProbeSpec,
  recordResult,
  verdictOf,
} from '../../core/pod/probes.ts';
import type { ContainerState, ContainerStatus } from '../../wire/k8s.ts';

/** Where a pod's ports are reached from the plugin: an address, or only inside the pod. */
export type PodAddress = { host: string } | { inside: true };

export interface HandlerOutcome {
  ok: boolean;
  /** Why it failed, for the Event (may hold the probe's own output, never logged). */
  detail: string;
}

export interface ProberIO {
  /** Run one probe or hook handler against a container. Never throws. */
  run(containerId: string, address: PodAddress, h: ProbeHandler, timeoutMs: number): Promise<HandlerOutcome>;
  /**
   * Kill a container (a failed liveness or startup probe, a failed postStart hook) and start
   * it again when `restart`; resolves with the terminated state the killed instance ended in.
   */
  kill(
    uid: string,
    containerId: string,
    restart: boolean,
    graceSeconds: number,
  ): Promise<ContainerState['terminated'] | undefined>;
}

/** One running container as the plugin observed it. */
export interface Watched {
  name: string;
  id: string;
  /** Docker's StartedAt of this instance (its identity, with the id). */
  startedAt: string;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  /** The pod's terminationGracePeriodSeconds: the stop's grace when a probe kills it. */
  graceSeconds: number;
  probes: ProbeSpec[];
  hooks: Hooks;
  address: PodAddress;
}

type HookState = 'pending' | 'running' | 'done';

interface Instance {
  w: Watched;
  cp: ContainerProbes;
  postStart: HookState;
  busy: Set<ProbeKind>;
  killing: boolean;
}

interface Restarted {
  count: number;
  lastState: NonNullable<ContainerState['terminated']>;
}

const POST_START_TIMEOUT_MS = 2 * 60_000;

export class DockerProber {
  readonly #clock: Clock;
  readonly #io: ProberIO;
  readonly #log: Logger;
  /** uid → container name → running instance. */
  readonly #pods = new Map<string, Map<string, Instance>>();
  /** `${uid}/${name}` → restarts the prober caused. */
  readonly #restarts = new Map<string, Restarted>();
  /** `${uid}/${name}` → killed under restartPolicy Never: the message its terminated state shows. */
  readonly #killedFor = new Map<string, string>();
  readonly #events = new ProbeEventTally();
  #timer: { at: number; t: Timer } | undefined;
  #closed = false;

  constructor(deps: { clock: Clock; io: ProberIO; log: Logger }) {
    this.#clock = deps.clock;
    this.#io = deps.io;
    this.#log = deps.log;
  }

  /** Containers of `uid` now running (those with neither probes nor hooks may be left out). */
  observe(uid: string, running: Watched[]): void {
    if (this.#closed) return;
    const before = this.#pods.get(uid) ?? new Map<string, Instance>();
    const now = new Map<string, Instance>();
    for (const w of running) {
      if (w.probes.length === 0 && !w.hooks.postStart) continue;
      const old = before.get(w.name);
      if (old && old.w.id === w.id && old.w.startedAt === w.startedAt) {
        old.w = { ...w };
        now.set(w.name, old);
        continue;
      }
      const started = Date.parse(w.startedAt);
      now.set(w.name, {
        w: { ...w },
        cp: initialProbes(
          w.probes,
          Number.isFinite(started) ? Math.min(started, this.#clock.now()) : this.#clock.now(),
        ),
        postStart: w.hooks.postStart ? 'pending' : 'done',
        busy: new Set(),
        killing: false,
      });
    }
    if (now.size > 0) this.#pods.set(uid, now);
    else this.#pods.delete(uid);
    this.#wake();
  }

  drop(uid: string): void {
    this.#pods.delete(uid);
    this.#events.drop(`${uid}/`);
    for (const m of [this.#restarts, this.#killedFor])
      for (const k of m.keys()) if (k.startsWith(`${uid}/`)) m.delete(k);
  }

  /** The status of one container of `uid` with what the prober knows added. Pure over the prober's state. */
  overlay(uid: string, s: ContainerStatus): ContainerStatus {
    const key = `${uid}/${s.name}`;
    const out: ContainerStatus = { ...s };
    const inst = this.#pods.get(uid)?.get(s.name);
    if (inst && s.state?.running && s.containerID === `docker://${inst.w.id}`) {
      const v = verdictOf(inst.w.probes, inst.cp);
      const hooked = inst.postStart === 'done';
      out.started = (s.started ?? true) && hooked && v.started;
      out.ready = (s.ready ?? true) && hooked && v.ready;
    }
    const r = this.#restarts.get(key);
    if (r) {
      out.restartCount = (s.restartCount ?? 0) + r.count;
      if (!s.lastState?.terminated) out.lastState = { terminated: { ...r.lastState } };
    }
    const why = this.#killedFor.get(key);
    if (why && s.state?.terminated) out.state = { terminated: { ...s.state.terminated, message: why } };
    const events = this.#events.get(key);
    if (events) out.probeEvents = events;
    return out;
  }

  /** Probes and hooks in flight or due (diagnostics, tests). */
  get watching(): number {
    let n = 0;
    for (const m of this.#pods.values()) n += m.size;
    return n;
  }

  close(): void {
    this.#closed = true;
    this.#timer?.t.cancel();
    this.#timer = undefined;
    this.#pods.clear();
  }

  // ---- scheduling ---------------------------------------------------------------------

  /** Run what is due now, then set the one timer to the earliest next due time. */
  #wake(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    let earliest: number | undefined;
    for (const [uid, m] of this.#pods) {
      for (const inst of m.values()) {
        if (inst.killing) continue;
        if (inst.postStart === 'pending') {
          void this.#postStart(uid, inst);
          continue;
        }
        if (inst.postStart !== 'done') continue;
        for (const kind of dueProbes(inst.w.probes, inst.cp, now))
          if (!inst.busy.has(kind)) void this.#probe(uid, inst, kind);
        const at = nextDue(inst.w.probes, inst.cp);
        if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
      }
    }
    if (earliest === undefined || earliest <= now) {
      // Nothing due, or only probes in flight (their completion wakes us again).
      if (earliest === undefined) {
        this.#timer?.t.cancel();
        this.#timer = undefined;
      }
      return;
    }
    if (this.#timer && this.#timer.at === earliest) return;
    this.#timer?.t.cancel();
    const at = earliest;
    this.#timer = {
      at,
      t: this.#clock.setTimer(() => {
        if (this.#timer?.at === at) this.#timer = undefined;
        this.#wake();
      }, at - now),
    };
  }

  async #probe(uid: string, inst: Instance, kind: ProbeKind): Promise<void> {
    const spec = inst.w.probes.find((p) => p.kind === kind);
    if (!spec) return;
    inst.busy.add(kind);
    let outcome: HandlerOutcome;
    try {
      outcome = await this.#io.run(inst.w.id, inst.w.address, spec.handler, spec.timeoutMs);
    } catch (err) {
      outcome = { ok: false, detail: (err as Error).message };
    } finally {
      inst.busy.delete(kind);
    }
    if (this.#pods.get(uid)?.get(inst.w.name) !== inst) return;
    inst.cp = recordResult(inst.w.probes, inst.cp, kind, outcome.ok, this.#clock.now());
    if (!outcome.ok)
      this.#events.add(`${uid}/${inst.w.name}`, 'Unhealthy', failureMessage(kind, outcome.detail));
    const v = verdictOf(inst.w.probes, inst.cp);
    if (v.kill) await this.#kill(uid, inst, `failed ${v.kill.kind} probe`);
    this.#wake();
  }

  async #postStart(uid: string, inst: Instance): Promise<void> {
    const h = inst.w.hooks.postStart;
    if (!h) return;
    inst.postStart = 'running';
    let outcome: HandlerOutcome;
    try {
      outcome = await this.#io.run(inst.w.id, inst.w.address, h, POST_START_TIMEOUT_MS);
    } catch (err) {
      outcome = { ok: false, detail: (err as Error).message };
    }
    if (this.#pods.get(uid)?.get(inst.w.name) !== inst) return;
    if (outcome.ok) {
      inst.postStart = 'done';
      // Probe delays count from when the container may be probed at all.
      inst.cp = initialProbes(inst.w.probes, this.#clock.now());
    } else {
      this.#events.add(
        `${uid}/${inst.w.name}`,
        'FailedPostStartHook',
        `PostStartHook failed: ${clip(outcome.detail)}`,
      );
      await this.#kill(uid, inst, 'failed its postStart hook');
    }
    this.#wake();
  }

  /** Kill the instance; restart it unless the pod's restartPolicy is Never (kubelet semantics). */
  async #kill(uid: string, inst: Instance, why: string): Promise<void> {
    if (inst.killing) return;
    inst.killing = true;
    const key = `${uid}/${inst.w.name}`;
    const restart = inst.w.restartPolicy !== 'Never';
    this.#events.add(
      key,
      'Killing',
      `Container ${inst.w.name} ${why}${restart ? ', will be restarted' : ''}`,
      'Normal',
    );
    // Set before the stop: the first status that shows it terminated must say why (the VK
    // keeps a terminated state as it first saw it).
    if (!restart) this.#killedFor.set(key, `The container was killed: it ${why}`);
    try {
      const last = await this.#io.kill(uid, inst.w.id, restart, inst.w.graceSeconds);
      if (restart) {
        const r = this.#restarts.get(key);
        const lastState = last ?? { exitCode: 137, reason: 'Error' };
        this.#restarts.set(key, { count: (r?.count ?? 0) + 1, lastState });
      }
    } catch (err) {
      this.#killedFor.delete(key);
      this.#log.warn({ uid, container: inst.w.name, err }, 'killing a container for its probe failed');
      // Let the next observation retry with a fresh instance.
      inst.killing = false;
      this.#pods.get(uid)?.delete(inst.w.name);
    }
  }
}
