/**
 * The docker plugin's deletes, from the answer to their end: `/delete` writes the
 * `.deleting` marker and hands the pod to the background deletes (background-delete.ts:
 * retried until dockerd confirms, found again after a restart), whose removal is here: the
 * pod's preStop hooks once, `docker stop` with the grace left, a tombstone holding the
 * pod's final status, then its containers, volumes and data directory removed. It owns what
 * only a delete needs: the pods being removed, the preStop hooks still to run and their
 * failures, and the tombstones the status route reads for a while after a pod is gone.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { Clock } from '../../core/clock.ts';
import type { KeyedLock } from '../../core/keyed-lock.ts';
import type { Logger } from '../../core/logger.ts';
import { isPreStopFailure } from '../../core/pod/probe-events.ts';
import type { PodStatus } from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { CallContext, DeleteResult } from '../sdk/types.ts';
import { rmArgs, stopArgs, volumeLsArgs, volumeRmArgs } from './argv.ts';
import { type BackgroundDeletes, backgroundDeletes, writeDeleteMarker } from './background-delete.ts';
import { classify, type DockerCli } from './cli.ts';
import type { DockerConfig } from './config.ts';
import { containerIds, nonEmptyLines } from './inspect.ts';
import { LABEL } from './names.ts';
import type { IndexEntry } from './pod-index.ts';
import { preStop } from './pod-probes.ts';
import { withPreStopFailures } from './probe-kill.ts';
import { finalStatus, type ObservedPod } from './status.ts';

export interface RemovalDeps {
  cli: DockerCli;
  log: Logger;
  clock: Clock;
  cfg: DockerConfig;
  locks: KeyedLock;
  /** A local engine shares this host's network: hooks can reach pod addresses. */
  localEngine: boolean;
  index: ReadonlyMap<string, IndexEntry>;
  podDir(uid: string): string;
  idsOf(uids: string[]): string[];
  observe(ids: string[]): Promise<Map<string, ObservedPod>>;
  /** A delete is recorded: a create of the pod not carried out yet is dropped. */
  recorded(uid: string): void;
  /** The pod's containers are removed: it leaves the index, the sequencer and the prober. */
  removed(uid: string, ids: string[]): void;
}

/** The grace a delete is given: the pod's deletion grace, else its spec's, else none (the site default). */
export function graceOf(pod: Pod): number | undefined {
  const spec = pod.spec as { terminationGracePeriodSeconds?: unknown } | undefined;
  const meta = pod.metadata as { deletionGracePeriodSeconds?: unknown };
  return [meta.deletionGracePeriodSeconds, spec?.terminationGracePeriodSeconds].find(
    (v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  );
}

export class PodRemoval {
  readonly #d: RemovalDeps;
  /** Deletes answered and still being carried out. */
  readonly #tasks: BackgroundDeletes;
  /** Pods being stopped and removed right now (no start, no probe kill meanwhile). */
  readonly #removing = new Set<string>();
  /** Pods whose delete is recorded and whose preStop hooks have not run yet. */
  readonly #preStopPending = new Map<string, Pod>();
  /** `${uid}/${container}` → the FailedPreStopHook message its final status carries. */
  readonly #preStopFailures = new Map<string, string>();
  readonly #tombstones = new Map<string, { status: PodStatus; until: number }>();

  constructor(d: RemovalDeps) {
    this.#d = d;
    this.#tasks = backgroundDeletes({
      remove: (uid, grace) => d.locks.run(uid, () => this.#stopAndRemove(uid, grace)),
      concurrency: d.cfg.backgroundConcurrency,
      log: d.log,
      clock: d.clock,
    });
  }

  /**
   * Record the delete (a marker a restarted plugin finds); stopping with grace and removing
   * run in the background, retried until dockerd confirms. The answer waits for them up to
   * deleteAnswerSeconds: "gone" in the common case, "recorded" in a burst that would
   * otherwise outlast the API's plugin timeout.
   */
  async delete(pod: Pod, ctx: CallContext): Promise<DeleteResult | undefined> {
    const { cfg, locks } = this.#d;
    const uid = pod.metadata.uid;
    const grace = graceOf(pod);
    await locks.run(`${uid}/record`, async () => {
      if (this.#tasks.has(uid)) return;
      const g = grace ?? cfg.defaultGracePeriodSeconds;
      await mkdir(cfg.dataRoot, { recursive: true, mode: 0o700 });
      await writeDeleteMarker(cfg.dataRoot, uid, g);
      // A create not carried out yet is dropped; the removal takes what it made so far.
      this.#d.recorded(uid);
      this.#preStopPending.set(uid, pod);
      this.#tasks.start(uid, g);
    });
    if (!(await this.#tasks.settled(uid, cfg.deleteAnswerSeconds * 1000))) {
      ctx.log.info({ uid }, 'pod delete recorded; still removing in the background');
      return undefined;
    }
    ctx.log.info({ uid }, 'pod deleted');
    return this.#hookFailures(uid);
  }

  /**
   * A removed pod's failed preStop hooks for the delete's answer, which the VK records as
   * Events: the pod is gone, so no status poll may show them (a delete answered before the
   * removal finished leaves them to the tombstone's status instead).
   */
  #hookFailures(uid: string): DeleteResult | undefined {
    const containers = (this.tombstone(uid)?.containers ?? [])
      .map((c) => ({ name: c.name, probeEvents: (c.probeEvents ?? []).filter(isPreStopFailure) }))
      .filter((c) => c.probeEvents.length > 0);
    return containers.length > 0 ? { containers } : undefined;
  }

  /** A marker found at start-up: finish that delete. */
  resume(uid: string, graceSeconds: number): void {
    this.#tasks.start(uid, graceSeconds);
  }

  /** Whether the pod's delete is recorded and not carried out yet. */
  recordedDelete(uid: string): boolean {
    return this.#tasks.has(uid);
  }

  /** Resolves when every delete answered so far is carried out. */
  settled(): Promise<void> {
    return this.#tasks.idle();
  }

  close(): void {
    this.#tasks.close();
  }

  isRemoving(uid: string): boolean {
    return this.#removing.has(uid);
  }

  /** The final status of a pod removed less than tombstoneSeconds ago (see expire). */
  tombstone(uid: string): PodStatus | undefined {
    return this.#tombstones.get(uid)?.status;
  }

  /** A new create of the pod: its old final status no longer stands. */
  dropTombstone(uid: string): void {
    this.#tombstones.delete(uid);
  }

  expireTombstones(): void {
    const now = this.#d.clock.now();
    for (const [uid, t] of this.#tombstones) if (t.until <= now) this.#tombstones.delete(uid);
  }

  /**
   * The preStop hooks once (not after a plugin restart: the marker keeps no pod spec), then
   * stop with the grace left and remove. Idempotent. Caller holds the pod's lock.
   */
  async #stopAndRemove(uid: string, graceSeconds: number): Promise<void> {
    const pod = this.#preStopPending.get(uid);
    this.#preStopPending.delete(uid);
    const left = pod ? await this.#preStop(uid, pod, graceSeconds) : graceSeconds;
    await this.#remove(uid, left);
  }

  /** The preStop hooks (pod-probes.ts) and the grace seconds left after them. */
  async #preStop(uid: string, pod: Pod, graceSeconds: number): Promise<number> {
    if (!this.#d.index.has(uid)) return graceSeconds;
    const observed = (await this.#d.observe(this.#d.idsOf([uid]))).get(uid);
    const { cli, clock, log, localEngine } = this.#d;
    return preStop(
      { cli, clock, log, localEngine, failures: this.#preStopFailures },
      pod,
      observed,
      graceSeconds,
    );
  }

  /** Stop (with grace), remove containers, volumes and the data directory, keeping a tombstone. */
  async #remove(uid: string, graceSeconds: number): Promise<void> {
    const { cli, cfg } = this.#d;
    const labels = { [LABEL.instance]: cfg.instance, [LABEL.podUid]: uid };
    this.#removing.add(uid);
    try {
      const listed = await containerIds(cli, labels, `listing pod ${uid}`);
      const entry = this.#d.index.get(uid);
      const known = entry ? [...(entry.infraId ? [entry.infraId] : []), ...entry.byName.values()] : [];
      const ids = [...new Set([...listed, ...known])];
      if (ids.length > 0) {
        await this.#stop(uid, ids, graceSeconds);
        const r = await cli.run(rmArgs(ids));
        if (r.code !== 0 && !/no such container/i.test(r.stderr)) {
          throw classify(`removing the containers of pod ${uid}`, r);
        }
      }
      const vols = nonEmptyLines(await cli.check(volumeLsArgs(labels), 'listing volumes'));
      if (vols.length > 0) await cli.check(volumeRmArgs(vols), `removing the volumes of pod ${uid}`);
      await rm(this.#d.podDir(uid), { recursive: true, force: true });
      this.#d.removed(uid, ids);
      for (const k of this.#preStopFailures.keys())
        if (k.startsWith(`${uid}/`)) this.#preStopFailures.delete(k);
    } finally {
      this.#removing.delete(uid);
    }
  }

  /** `docker stop` of what still runs, then the tombstone from what Docker shows after it. */
  async #stop(uid: string, ids: string[], graceSeconds: number): Promise<void> {
    const before = (await this.#d.observe(ids)).get(uid);
    const workers = [...(before?.inits ?? []), ...(before?.apps ?? [])]
      .filter((o) => o.ins.State.Running || o.ins.State.Restarting || o.ins.State.Paused)
      .map((o) => o.id);
    if (workers.length > 0) {
      const r = await this.#d.cli.run(stopArgs(workers, graceSeconds), {
        timeoutMs: graceSeconds * 1000 + 60_000,
      });
      if (r.code !== 0 && !/no such container/i.test(r.stderr))
        this.#d.log.warn({ uid, stderr: r.stderr.trim() }, 'docker stop failed; removing by force');
    }
    const after = (await this.#d.observe(ids)).get(uid);
    if (after)
      this.#tombstones.set(uid, {
        status: withPreStopFailures(finalStatus(after), uid, this.#preStopFailures),
        until: this.#d.clock.now() + this.#d.cfg.tombstoneSeconds * 1000,
      });
  }
}
