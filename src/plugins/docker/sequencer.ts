/**
 * The docker plugin's sequencing loop: all of a pod's containers are created up front, and
 * this loop starts them in the pod's order (infra, init containers one by one, sidecars
 * beside them, then the apps), level-triggered: a poll, only while some pod still has
 * containers to start, compares Docker's state with that order and starts what is due. A
 * plugin killed mid-sequence resumes from the container labels alone.
 *
 * A container is started at most once by this plugin (issue #11): every `docker start`
 * happens under the pod's lock, is decided from a `docker inspect` made under that same
 * lock (never from an observation taken before waiting for it — a round inspects all
 * pending pods at once and then queues for each lock, while a create may start the same
 * containers), only for containers Docker shows as never started, and never twice for one
 * id in this process. Restarts after that are Docker's own (its restart policy, counted
 * in RestartCount).
 */
import type { Clock, Timer } from '../../core/clock.ts';
import type { KeyedLock } from '../../core/keyed-lock.ts';
import type { Logger } from '../../core/logger.ts';
import { startArgs } from './argv.ts';
import type { DockerCli } from './cli.ts';
import type { DockerConfig } from './config.ts';
import { observePods } from './inspect.ts';
import { type ObservedPod, sequencing } from './status.ts';
import { mountRefusal } from './volumes-io.ts';

export interface SequencerDeps {
  cli: DockerCli;
  log: Logger;
  clock: Clock;
  locks: KeyedLock;
  /** reconcileIntervalMs: the poll while a pod has containers to start; hostPathRoots. */
  cfg: Pick<DockerConfig, 'reconcileIntervalMs' | 'hostPathRoots'>;
  /** Where a pod's files live: a container's mounts must still resolve under it to start. */
  podDir(uid: string): string;
  /** Every container id of the pods named (pod-index.ts). */
  idsOf(uids: string[]): string[];
  /** Nothing of this pod may start: it is not indexed, its create or its delete is under way. */
  blocked(uid: string): boolean;
}

export class Sequencer {
  /** Container ids this process has run `docker start` for (at most once each). */
  readonly started = new Set<string>();
  /** Containers refused a start (a mount no longer safe), with the reason their status shows. */
  readonly refused = new Map<string, string>();
  readonly #d: SequencerDeps;
  /** Pods with containers still to start: polled by the loop. */
  readonly #pending = new Set<string>();
  #timer: Timer | undefined;
  #ticking = false;
  #closed = false;

  constructor(d: SequencerDeps) {
    this.#d = d;
  }

  /** Inspect and group by pod, with the containers refused a start marked as such. */
  observe(ids: string[]): Promise<Map<string, ObservedPod>> {
    return observePods(this.#d.cli, ids, this.refused);
  }

  /** Every container of the pod exists: start what is due now rather than at the next poll. Caller holds the pod's lock. */
  async startNow(uid: string): Promise<void> {
    this.#pending.add(uid);
    const observed = (await this.observe(this.#d.idsOf([uid]))).get(uid);
    await this.advance(uid, observed, true);
    this.schedule();
  }

  /** The pod has containers to start: the next round looks at it. */
  add(uid: string): void {
    this.#pending.add(uid);
  }

  /** Another path (a create or a delete being carried out) owns the pod now. */
  drop(uid: string): void {
    this.#pending.delete(uid);
  }

  /** The pod's containers are removed: forget them. */
  forget(uid: string, ids: string[]): void {
    for (const id of ids) {
      this.started.delete(id);
      this.refused.delete(id);
    }
    this.#pending.delete(uid);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** No pod has containers left to start and no round runs. */
  get idle(): boolean {
    return this.#pending.size === 0 && !this.#ticking;
  }

  /**
   * Start what the pod's order says is due. Caller holds the pod's lock. Unless `underLock`
   * says it was inspected while holding it, `observed` may be stale (taken before the lock
   * was granted): it only tells whether anything might be due; what is started is decided
   * again from an inspect made now, under the lock.
   */
  async advance(uid: string, observed: ObservedPod | undefined, underLock = false): Promise<void> {
    if (this.#d.blocked(uid) || !observed) {
      this.#pending.delete(uid);
      return;
    }
    let seq = sequencing(observed);
    if (!underLock && (seq.startInfra || seq.start.length > 0)) {
      const fresh = (await this.observe(this.#d.idsOf([uid]))).get(uid);
      if (!fresh) {
        this.#pending.delete(uid);
        return;
      }
      observed = fresh;
      seq = sequencing(fresh);
    }
    if (seq.startInfra && observed.infra) await this.#startOnce([observed.infra.id], uid);
    if (seq.start.length > 0) {
      const safe = await this.#safeToStart(uid, observed, seq.start);
      await this.#startOnce(safe, uid);
      // A refusal fails that container; the next round sees it so and sequences accordingly.
      if (safe.length < seq.start.length) seq.pending = true;
    }
    if (seq.pending) this.#pending.add(uid);
    else this.#pending.delete(uid);
  }

  /** The ids whose mounts still resolve inside the pod's roots; the others are refused. */
  async #safeToStart(uid: string, observed: ObservedPod, start: string[]): Promise<string[]> {
    const safe: string[] = [];
    const byId = new Map([...observed.inits, ...observed.apps].map((o) => [o.id, o]));
    for (const id of start) {
      const o = byId.get(id);
      const why = o
        ? await mountRefusal(this.#d.podDir(uid), o.ins.HostConfig.Mounts, this.#d.cfg.hostPathRoots)
        : undefined;
      if (why === undefined) safe.push(id);
      else {
        this.refused.set(id, why);
        this.#d.log.warn({ uid, container: o?.name }, `container not started: ${why}`);
      }
    }
    return safe;
  }

  /** `docker start` of the ids never started by this process; each id at most once. */
  async #startOnce(candidates: string[], uid: string): Promise<void> {
    const ids = candidates.filter((id) => !this.started.has(id));
    if (ids.length === 0) return;
    for (const id of ids) this.started.add(id);
    const r = await this.#d.cli.run(startArgs(ids));
    // A container that cannot start shows it in its state (StartError); the status says so.
    if (r.code !== 0) this.#d.log.info({ uid, stderr: r.stderr.trim().slice(0, 500) }, 'docker start failed');
  }

  /** Arm the next round, unless one is armed or running or nothing is pending. */
  schedule(): void {
    if (this.#closed || this.#timer || this.#ticking || this.#pending.size === 0) return;
    this.#timer = this.#d.clock.setTimer(() => {
      this.#timer = undefined;
      void this.#tick();
    }, this.#d.cfg.reconcileIntervalMs);
  }

  /** One round: a single inspect for all pending pods, then per-pod starts. */
  async #tick(): Promise<void> {
    this.#ticking = true;
    try {
      const uids = [...this.#pending];
      const observed = await this.observe(this.#d.idsOf(uids));
      await Promise.all(uids.map((u) => this.#d.locks.run(u, () => this.advance(u, observed.get(u)))));
    } catch (err) {
      this.#d.log.warn({ err }, 'sequencing round failed; retrying');
    } finally {
      this.#ticking = false;
      this.schedule();
    }
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }
}
