/**
 * The docker plugin's creates, from the answer to their end: `/create` plans the pod (every
 * refusal happens there, before anything exists), writes its volume files and the
 * `.creating` marker and answers; the background half (background.ts, retried with backoff)
 * creates every container (materialize.ts) and hands the pod to the sequencer. Until then
 * the pod's status and listing come from the record kept here. A repeated create of a pod
 * that exists refreshes its volume files; of one still being created, it replaces the
 * recorded request.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { Clock } from '../../core/clock.ts';
import type { KeyedLock } from '../../core/keyed-lock.ts';
import type { Logger } from '../../core/logger.ts';
import { refreshVolumeFiles } from '../../core/pod/refresh.ts';
import { mkdirUnder } from '../../core/pod/safe-fs.ts';
import { podSpecOf } from '../../core/pod/spec.ts';
import { ErrorCode, InterlinkError } from '../../errors/index.ts';
import type { BackendPod, CreateStruct, RetrievedPodData } from '../../wire/interlink.ts';
import type { CallContext } from '../sdk/types.ts';
import { type BackgroundTasks, backgroundTasks } from './background.ts';
import {
  type CreateFailure,
  createFailure,
  createRetryDelayMs,
  removeCreateMarker,
  writeCreateMarker,
} from './background-create.ts';
import type { DockerCli } from './cli.ts';
import type { DockerConfig } from './config.ts';
import type { DockerEngine } from './engine.ts';
import { materialize } from './materialize.ts';
import { infraName } from './names.ts';
import type { IndexEntry } from './pod-index.ts';
import { type PodPlan, planPod } from './pod-plan.ts';
import { writeVolumePlan } from './volumes-io.ts';

export interface Creating {
  /** The request to carry out (the latest, when the create was repeated). */
  data: RetrievedPodData;
  /** Why the last attempt failed, shown in the status until one succeeds. */
  failure?: CreateFailure;
}

/** The job id of a pod still being created: its infra container's name. */
export function jidOf(rec: Creating): string {
  const { uid, name, namespace } = rec.data.pod.metadata;
  return infraName({ uid, name, namespace });
}

export interface CreateDeps {
  cfg: DockerConfig;
  cli: DockerCli;
  log: Logger;
  clock: Clock;
  locks: KeyedLock;
  engine: DockerEngine;
  index: Map<string, IndexEntry>;
  /** Container ids this process has run `docker start` for (the sequencer's). */
  started: Set<string>;
  podDir(uid: string): string;
  /** Whether the pod's delete is recorded: a create of it is refused meanwhile. */
  deleting(uid: string): boolean;
  /** A create is recorded: the pod's last tombstone no longer stands. */
  recorded(uid: string): void;
  /** Every container exists: start what is due. Called under the pod's lock. */
  created(uid: string): Promise<void>;
}

export class CreateRecords {
  readonly #d: CreateDeps;
  /** Creates answered and not carried out yet, by pod uid. */
  readonly #creating = new Map<string, Creating>();
  readonly #tasks: BackgroundTasks<undefined>;

  constructor(d: CreateDeps) {
    this.#d = d;
    this.#tasks = backgroundTasks<undefined>({
      what: 'create',
      run: (uid) => this.#carryOut(uid),
      concurrency: d.cfg.createConcurrency,
      delayMs: createRetryDelayMs,
      log: d.log,
      clock: d.clock,
    });
  }

  /** The record of a create not carried out yet. */
  get(uid: string): Creating | undefined {
    return this.#creating.get(uid);
  }

  has(uid: string): boolean {
    return this.#creating.has(uid);
  }

  /** The pods recorded and not created yet, as `/list` shows them. */
  backendPods(): BackendPod[] {
    return [...this.#creating.values()].map((rec) => {
      const { uid, name, namespace } = rec.data.pod.metadata;
      return { UID: uid, name, namespace, JID: jidOf(rec) };
    });
  }

  /** The pod's delete is recorded: a create not carried out yet is dropped. */
  drop(uid: string): void {
    this.#creating.delete(uid);
  }

  /** A marker found at start-up: carry it out again (idempotent per uid). */
  resume(uid: string, data: RetrievedPodData): void {
    this.#creating.set(uid, { data });
    this.#tasks.start(uid, undefined);
  }

  /** Validate, record and answer; a pod that exists has its volume files refreshed. */
  async create(data: RetrievedPodData, ctx: CallContext): Promise<CreateStruct> {
    const uid = data.pod.metadata.uid;
    const podDir = this.#d.podDir(uid);
    const recorded = await this.#d.locks.run(`${uid}/record`, () => this.#record(data, podDir, ctx));
    if (recorded) return recorded;
    return this.#d.locks.run(uid, async () => {
      await this.#refreshVolumes(data, podDir, ctx);
      const { name, namespace } = data.pod.metadata;
      return { PodUID: uid, PodJID: infraName(this.#d.index.get(uid)?.ref ?? { uid, name, namespace }) };
    });
  }

  /** Whether every container of the pod exists (and no create of it is outstanding). */
  #created(uid: string, want: number): boolean {
    const e = this.#d.index.get(uid);
    return !this.#creating.has(uid) && e?.infraId !== undefined && e.byName.size >= want;
  }

  /** The create's answer once it is recorded; undefined when the pod exists already. Under the record lock. */
  async #record(data: RetrievedPodData, podDir: string, ctx: CallContext): Promise<CreateStruct | undefined> {
    const { cfg } = this.#d;
    const uid = data.pod.metadata.uid;
    const spec = podSpecOf(data.pod);
    if (this.#created(uid, (spec.initContainers?.length ?? 0) + spec.containers.length)) return undefined;
    // Every refusal happens here, before anything exists.
    const plan = this.#plan(data, podDir);
    for (const w of plan.volumes.warnings) ctx.log.warn({ uid }, w);
    if (this.#d.deleting(uid)) throw new InterlinkError(ErrorCode.CONFLICT, `pod ${uid} is being deleted`);
    const rec = this.#creating.get(uid);
    await mkdir(cfg.dataRoot, { recursive: true, mode: 0o700 });
    await mkdirUnder(cfg.dataRoot, uid, 0o700, 'pod.metadata.uid');
    try {
      // Local files only (no dockerd): a hostPath that resolves outside the roots is refused here.
      await writeVolumePlan(plan.podDir, plan.volumes, cfg.hostPathRoots);
    } catch (err) {
      if (!rec) await rm(podDir, { recursive: true, force: true });
      throw err;
    }
    // Written last: a marker found after a restart always has its volume files beside it.
    await writeCreateMarker(cfg.dataRoot, uid, data);
    if (rec) rec.data = data;
    else this.#creating.set(uid, { data });
    this.#d.recorded(uid);
    this.#tasks.start(uid, undefined);
    ctx.log.info({ uid, pod: `${plan.ref.namespace}/${plan.ref.name}` }, 'pod create recorded');
    return { PodUID: uid, PodJID: plan.infra.name };
  }

  #plan(data: RetrievedPodData, podDir: string): PodPlan {
    const node = this.#d.engine.node;
    return planPod({
      pod: data.pod,
      spec: podSpecOf(data.pod),
      retrieved: data.container ?? [],
      podDir,
      options: this.#d.cfg,
      ...(node ? { node } : {}),
    });
  }

  /**
   * The background half: every container created (the record wrote the volume files), the
   * marker removed, what is due started. Throws to be retried; a failure shows in the pod's
   * status meanwhile. Nothing to do once the pod's delete is recorded.
   */
  async #carryOut(uid: string): Promise<void> {
    const { cli, cfg, log, locks, started } = this.#d;
    await locks.run(uid, async () => {
      const rec = this.#creating.get(uid);
      if (!rec) return;
      const podDir = this.#d.podDir(uid);
      let entry: IndexEntry;
      try {
        entry = await materialize(
          { cli, instance: cfg.instance, log, started },
          this.#plan(rec.data, podDir),
        );
      } catch (err) {
        if (this.#creating.get(uid) === rec) rec.failure = createFailure(err);
        throw err;
      }
      this.#d.index.set(uid, entry);
      const done = await locks.run(`${uid}/record`, async () => {
        if (this.#creating.get(uid) !== rec) return false;
        this.#creating.delete(uid);
        await removeCreateMarker(podDir);
        return true;
      });
      // Deleted meanwhile: the delete, queued behind this lock, removes what was made.
      if (!done) return;
      await this.#d.created(uid);
      log.info({ uid, pod: `${entry.ref.namespace}/${entry.ref.name}` }, 'pod created');
    });
  }

  /**
   * A create of a pod that exists: its volume files take what the request carries (a
   * refreshed token, an edited ConfigMap or Secret: core/pod/refresh.ts). A request the
   * planner now refuses changes nothing (the pod keeps running as it was created).
   */
  async #refreshVolumes(data: RetrievedPodData, podDir: string, ctx: CallContext): Promise<void> {
    const uid = data.pod.metadata.uid;
    let plan: PodPlan;
    try {
      plan = this.#plan(data, podDir);
    } catch (err) {
      ctx.log.warn({ uid, err }, 'pod already exists; its volumes were not refreshed');
      return;
    }
    const changed = await refreshVolumeFiles(podDir, plan.volumes.files, plan.volumes.dirs);
    ctx.log.info({ uid, refreshed: changed.length }, 'pod already exists; volume files refreshed');
  }

  /** Resolves when every create answered so far is carried out or given up. */
  settled(): Promise<void> {
    return this.#tasks.idle();
  }

  close(): void {
    this.#tasks.close();
  }
}
