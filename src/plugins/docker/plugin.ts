/**
 * The docker plugin: each pod is an infra container (network + IPC namespaces) and one
 * container per Kubernetes container joined to it, driven through the docker CLI.
 *
 * State lives in Docker: every container carries labels naming its pod, and the in-memory
 * index (pod UID → container ids) is rebuilt from them when the plugin starts; what was
 * recorded and not carried out (creates, deletes) is found again from marker files. Calls
 * for one pod (create, delete, sequencing) are serialised by a per-pod lock; a container is
 * started at most once by this plugin (issue #11, sequencer.ts).
 *
 * This file composes the parts: the routes and the index. The rest lives beside it: the
 * sequencing loop (sequencer.ts), creates (create-record.ts: planning in pod-plan.ts, the
 * marker in background-create.ts, the containers in materialize.ts), deletes (removal.ts,
 * recorded and retried by background-delete.ts), what Docker holds (inspect.ts), status
 * mapping (status.ts), probes and hooks (pod-probes.ts, prober.ts), stats (stats.ts),
 * exec/attach/port-forward (streams.ts, exec.ts), ping and readiness (engine.ts).
 */
import type { Duplex, Readable } from 'node:stream';
import type { ExecIO } from '../../core/channel-ws.ts';
import { type Clock, systemClock } from '../../core/clock.ts';
import { KeyedLock } from '../../core/keyed-lock.ts';
import type { Logger } from '../../core/logger.ts';
import { codeOf, ErrorCode, notFound, unavailable } from '../../errors/index.ts';
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
import type { CallContext, DeleteResult, Plugin } from '../sdk/types.ts';
import { logsArgs } from './argv.ts';
import { creatingStatus, readCreateMarkers } from './background-create.ts';
import { readDeleteMarkers } from './background-delete.ts';
import { DockerCli } from './cli.ts';
import type { DockerConfig } from './config.ts';
import { CreateRecords, jidOf } from './create-record.ts';
import { DockerEngine, isLocalEngine } from './engine.ts';
import { containerIds, inspectIds } from './inspect.ts';
import { listDockerPods } from './list.ts';
import { streamLogs } from './logs.ts';
import { LABEL } from './names.ts';
import { entryOf, type IndexEntry, idsOf, podDirOf } from './pod-index.ts';
import { dockerProber } from './pod-probes.ts';
import { podAddress } from './probe-io.ts';
import { watchedOf } from './probe-watch.ts';
import type { DockerProber } from './prober.ts';
import { PodRemoval } from './removal.ts';
import { Sequencer } from './sequencer.ts';
import { CpuIntegrator, collectDockerStats } from './stats.ts';
import { groupByPod, type ObservedPod, podStatus, sequencing } from './status.ts';
import { attachToPod, execInPod, portForwardToPod, type StreamDeps } from './streams.ts';

export class DockerPlugin implements Plugin {
  readonly name = 'docker';
  readonly #cfg: DockerConfig;
  readonly #log: Logger;
  readonly #cli: DockerCli;
  readonly #index = new Map<string, IndexEntry>();
  readonly #locks = new KeyedLock();
  #loaded: Promise<void> | undefined;
  readonly #clock: Clock;
  readonly #engine: DockerEngine;
  readonly #cpu = new CpuIntegrator();
  readonly #startedAt: string;
  /** A local engine shares this host's network: the prober can reach pod addresses. */
  readonly #localEngine: boolean;
  /** What exec, attach and port-forward need of the plugin (streams.ts). */
  readonly #streams: StreamDeps;
  /** Probes and postStart hooks of the running containers (prober.ts). */
  readonly #prober: DockerProber;
  /** Starts the containers in the pod's order (sequencer.ts). */
  readonly #sequencer: Sequencer;
  /** Creates answered and not carried out yet (create-record.ts). */
  readonly #creates: CreateRecords;
  /** Deletes answered and not carried out yet, and their removal (removal.ts). */
  readonly #removal: PodRemoval;

  constructor(cfg: DockerConfig, log: Logger, cli?: DockerCli, clock: Clock = systemClock) {
    this.#cfg = cfg;
    this.#log = log;
    this.#clock = clock;
    this.#startedAt = new Date(clock.now()).toISOString();
    this.#cli =
      cli ??
      new DockerCli({
        binary: cfg.dockerCli,
        dockerHost: cfg.dockerHost,
        timeoutMs: cfg.commandTimeoutMs,
        log,
      });
    this.#engine = new DockerEngine(this.#cli, cfg);
    this.#localEngine = isLocalEngine(cfg.dockerHost);
    const common = {
      cfg,
      cli: this.#cli,
      log,
      clock,
      locks: this.#locks,
      podDir: (uid: string) => podDirOf(cfg.dataRoot, uid),
      idsOf: (uids: string[]) => idsOf(this.#index, uids),
    };
    this.#sequencer = new Sequencer({
      ...common,
      blocked: (uid) =>
        !this.#index.has(uid) ||
        this.#creates.has(uid) ||
        this.#removal.isRemoving(uid) ||
        this.#removal.recordedDelete(uid),
    });
    this.#removal = new PodRemoval({
      ...common,
      localEngine: this.#localEngine,
      index: this.#index,
      observe: (list) => this.#sequencer.observe(list),
      recorded: (uid) => this.#creates.drop(uid),
      removed: (uid, gone) => {
        this.#sequencer.forget(uid, gone);
        this.#index.delete(uid);
        this.#prober.drop(uid);
      },
    });
    this.#creates = new CreateRecords({
      ...common,
      engine: this.#engine,
      index: this.#index,
      started: this.#sequencer.started,
      deleting: (uid) => this.#removal.recordedDelete(uid),
      recorded: (uid) => this.#removal.dropTombstone(uid),
      created: (uid) => this.#sequencer.startNow(uid),
    });
    this.#prober = dockerProber({ ...common, deleting: (uid) => this.#removal.isRemoving(uid) });
    this.#streams = {
      cli: this.#cli,
      dockerHost: cfg.dockerHost,
      entry: async (uid) => {
        await this.#ensureLoaded();
        return this.#index.get(uid);
      },
    };
  }

  /** Load the index from Docker and resume sequencing. Does not throw: a dockerd that is down is retried on use. */
  async start(): Promise<void> {
    try {
      await this.#ensureLoaded();
    } catch (err) {
      this.#log.warn({ err }, 'docker not reachable at start; will retry on the first call');
    }
  }

  // ---- create (create-record.ts) --------------------------------------------------------

  /**
   * Validate, record and answer: containers are created and started in the background. A
   * repeated create of a pod whose containers all exist refreshes its volume files; of one
   * still being created, it replaces the recorded request.
   */
  async create(data: RetrievedPodData, ctx: CallContext): Promise<CreateStruct> {
    await this.#ensureLoaded();
    return this.#creates.create(data, ctx);
  }

  /** Resolves when every create answered so far is carried out or given up (tests, diagnostics). */
  createsSettled(): Promise<void> {
    return this.#creates.settled();
  }

  // ---- delete (background-delete.ts, removal.ts) ----------------------------------------

  async delete(pod: Pod, ctx: CallContext): Promise<DeleteResult | undefined> {
    await this.#ensureLoaded();
    return this.#removal.delete(pod, ctx);
  }

  /** Resolves when every delete answered so far is carried out (tests, diagnostics). */
  deletesSettled(): Promise<void> {
    return this.#removal.settled();
  }

  // ---- status -------------------------------------------------------------------------

  async status(pods: Pod[], _ctx: CallContext): Promise<PodStatus[]> {
    if (pods.length === 0) return [];
    await this.#ensureLoaded();
    this.#removal.expireTombstones();
    // What each pod was before the docker call: a background create that finishes during
    // the call indexes a pod the call did not observe, which must not read as "no container".
    const before = new Map(
      pods.map((p) => [
        p.metadata.uid,
        { rec: this.#creates.get(p.metadata.uid), entry: this.#index.get(p.metadata.uid) },
      ]),
    );
    const known = pods.map((p) => p.metadata.uid).filter((u) => before.get(u)?.entry && !before.get(u)?.rec);
    // One docker call for every pod asked about.
    const observed = await this.#sequencer.observe(idsOf(this.#index, known));
    const out: PodStatus[] = [];
    for (const pod of pods) {
      const uid = pod.metadata.uid;
      const { rec, entry } = before.get(uid) ?? {};
      if (rec) {
        out.push(creatingStatus(rec.data, jidOf(rec), rec.failure));
        continue;
      }
      if (!entry) {
        const tomb = this.#removal.tombstone(uid);
        if (tomb) out.push(tomb);
        continue;
      }
      const o: ObservedPod = observed.get(uid) ?? { ref: entry.ref, inits: [], apps: [] };
      const st = podStatus(o, { inits: entry.inits, apps: entry.apps });
      if (!this.#removal.isRemoving(uid))
        this.#prober.observe(
          uid,
          watchedOf(pod, o, podAddress(o.infra?.ins, this.#localEngine), this.#cfg.defaultGracePeriodSeconds),
        );
      st.containers = st.containers?.map((c) => this.#prober.overlay(uid, c));
      out.push(st);
    }
    return out;
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
    return [...listed, ...this.#creates.backendPods().filter((p) => !seen.has(p.UID))];
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

  exec(req: ExecQuery, io: ExecIO, _ctx: CallContext): Promise<number> {
    return execInPod(this.#streams, req, io);
  }

  attach(req: ExecQuery, io: ExecIO, _ctx: CallContext): Promise<number> {
    return attachToPod(this.#streams, req, io);
  }

  portForward(req: PortForwardQuery, conn: Duplex, ctx: CallContext): Promise<void> {
    return portForwardToPod(this.#streams, req, conn, ctx.signal);
  }

  // ---- ping / readiness (engine.ts) ----------------------------------------------------

  ping(_ctx: CallContext): Promise<PingResponse> {
    return this.#engine.ping();
  }

  notReadyReason(): Promise<string | undefined> {
    return this.#engine.notReadyReason();
  }

  /** No pod has containers left to start and no sequencing round runs (diagnostics, tests). */
  get idle(): boolean {
    return this.#sequencer.idle;
  }

  async close(): Promise<void> {
    this.#prober.close();
    this.#removal.close();
    this.#creates.close();
    this.#sequencer.close();
  }

  // ---- index ----------------------------------------------------------------------------

  #ensureLoaded(): Promise<void> {
    this.#loaded ??= this.#load().catch((err: unknown) => {
      this.#loaded = undefined;
      throw codeOf(err) === ErrorCode.INTERNAL ? unavailable(`docker: ${(err as Error).message}`, err) : err;
    });
    return this.#loaded;
  }

  /** Rebuild the index from the labels of every container of this instance, then resume what was recorded. */
  async #load(): Promise<void> {
    const ids = await containerIds(this.#cli, { [LABEL.instance]: this.#cfg.instance }, 'listing containers');
    const pods = groupByPod(await inspectIds(this.#cli, ids));
    for (const [uid, p] of pods) {
      if (this.#index.has(uid)) continue;
      this.#index.set(uid, entryOf(p));
      if (sequencing(p).pending) this.#sequencer.add(uid);
    }
    await this.#engine.info().catch((err: unknown) => this.#log.debug({ err }, 'docker info failed'));
    // Deletes answered before a restart: finish them.
    for (const [uid, grace] of await readDeleteMarkers(this.#cfg.dataRoot)) {
      this.#sequencer.drop(uid);
      this.#removal.resume(uid, grace);
    }
    // Creates answered before a restart: carry them out (again: idempotent per uid).
    for (const [uid, data] of await readCreateMarkers(this.#cfg.dataRoot)) {
      if (this.#creates.has(uid) || this.#removal.recordedDelete(uid)) continue;
      this.#sequencer.drop(uid);
      this.#creates.resume(uid, data);
    }
    this.#log.info(
      { pods: pods.size, pending: this.#sequencer.pendingCount },
      'docker plugin state rebuilt from container labels',
    );
    this.#sequencer.schedule();
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
