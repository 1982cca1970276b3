/**
 * The orphan sweep (DESIGN.md §3 "Backend jobs with no Pod are deleted"): backend pods that
 * no Pod on this node owns any more are deleted through the normal delete call.
 *
 * How orphans arise: a pod force-deleted while the VK was down; a VK killed while its backend
 * deletes were still queued (the Pod object is gone, the restarted VK never hears of it); a
 * create that finished after its Pod was deleted. None of them is ever seen by the pod
 * controller again, so only asking the backend (`GET /list`) finds them.
 *
 * Safety, in order: the first sweep waits for the pod controller's first full list; a UID is
 * deleted only after it was seen orphaned for `orphanGraceMs` (a create in flight, an
 * informer lagging behind the apiserver); UIDs the VK is busy with are skipped; and just
 * before deleting, the apiserver itself is asked (one GET, only for a candidate): a Pod with
 * that UID anywhere means "not an orphan". The sweep assumes the interLink API serves this
 * virtual node only (as interLink deploys it); the last check keeps pods of another node
 * behind the same API alive.
 *
 * A plugin (or API) that cannot list (interLink 0.6: 404/501) disables nothing else: the
 * sweep logs that once and keeps asking at the sweep interval, quietly.
 */
import { Counter, type Registry } from 'prom-client';
import { Backoff } from '../core/backoff.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { codeOf, ErrorCode } from '../errors/index.ts';
import type { BackendPod } from '../wire/interlink.ts';
import type { Pod } from '../wire/k8s.ts';
import { type EventRecorder, nodeRef } from './events.ts';
import type { InterlinkClient } from './interlink-client.ts';
import { httpStatusOf } from './kube.ts';
import { type Controller, controllerShell, type KubeClients, type PodLister } from './types.ts';

// ---- pure decision -----------------------------------------------------------------------

export interface JudgeInput {
  /** What the backend runs or holds (`GET /list`). */
  listed: readonly BackendPod[];
  /** UIDs that are not orphans: Pods of this node in the informer cache, pods the VK is busy with. */
  owned: ReadonlySet<string>;
  /** When each current candidate was first seen orphaned (ms). */
  firstSeen: ReadonlyMap<string, number>;
  now: number;
  graceMs: number;
}

export interface Judgement {
  /** The candidates after this sweep (UIDs owned again or no longer listed are forgotten). */
  firstSeen: Map<string, number>;
  /** Orphaned for at least the grace period: delete them. */
  due: BackendPod[];
  /** When the earliest candidate not yet due becomes due (ms), if any. */
  nextDueAt?: number;
}

/** Which backend pods are orphans due for deletion. Pure; does not mutate its input. */
export function judgeOrphans(input: JudgeInput): Judgement {
  const firstSeen = new Map<string, number>();
  const due: BackendPod[] = [];
  let nextDueAt: number | undefined;
  for (const p of input.listed) {
    if (input.owned.has(p.UID) || firstSeen.has(p.UID)) continue;
    const since = input.firstSeen.get(p.UID) ?? input.now;
    firstSeen.set(p.UID, since);
    const at = since + input.graceMs;
    if (at <= input.now) due.push(p);
    else if (nextDueAt === undefined || at < nextDueAt) nextDueAt = at;
  }
  return { firstSeen, due, ...(nextDueAt === undefined ? {} : { nextDueAt }) };
}

/**
 * The pod sent to the delete call for an orphan. Its Pod is gone (force-deleted, or deleted
 * before the backend confirmed), so nobody waits for a graceful stop: grace 0.
 */
export function orphanPod(p: BackendPod): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, uid: p.UID, deletionGracePeriodSeconds: 0 },
  } as Pod;
}

// ---- the controller ----------------------------------------------------------------------

export interface OrphanSweeperDeps {
  interlink: Pick<InterlinkClient, 'delete' | 'list'>;
  /** The informer cache of this node's pods. */
  pods: PodLister;
  /** Resolves once `pods` holds the first full list (the pod controller's `ready`). */
  podsReady: Promise<void>;
  /**
   * Whether the apiserver has a Pod with this UID (asked once per candidate, just before its
   * delete). Throws when it cannot tell (the candidate then waits for the next attempt).
   */
  podExists(namespace: string, name: string, uid: string, signal: AbortSignal): Promise<boolean>;
  /** UIDs the VK is creating or deleting right now; never judged orphans. Optional. */
  busy?: () => Iterable<string>;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  events?: EventRecorder;
  nodeName: string;
  /** Between two sweeps, ms. */
  intervalMs: number;
  /** How long a UID must stay orphaned before it is deleted, ms. */
  graceMs: number;
  /** Retry of a failed delete (default 1 s doubling to the sweep interval). */
  retry?: Backoff;
}

export interface OrphanSweeper extends Controller {
  /** One sweep now; resolves with the delay until the next one (tests). */
  sweepOnce(signal?: AbortSignal): Promise<number>;
  /** Resolves when every delete started so far has settled (tests). */
  idle(): Promise<void>;
}

const errMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The sweep's state and steps. One instance per controller; its maps are touched only from
 * the sweep loop and the deletes it starts (single-threaded, no locking needed).
 */
class Sweeper {
  private readonly deps: OrphanSweeperDeps;
  private readonly log: Logger;
  private readonly retry: Backoff;
  private readonly deleted: Counter;
  private firstSeen = new Map<string, number>();
  readonly deleting = new Map<string, Promise<void>>();
  /** Logged once per streak, so a missing /list or a down API does not flood the log. */
  private unsupported = false;
  private failing = false;
  /** Aborted when the controller's run signal is: ends deletes started by sweepOnce(). */
  readonly stopped = new AbortController();

  constructor(deps: OrphanSweeperDeps) {
    this.deps = deps;
    this.log = deps.logger;
    this.retry = deps.retry ?? new Backoff({ initialMs: 1_000, maxMs: Math.max(1_000, deps.intervalMs) });
    this.deleted = new Counter({
      name: 'interlink_vk_orphans_deleted_total',
      help: 'Backend pods deleted because no Pod on this node owned them any more',
      registers: [deps.registry],
    });
  }

  /** UIDs that are not orphans, read fresh each time (the informer and busy set move). */
  private owned(): Set<string> {
    const s = new Set<string>();
    for (const p of this.deps.pods.list()) if (p.metadata?.uid) s.add(p.metadata.uid);
    for (const uid of this.deps.busy?.() ?? []) s.add(uid);
    return s;
  }

  /** Deletes one due orphan, re-checking ownership before every attempt; retries until aborted. */
  async deleteOrphan(p: BackendPod, signal: AbortSignal): Promise<void> {
    const ref = { pod: `${p.namespace}/${p.name}`, uid: p.UID, jid: p.JID ?? undefined };
    for (let failures = 0; !signal.aborted; ) {
      if (this.owned().has(p.UID)) {
        this.log.info(ref, 'backend pod is owned again; not deleting it');
        this.firstSeen.delete(p.UID);
        return;
      }
      try {
        await this.deleteAttempt(p, ref, signal);
        return;
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        const wait = this.retry.delay(failures);
        this.log[failures < 3 ? 'info' : 'warn'](
          { ...ref, failures, retryInMs: wait, err: errMessage(err) },
          'deleting an orphaned backend pod failed; will retry',
        );
        await this.deps.clock.sleep(wait, signal).catch(() => {});
      }
    }
  }

  /** One attempt: the apiserver has the last word, then the backend delete. Throws to retry. */
  private async deleteAttempt(p: BackendPod, ref: object, signal: AbortSignal): Promise<void> {
    const { deps } = this;
    if (await deps.podExists(p.namespace, p.name, p.UID, signal)) {
      this.log.info(ref, 'the apiserver has a Pod with this UID; not an orphan, not deleting it');
      this.firstSeen.delete(p.UID);
      return;
    }
    await deps.interlink.delete(orphanPod(p), signal);
    this.deleted.inc();
    this.firstSeen.delete(p.UID);
    this.log.info(ref, 'orphaned backend pod deleted (no Pod on this node owns it)');
    deps.events?.normal(
      nodeRef(deps.nodeName),
      'OrphanDeleted',
      `Deleted backend pod ${p.namespace}/${p.name} (uid ${p.UID}): no Pod owns it any more`,
    );
  }

  /** The backend's pods, or undefined when they cannot be listed now (logged once per streak). */
  private async listBackend(signal: AbortSignal): Promise<BackendPod[] | undefined> {
    const { interlink } = this.deps;
    if (!interlink.list) {
      if (!this.unsupported) this.log.info('the interLink client cannot list backend pods: no orphan sweep');
      this.unsupported = true;
      return undefined;
    }
    try {
      return await interlink.list(signal);
    } catch (err) {
      const code = codeOf(err);
      if (code === ErrorCode.NOT_SUPPORTED || code === ErrorCode.NOT_FOUND) {
        if (!this.unsupported)
          this.log.info(
            { err: errMessage(err) },
            'the interLink API or its plugin cannot list backend pods (interLink 0.6?): no orphan sweep until it can',
          );
        this.unsupported = true;
      } else {
        this.log[this.failing ? 'debug' : 'warn'](
          { err: errMessage(err) },
          'orphan sweep: listing backend pods failed',
        );
        this.failing = true;
      }
      return undefined;
    }
  }

  /** One sweep: starts the deletes that are due; resolves with the delay until the next sweep. */
  async sweepOnce(signal: AbortSignal = this.stopped.signal): Promise<number> {
    const { deps } = this;
    const listed = await this.listBackend(signal);
    if (listed === undefined) return deps.intervalMs;
    if (this.unsupported) this.log.info('backend pods can be listed now: orphan sweep enabled');
    this.unsupported = false;
    this.failing = false;
    const now = deps.clock.now();
    const j = judgeOrphans({
      listed,
      owned: this.owned(),
      firstSeen: this.firstSeen,
      now,
      graceMs: deps.graceMs,
    });
    this.firstSeen = j.firstSeen;
    for (const p of j.due) {
      if (this.deleting.has(p.UID)) continue;
      const run = this.deleteOrphan(p, signal).finally(() => this.deleting.delete(p.UID));
      this.deleting.set(p.UID, run);
    }
    if (j.firstSeen.size > 0)
      this.log.debug({ candidates: j.firstSeen.size, due: j.due.length }, 'orphan sweep: candidates');
    return j.nextDueAt === undefined ? deps.intervalMs : Math.min(deps.intervalMs, j.nextDueAt - now);
  }

  /** The controller's body: first sweep after the pod informer's first list, then every interval. */
  async run(signal: AbortSignal, markReady: () => void): Promise<void> {
    const onAbort = () => this.stopped.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    markReady(); // the sweep never holds the VK's readiness
    try {
      const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      const first = await Promise.race([
        this.deps.podsReady.then(() => true),
        aborted.then(() => false),
      ]).catch(() => false);
      while (first && !signal.aborted) {
        const delay = await this.sweepOnce(this.stopped.signal);
        await this.deps.clock.sleep(Math.max(0, delay), signal).catch(() => {});
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      await Promise.allSettled([...this.deleting.values()]);
    }
  }

  /** Resolves when every delete started so far has settled (tests). */
  async idle(): Promise<void> {
    while (this.deleting.size > 0) await Promise.allSettled([...this.deleting.values()]);
  }
}

export function createOrphanSweeper(deps: OrphanSweeperDeps): OrphanSweeper {
  const sweeper = new Sweeper(deps);
  const shell = controllerShell((signal, markReady) => sweeper.run(signal, markReady));
  return Object.assign(shell, {
    sweepOnce: (signal?: AbortSignal) => sweeper.sweepOnce(signal),
    idle: () => sweeper.idle(),
  });
}

/** `podExists` over the apiserver: a Pod of that namespace/name with that UID. */
export function podExistsVia(kube: Pick<KubeClients, 'core'>) {
  return async (namespace: string, name: string, uid: string): Promise<boolean> => {
    try {
      const pod = await kube.core.readNamespacedPod({ namespace, name });
      return pod.metadata?.uid === uid;
    } catch (err) {
      if (httpStatusOf(err) === 404) return false;
      throw err;
    }
  };
}
