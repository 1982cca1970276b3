/**
 * The docker plugin: each pod is an infra container (network + IPC namespaces) and one
 * container per Kubernetes container joined to it, driven through the docker CLI.
 *
 * State lives in Docker: every container carries labels naming its pod, and the in-memory
 * index (pod UID → container ids) is rebuilt from them when the plugin starts. Init
 * containers are sequenced level-triggered: all containers are created up front, and a
 * poll (only while some pod still has containers to start) compares Docker's state with
 * the pod's order and starts what is due. A plugin killed mid-sequence therefore resumes
 * on its next start from the labels alone, with nothing else persisted.
 *
 * Calls for one pod (create, delete, sequencing) are serialised by a per-pod lock.
 *
 * A container is started at most once by this plugin (issue #11): every `docker start`
 * happens under the pod's lock, is decided from a `docker inspect` made under that same
 * lock (never from an observation taken before waiting for it — the sequencing round
 * inspects all pending pods at once and then queues for each lock, while a create may
 * start the same containers), only for containers Docker shows as never started, and
 * never twice for one id in this process. Restarts after that are Docker's own (its
 * restart policy, counted in RestartCount).
 *
 * This file composes the parts: the routes, the index and the sequencing loop. The rest
 * lives beside it: planning (pod-plan.ts), the create record and its background half
 * (background-create.ts, materialize.ts), background deletes (background-delete.ts), status
 * mapping (status.ts), probes and hooks (pod-probes.ts, prober.ts), stats (stats.ts),
 * exec/attach/port-forward (streams.ts, exec.ts), ping and readiness (engine.ts).
 */
import { mkdir, rm } from 'node:fs/promises';
import type { Duplex, Readable } from 'node:stream';
import type { ExecIO } from '../../core/channel-ws.ts';
import { type Clock, systemClock, type Timer } from '../../core/clock.ts';
import { KeyedLock } from '../../core/keyed-lock.ts';
import type { Logger } from '../../core/logger.ts';
import { pathUnder } from '../../core/pod/paths.ts';
import { refreshVolumeFiles } from '../../core/pod/refresh.ts';
import { mkdirUnder } from '../../core/pod/safe-fs.ts';
import { podSpecOf } from '../../core/pod/spec.ts';
import { codeOf, ErrorCode, InterlinkError, notFound, unavailable } from '../../errors/index.ts';
import {
  type BackendPod,
  byteLimit,
  type CreateStruct,
  type LogStruct,
  type PingResponse,
  type PodStatus,
  type RetrievedPodData,
} from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { ExecQuery, PortForwardQuery } from '../../wire/streams.ts';
import type { CallContext, Plugin } from '../sdk/types.ts';
import {
  inspectArgs,
  logsArgs,
  psArgs,
  rmArgs,
  startArgs,
  stopArgs,
  volumeLsArgs,
  volumeRmArgs,
} from './argv.ts';
import { type BackgroundTasks, backgroundTasks } from './background.ts';
import {
  type CreateFailure,
  createFailure,
  createRetryDelayMs,
  creatingStatus,
  readCreateMarkers,
  removeCreateMarker,
  writeCreateMarker,
} from './background-create.ts';
import {
  type BackgroundDeletes,
  backgroundDeletes,
  readDeleteMarkers,
  writeDeleteMarker,
} from './background-delete.ts';
import { classify, DockerCli } from './cli.ts';
import type { DockerConfig } from './config.ts';
import { DockerEngine, isLocalEngine } from './engine.ts';
import { listDockerPods } from './list.ts';
import { streamLogs } from './logs.ts';
import { materialize } from './materialize.ts';
import { infraName, LABEL } from './names.ts';
import { type IndexEntry, idsOf } from './pod-index.ts';
import { type PodPlan, planPod } from './pod-plan.ts';
import { dockerProber, preStop } from './pod-probes.ts';
import { podAddress } from './probe-io.ts';
import { withPreStopFailures } from './probe-kill.ts';
import { watchedOf } from './probe-watch.ts';
import type { DockerProber } from './prober.ts';
import { CpuIntegrator, collectDockerStats } from './stats.ts';
import {
  finalStatus,
  groupByPod,
  type Inspected,
  type ObservedPod,
  parseInspect,
  podStatus,
  sequencing,
  withRefusals,
} from './status.ts';
import { attachToPod, execInPod, portForwardToPod, type StreamDeps } from './streams.ts';
import { mountRefusal, writeVolumePlan } from './volumes-io.ts';

interface Creating {
  /** The request to carry out (the latest, when the create was repeated). */
  data: RetrievedPodData;
  /** Why the last attempt failed, shown in the status until one succeeds. */
  failure?: CreateFailure;
}

/** Inspect at most this many ids per docker call (far below the argv size limit). */
const INSPECT_CHUNK = 5000;

export class DockerPlugin implements Plugin {
  readonly name = 'docker';
  readonly #cfg: DockerConfig;
  readonly #log: Logger;
  readonly #cli: DockerCli;
  readonly #index = new Map<string, IndexEntry>();
  readonly #locks = new KeyedLock();
  /** Pods with containers still to start: polled by the sequencing loop. */
  readonly #pending = new Set<string>();
  readonly #deleting = new Set<string>();
  /** Container ids this process has run `docker start` for (at most once each). */
  readonly #started = new Set<string>();
  /** Containers refused a start (a mount no longer safe), with the reason their status shows. */
  readonly #refused = new Map<string, string>();
  readonly #tombstones = new Map<string, { status: PodStatus; until: number }>();
  #loaded: Promise<void> | undefined;
  readonly #clock: Clock;
  #timer: Timer | undefined;
  #ticking = false;
  #closed = false;
  readonly #engine: DockerEngine;
  readonly #cpu = new CpuIntegrator();
  readonly #startedAt: string;
  /** Probes and postStart hooks of the running containers (prober.ts). */
  readonly #prober: DockerProber;
  /** `${uid}/${container}` → the FailedPreStopHook message its final status carries. */
  readonly #preStopFailures = new Map<string, string>();
  /** Deletes answered and still being carried out (background-delete.ts). */
  readonly #bgDeletes: BackgroundDeletes;
  /** Pods whose delete is recorded and whose preStop hooks have not run yet. */
  readonly #preStopPending = new Map<string, Pod>();
  /** Creates answered and not carried out yet (background-create.ts), by pod uid. */
  readonly #creating = new Map<string, Creating>();
  readonly #bgCreates: BackgroundTasks<undefined>;

  constructor(cfg: DockerConfig, log: Logger, cli?: DockerCli, clock: Clock = systemClock) {
    this.#cfg = cfg;
    this.#log = log;
    this.#clock = clock;
    this.#startedAt = new Date(clock.now()).toISOString();
    this.#bgDeletes = backgroundDeletes({
      remove: (uid, grace) => this.#locks.run(uid, () => this.#stopAndRemove(uid, grace)),
      concurrency: cfg.backgroundConcurrency,
      log,
      clock,
    });
    this.#bgCreates = backgroundTasks<undefined>({
      what: 'create',
      run: (uid) => this.#carryOutCreate(uid),
      concurrency: cfg.createConcurrency,
      delayMs: createRetryDelayMs,
      log,
      clock,
    });
    this.#cli =
      cli ??
      new DockerCli({
        binary: cfg.dockerCli,
        dockerHost: cfg.dockerHost,
        timeoutMs: cfg.commandTimeoutMs,
        log,
      });
    this.#engine = new DockerEngine(this.#cli, cfg);
    this.#prober = dockerProber({
      cli: this.#cli,
      clock,
      log,
      locks: this.#locks,
      deleting: (uid) => this.#deleting.has(uid),
    });
  }

  /** Load the index from Docker and resume sequencing. Does not throw: a dockerd that is down is retried on use. */
  async start(): Promise<void> {
    try {
      await this.#ensureLoaded();
    } catch (err) {
      this.#log.warn({ err }, 'docker not reachable at start; will retry on the first call');
    }
  }

  // ---- create -------------------------------------------------------------------------

  /**
   * Validate, record and answer (background-create.ts): containers are created and started
   * in the background. A repeated create of a pod whose containers all exist refreshes its
   * volume files; of one still being created, it replaces the recorded request.
   */
  async create(data: RetrievedPodData, ctx: CallContext): Promise<CreateStruct> {
    const uid = data.pod.metadata.uid;
    await this.#ensureLoaded();
    const podDir = this.#podDir(uid);
    const recorded = await this.#locks.run(`${uid}/record`, () => this.#record(data, podDir, ctx));
    if (recorded) return recorded;
    return this.#locks.run(uid, async () => {
      await this.#refreshVolumes(data, podDir, ctx);
      const { name, namespace } = data.pod.metadata;
      return { PodUID: uid, PodJID: infraName(this.#index.get(uid)?.ref ?? { uid, name, namespace }) };
    });
  }

  /** Whether every container of the pod exists (and no create of it is outstanding). */
  #created(uid: string, want: number): boolean {
    const e = this.#index.get(uid);
    return !this.#creating.has(uid) && e?.infraId !== undefined && e.byName.size >= want;
  }

  /** The create's answer once it is recorded; undefined when the pod exists already. Under the record lock. */
  async #record(data: RetrievedPodData, podDir: string, ctx: CallContext): Promise<CreateStruct | undefined> {
    const uid = data.pod.metadata.uid;
    const spec = podSpecOf(data.pod);
    if (this.#created(uid, (spec.initContainers?.length ?? 0) + spec.containers.length)) return undefined;
    // Every refusal happens here, before anything exists.
    const plan = this.#plan(data, podDir);
    for (const w of plan.volumes.warnings) ctx.log.warn({ uid }, w);
    if (this.#bgDeletes.has(uid)) throw new InterlinkError(ErrorCode.CONFLICT, `pod ${uid} is being deleted`);
    const rec = this.#creating.get(uid);
    await mkdir(this.#cfg.dataRoot, { recursive: true, mode: 0o700 });
    await mkdirUnder(this.#cfg.dataRoot, uid, 0o700, 'pod.metadata.uid');
    try {
      // Local files only (no dockerd): a hostPath that resolves outside the roots is refused here.
      await writeVolumePlan(plan.podDir, plan.volumes, this.#cfg.hostPathRoots);
    } catch (err) {
      if (!rec) await rm(podDir, { recursive: true, force: true });
      throw err;
    }
    // Written last: a marker found after a restart always has its volume files beside it.
    await writeCreateMarker(this.#cfg.dataRoot, uid, data);
    if (rec) rec.data = data;
    else this.#creating.set(uid, { data });
    this.#tombstones.delete(uid);
    this.#bgCreates.start(uid, undefined);
    ctx.log.info({ uid, pod: `${plan.ref.namespace}/${plan.ref.name}` }, 'pod create recorded');
    return { PodUID: uid, PodJID: plan.infra.name };
  }

  #plan(data: RetrievedPodData, podDir: string): PodPlan {
    return planPod({
      pod: data.pod,
      spec: podSpecOf(data.pod),
      retrieved: data.container ?? [],
      podDir,
      options: this.#cfg,
      ...(this.#engine.node ? { node: this.#engine.node } : {}),
    });
  }

  /**
   * The background half of a create: every container created (the record wrote the volume
   * files), the marker removed, what is due started. Throws to be retried; a failure shows
   * in the pod's status meanwhile. Nothing to do once the pod's delete is recorded.
   */
  async #carryOutCreate(uid: string): Promise<void> {
    await this.#locks.run(uid, async () => {
      const rec = this.#creating.get(uid);
      if (!rec) return;
      const podDir = this.#podDir(uid);
      let entry: IndexEntry;
      try {
        const deps = { cli: this.#cli, instance: this.#cfg.instance, log: this.#log, started: this.#started };
        entry = await materialize(deps, this.#plan(rec.data, podDir));
      } catch (err) {
        if (this.#creating.get(uid) === rec) rec.failure = createFailure(err);
        throw err;
      }
      this.#index.set(uid, entry);
      const done = await this.#locks.run(`${uid}/record`, async () => {
        if (this.#creating.get(uid) !== rec) return false;
        this.#creating.delete(uid);
        await removeCreateMarker(podDir);
        return true;
      });
      // Deleted meanwhile: the delete, queued behind this lock, removes what was made.
      if (!done) return;
      this.#pending.add(uid);
      // Start what is due now rather than at the next poll.
      const observed = (await this.#observe(this.#idsOf([uid]))).get(uid);
      await this.#advance(uid, observed, true);
      this.#schedule();
      this.#log.info({ uid, pod: `${entry.ref.namespace}/${entry.ref.name}` }, 'pod created');
    });
  }

  /** Resolves when every create answered so far is carried out or given up (tests, diagnostics). */
  createsSettled(): Promise<void> {
    return this.#bgCreates.idle();
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

  // ---- delete -------------------------------------------------------------------------

  async delete(pod: Pod, ctx: CallContext): Promise<void> {
    const uid = pod.metadata.uid;
    const spec = pod.spec as { terminationGracePeriodSeconds?: unknown } | undefined;
    const meta = pod.metadata as { deletionGracePeriodSeconds?: unknown };
    const grace = [meta.deletionGracePeriodSeconds, spec?.terminationGracePeriodSeconds].find(
      (v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0,
    );
    await this.#ensureLoaded();
    // Recorded first (a marker a restarted plugin finds); stopping with grace and removing run
    // in the background, retried until dockerd confirms (background-delete.ts). The answer
    // waits for them up to deleteAnswerSeconds: "gone" in the common case, "recorded" in a
    // burst that would otherwise outlast the API's plugin timeout.
    await this.#locks.run(`${uid}/record`, async () => {
      if (this.#bgDeletes.has(uid)) return;
      const g = grace ?? this.#cfg.defaultGracePeriodSeconds;
      await mkdir(this.#cfg.dataRoot, { recursive: true, mode: 0o700 });
      await writeDeleteMarker(this.#cfg.dataRoot, uid, g);
      // A create not carried out yet is dropped; the removal takes what it made so far.
      this.#creating.delete(uid);
      this.#preStopPending.set(uid, pod);
      this.#bgDeletes.start(uid, g);
    });
    if (await this.#bgDeletes.settled(uid, this.#cfg.deleteAnswerSeconds * 1000))
      ctx.log.info({ uid }, 'pod deleted');
    else ctx.log.info({ uid }, 'pod delete recorded; still removing in the background');
  }

  /** Resolves when every delete answered so far is carried out (tests, diagnostics). */
  deletesSettled(): Promise<void> {
    return this.#bgDeletes.idle();
  }

  /**
   * The background half of a delete: the preStop hooks once (not after a plugin restart:
   * the marker keeps no pod spec), then stop with the grace left and remove. Caller holds the lock.
   */
  async #stopAndRemove(uid: string, graceSeconds: number): Promise<void> {
    const pod = this.#preStopPending.get(uid);
    this.#preStopPending.delete(uid);
    const left = pod ? await this.#preStop(uid, pod, graceSeconds) : graceSeconds;
    await this.#remove(uid, left, true);
  }

  /** The preStop hooks (pod-probes.ts) and the grace seconds left after them. Caller holds the lock. */
  async #preStop(uid: string, pod: Pod, graceSeconds: number): Promise<number> {
    if (!this.#index.has(uid)) return graceSeconds;
    const observed = (await this.#observe(this.#idsOf([uid]))).get(uid);
    const deps = { cli: this.#cli, clock: this.#clock, log: this.#log };
    return preStop(
      { ...deps, localEngine: this.#localEngine, failures: this.#preStopFailures },
      pod,
      observed,
      graceSeconds,
    );
  }

  /** Stop (with grace), remove containers, volumes and the data directory. Idempotent. Caller holds the lock. */
  async #remove(uid: string, graceSeconds: number, keepTombstone: boolean): Promise<void> {
    this.#deleting.add(uid);
    try {
      const listed = (
        await this.#cli.check(
          psArgs({ [LABEL.instance]: this.#cfg.instance, [LABEL.podUid]: uid }),
          `listing pod ${uid}`,
        )
      )
        .split('\n')
        .filter((s) => s !== '');
      const entry = this.#index.get(uid);
      const ids = [
        ...new Set([
          ...listed,
          ...(entry ? [...(entry.infraId ? [entry.infraId] : []), ...entry.byName.values()] : []),
        ]),
      ];
      if (ids.length > 0) {
        const before = (await this.#observe(ids)).get(uid);
        const workers = [...(before?.inits ?? []), ...(before?.apps ?? [])]
          .filter((o) => o.ins.State.Running || o.ins.State.Restarting || o.ins.State.Paused)
          .map((o) => o.id);
        if (workers.length > 0) {
          const r = await this.#cli.run(stopArgs(workers, graceSeconds), {
            timeoutMs: graceSeconds * 1000 + 60_000,
          });
          if (r.code !== 0 && !/no such container/i.test(r.stderr))
            this.#log.warn({ uid, stderr: r.stderr.trim() }, 'docker stop failed; removing by force');
        }
        if (keepTombstone) {
          const after = (await this.#observe(ids)).get(uid);
          if (after)
            this.#tombstones.set(uid, {
              status: withPreStopFailures(finalStatus(after), uid, this.#preStopFailures),
              until: this.#clock.now() + this.#cfg.tombstoneSeconds * 1000,
            });
        }
        const r = await this.#cli.run(rmArgs(ids));
        if (r.code !== 0 && !/no such container/i.test(r.stderr)) {
          throw classify(`removing the containers of pod ${uid}`, r);
        }
      }
      const vols = (
        await this.#cli.check(
          volumeLsArgs({ [LABEL.instance]: this.#cfg.instance, [LABEL.podUid]: uid }),
          'listing volumes',
        )
      )
        .split('\n')
        .filter((s) => s !== '');
      if (vols.length > 0) await this.#cli.check(volumeRmArgs(vols), `removing the volumes of pod ${uid}`);
      await rm(this.#podDir(uid), { recursive: true, force: true });
      for (const id of ids) {
        this.#started.delete(id);
        this.#refused.delete(id);
      }
      this.#index.delete(uid);
      this.#pending.delete(uid);
      this.#prober.drop(uid);
      for (const k of this.#preStopFailures.keys())
        if (k.startsWith(`${uid}/`)) this.#preStopFailures.delete(k);
    } finally {
      this.#deleting.delete(uid);
    }
  }

  // ---- status -------------------------------------------------------------------------

  async status(pods: Pod[], _ctx: CallContext): Promise<PodStatus[]> {
    if (pods.length === 0) return [];
    await this.#ensureLoaded();
    this.#expireTombstones();
    // What each pod was before the docker call: a background create that finishes during
    // the call indexes a pod the call did not observe, which must not read as "no container".
    const before = new Map(
      pods.map((p) => [
        p.metadata.uid,
        { rec: this.#creating.get(p.metadata.uid), entry: this.#index.get(p.metadata.uid) },
      ]),
    );
    const known = pods.map((p) => p.metadata.uid).filter((u) => before.get(u)?.entry && !before.get(u)?.rec);
    // One docker call for every pod asked about.
    const observed = await this.#observe(this.#idsOf(known));
    const out: PodStatus[] = [];
    for (const pod of pods) {
      const uid = pod.metadata.uid;
      const { rec, entry } = before.get(uid) ?? {};
      if (rec) {
        const { name, namespace } = rec.data.pod.metadata;
        out.push(creatingStatus(rec.data, infraName({ uid, name, namespace }), rec.failure));
        continue;
      }
      const tomb = this.#tombstones.get(uid);
      if (tomb && !entry) {
        out.push(tomb.status);
        continue;
      }
      if (!entry) continue;
      const o: ObservedPod = observed.get(uid) ?? { ref: entry.ref, inits: [], apps: [] };
      const st = podStatus(o, { inits: entry.inits, apps: entry.apps });
      if (!this.#deleting.has(uid))
        this.#prober.observe(
          uid,
          watchedOf(pod, o, podAddress(o.infra?.ins, this.#localEngine), this.#cfg.defaultGracePeriodSeconds),
        );
      st.containers = st.containers?.map((c) => this.#prober.overlay(uid, c));
      out.push(st);
    }
    return out;
  }

  #expireTombstones(): void {
    const now = this.#clock.now();
    for (const [uid, t] of this.#tombstones) if (t.until <= now) this.#tombstones.delete(uid);
  }

  // ---- logs ---------------------------------------------------------------------------

  async logs(req: LogStruct, ctx: CallContext): Promise<Readable> {
    await this.#ensureLoaded();
    const entry = this.#index.get(req.PodUID);
    if (!entry)
      throw notFound(`pod ${req.Namespace}/${req.PodName} (${req.PodUID}) is not known to the docker plugin`);
    const id = entry.byName.get(req.ContainerName);
    if (!id) throw notFound(`pod ${req.Namespace}/${req.PodName} has no container "${req.ContainerName}"`);
    return streamLogs(this.#cli, logsArgs(id, req.Opts), {
      limit: byteLimit(req.Opts),
      signal: ctx.signal,
      log: ctx.log,
    });
  }

  /** Every pod of this instance Docker holds, from the labels (see list.ts). */
  async list(_ctx: CallContext): Promise<BackendPod[]> {
    const listed = await listDockerPods(this.#cli, this.#cfg.instance);
    // Pods recorded and not created yet are ours too.
    const seen = new Set(listed.map((p) => p.UID));
    for (const [uid, rec] of this.#creating) {
      if (seen.has(uid)) continue;
      const { name, namespace } = rec.data.pod.metadata;
      listed.push({ UID: uid, name, namespace, JID: infraName({ uid, name, namespace }) });
    }
    return listed;
  }

  /** CPU and memory of the running pods, in two docker calls (see stats.ts). */
  stats(_ctx: CallContext) {
    return collectDockerStats(
      this.#cli,
      this.#cfg.instance,
      this.#cpu,
      () => this.#clock.now(),
      this.#startedAt,
    );
  }

  // ---- exec / attach / port-forward (streams.ts) ----------------------------------------

  #streamDeps(): StreamDeps {
    return {
      cli: this.#cli,
      dockerHost: this.#cfg.dockerHost,
      entry: async (uid) => {
        await this.#ensureLoaded();
        return this.#index.get(uid);
      },
    };
  }

  exec(req: ExecQuery, io: ExecIO, _ctx: CallContext): Promise<number> {
    return execInPod(this.#streamDeps(), req, io);
  }

  attach(req: ExecQuery, io: ExecIO, _ctx: CallContext): Promise<number> {
    return attachToPod(this.#streamDeps(), req, io);
  }

  portForward(req: PortForwardQuery, conn: Duplex, ctx: CallContext): Promise<void> {
    return portForwardToPod(this.#streamDeps(), req, conn, ctx.signal);
  }

  // ---- ping / readiness (engine.ts) ----------------------------------------------------

  ping(_ctx: CallContext): Promise<PingResponse> {
    return this.#engine.ping();
  }

  notReadyReason(): Promise<string | undefined> {
    return this.#engine.notReadyReason();
  }

  /** A local engine shares this host's network: the prober can reach pod addresses. */
  get #localEngine(): boolean {
    return isLocalEngine(this.#cfg.dockerHost);
  }

  /** No pod has containers left to start and no sequencing round runs (diagnostics, tests). */
  get idle(): boolean {
    return this.#pending.size === 0 && !this.#ticking;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#prober.close();
    this.#bgDeletes.close();
    this.#bgCreates.close();
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  // ---- index and sequencing -----------------------------------------------------------

  #ensureLoaded(): Promise<void> {
    this.#loaded ??= this.#load().catch((err: unknown) => {
      this.#loaded = undefined;
      throw codeOf(err) === ErrorCode.INTERNAL ? unavailable(`docker: ${(err as Error).message}`, err) : err;
    });
    return this.#loaded;
  }

  /** Rebuild the index from the labels of every container of this instance. */
  async #load(): Promise<void> {
    const ids = (
      await this.#cli.check(psArgs({ [LABEL.instance]: this.#cfg.instance }), 'listing containers')
    )
      .split('\n')
      .filter((s) => s !== '');
    const pods = groupByPod(await this.#inspect(ids));
    for (const [uid, p] of pods) {
      if (this.#index.has(uid)) continue;
      const byName = new Map<string, string>();
      for (const o of [...p.inits, ...p.apps]) byName.set(o.name, o.id);
      this.#index.set(uid, {
        ref: p.ref,
        ...(p.infra ? { infraId: p.infra.id } : {}),
        byName,
        inits: p.inits.map((o) => o.name),
        apps: p.apps.map((o) => o.name),
      });
      if (sequencing(p).pending) this.#pending.add(uid);
    }
    await this.#engine.info().catch((err: unknown) => this.#log.debug({ err }, 'docker info failed'));
    // Deletes answered before a restart: finish them.
    for (const [uid, grace] of await readDeleteMarkers(this.#cfg.dataRoot)) {
      this.#pending.delete(uid);
      this.#bgDeletes.start(uid, grace);
    }
    // Creates answered before a restart: carry them out (again: idempotent per uid).
    for (const [uid, data] of await readCreateMarkers(this.#cfg.dataRoot)) {
      if (this.#creating.has(uid) || this.#bgDeletes.has(uid)) continue;
      this.#pending.delete(uid);
      this.#creating.set(uid, { data });
      this.#bgCreates.start(uid, undefined);
    }
    this.#log.info(
      { pods: pods.size, pending: this.#pending.size },
      'docker plugin state rebuilt from container labels',
    );
    this.#schedule();
  }

  #idsOf(uids: string[]): string[] {
    return idsOf(this.#index, uids);
  }

  /** Where a pod's files live: `<dataRoot>/<uid>`, the uid checked as one path component. */
  #podDir(uid: string): string {
    return pathUnder(this.#cfg.dataRoot, 'pod.metadata.uid', uid);
  }

  /** Inspect and group by pod, with the containers refused a start marked as such. */
  async #observe(ids: string[]): Promise<Map<string, ObservedPod>> {
    const pods = groupByPod(await this.#inspect(ids));
    if (this.#refused.size > 0) for (const [uid, p] of pods) pods.set(uid, withRefusals(p, this.#refused));
    return pods;
  }

  /** `docker inspect` of many ids; ids Docker no longer has are simply absent from the answer. */
  async #inspect(ids: string[]): Promise<Inspected[]> {
    const out: Inspected[] = [];
    for (let i = 0; i < ids.length; i += INSPECT_CHUNK) {
      const chunk = ids.slice(i, i + INSPECT_CHUNK);
      const r = await this.#cli.run(inspectArgs(chunk));
      if (r.code !== 0 && !r.stdout.trim().startsWith('[')) {
        if (/no such (container|object)/i.test(r.stderr)) continue;
        throw classify('docker inspect', r);
      }
      out.push(...parseInspect(r.stdout));
    }
    return out;
  }

  /**
   * Start what the pod's order says is due. Caller holds the pod's lock. Unless `underLock`
   * says it was inspected while holding it, `observed` may be stale (taken before the lock
   * was granted): it only tells whether anything might be due; what is started is decided
   * again from an inspect made now, under the lock.
   */
  async #advance(uid: string, observed: ObservedPod | undefined, underLock = false): Promise<void> {
    if (
      !this.#index.has(uid) ||
      this.#creating.has(uid) ||
      this.#deleting.has(uid) ||
      this.#bgDeletes.has(uid) ||
      !observed
    ) {
      this.#pending.delete(uid);
      return;
    }
    let seq = sequencing(observed);
    if (!underLock && (seq.startInfra || seq.start.length > 0)) {
      const fresh = (await this.#observe(this.#idsOf([uid]))).get(uid);
      if (!fresh) {
        this.#pending.delete(uid);
        return;
      }
      observed = fresh;
      seq = sequencing(fresh);
    }
    if (seq.startInfra && observed.infra) await this.#startOnce([observed.infra.id], uid);
    if (seq.start.length > 0) {
      const safe: string[] = [];
      const byId = new Map([...observed.inits, ...observed.apps].map((o) => [o.id, o]));
      for (const id of seq.start) {
        const o = byId.get(id);
        const why = o
          ? await mountRefusal(this.#podDir(uid), o.ins.HostConfig.Mounts, this.#cfg.hostPathRoots)
          : undefined;
        if (why === undefined) safe.push(id);
        else {
          this.#refused.set(id, why);
          this.#log.warn({ uid, container: o?.name }, `container not started: ${why}`);
        }
      }
      await this.#startOnce(safe, uid);
      // A refusal fails that container; the next round sees it so and sequences accordingly.
      if (safe.length < seq.start.length) seq.pending = true;
    }
    if (seq.pending) this.#pending.add(uid);
    else this.#pending.delete(uid);
  }

  /** `docker start` of the ids never started by this process; each id at most once. */
  async #startOnce(candidates: string[], uid: string): Promise<void> {
    const ids = candidates.filter((id) => !this.#started.has(id));
    if (ids.length === 0) return;
    for (const id of ids) this.#started.add(id);
    const r = await this.#cli.run(startArgs(ids));
    // A container that cannot start shows it in its state (StartError); the status says so.
    if (r.code !== 0) this.#log.info({ uid, stderr: r.stderr.trim().slice(0, 500) }, 'docker start failed');
  }

  #schedule(): void {
    if (this.#closed || this.#timer || this.#ticking || this.#pending.size === 0) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      void this.#tick();
    }, this.#cfg.reconcileIntervalMs);
  }

  /** One sequencing round: a single inspect for all pending pods, then per-pod starts. */
  async #tick(): Promise<void> {
    this.#ticking = true;
    try {
      const uids = [...this.#pending];
      const observed = await this.#observe(this.#idsOf(uids));
      await Promise.all(uids.map((u) => this.#locks.run(u, () => this.#advance(u, observed.get(u)))));
    } catch (err) {
      this.#log.warn({ err }, 'sequencing round failed; retrying');
    } finally {
      this.#ticking = false;
      this.#schedule();
    }
  }
}

export async function createDockerPlugin(
  cfg: DockerConfig,
  log: Logger,
  clock: Clock = systemClock,
): Promise<DockerPlugin> {
  const p = new DockerPlugin(cfg, log, undefined, clock);
  await p.start();
  return p;
}
