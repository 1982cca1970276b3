/**
 * The pod controller: informer → keyed queue → the syncer's level-triggered `sync(key)`
 * (DESIGN §3, STYLE habits 3-5, 7), plus the status poller (one `/status` call per
 * interval for every pod in the backend) and, once after the first list, the adopter.
 * This module only wires the parts; the life of a pod is documented in syncer.ts.
 */
import { Backoff } from '../../core/backoff.ts';
import type { Logger } from '../../core/logger.ts';
import { runWorkers, WorkQueue } from '../../core/queue.ts';
import { codeOf, ErrorCode } from '../../errors/index.ts';
import { httpStatusOf, KubeApiError } from '../kube.ts';
import { resolveInternalIp } from '../node/address.ts';
import { PodResolver } from '../resolve/resolver.ts';
import { apiserverMetaListWatch, SourceVersionCache } from '../resolve/source-versions.ts';
import { type Controller, controllerShell, type PodLister, type VkDeps } from '../types.ts';
import { adoptFromBackend } from './adopter.ts';
import { type InformerOptions, PodInformer } from './informer.ts';
import { errMessage } from './job.ts';
import type { KPod } from './kpod.ts';
import { createKubeWriter } from './kube-writer.ts';
import { PodState } from './lifecycle.ts';
import { oldestPendingSeconds, podMetrics } from './metrics.ts';
import { createStatusPoller } from './poller.ts';
import { PodSyncer } from './syncer.ts';

export { JOB_ID_ANNOTATION, JOB_UID_ANNOTATION, TOKEN_REFRESH_ANNOTATION } from './job.ts';

/** The informer as the controller uses it (a fake in unit tests). */
export interface PodSource {
  run(signal: AbortSignal): Promise<void>;
  get(key: string): KPod | undefined;
  getByName(namespace: string, name: string): KPod | undefined;
  list(): KPod[];
  upsertIfNewer(pod: KPod): void;
  readonly hasSynced: boolean;
  readonly size: number;
}

export type PodSourceHandlers = Pick<InformerOptions, 'onChange' | 'onListed' | 'onRelist'>;

export type PodControllerDeps = Omit<VkDeps, 'pods'> & {
  /** Build the pod source (default: a PodInformer on `kube.kubeConfig`; tests pass a fake). */
  podSource?: (handlers: PodSourceHandlers) => PodSource;
};

export interface PodController extends Controller {
  /** The informer cache, for the node side and the kubelet API. */
  readonly lister: PodLister;
  /** Force one status poll now (tests, benchmarks). */
  pollNow(): Promise<void>;
}

export function createPodController(deps: PodControllerDeps): PodController {
  for (const k of ['config', 'kube', 'logger', 'interlink', 'events', 'registry', 'clock'] as const) {
    if (!deps[k]) throw new Error(`createPodController: missing dependency "${k}"`);
  }
  const { config, logger: log, interlink, events, clock } = deps;
  const kc = deps.kube.kubeConfig;
  // The same address the node side advertises (POD_IP, else this host's first address).
  const hostIP = resolveInternalIp(config.podIp);
  const queue = new WorkQueue<string>({ clock, backoff: new Backoff({ initialMs: 250, maxMs: 30_000 }) });
  let firstListed: () => void = () => {};
  const listed = new Promise<void>((r) => {
    firstListed = r;
  });

  const handlers: PodSourceHandlers = {
    // A pod already in the backend (deleted, or changed) goes ahead of the creates: its
    // sync is cheap and users see its phase late otherwise (docs/performance.md).
    onChange: (key) => queue.add(key, { urgent: syncer.inBackend(key) }),
    onListed: () => firstListed(),
    onRelist: (reason) => metrics.relists.inc({ reason }),
  };
  const informer: PodSource =
    deps.podSource?.(handlers) ??
    new PodInformer({
      kubeConfig: kc,
      nodeName: config.nodeName,
      logger: log.child({ component: 'pod-informer' }),
      clock,
      ...handlers,
    });
  const metrics = podMetrics(deps.registry, {
    queueDepth: () => queue.len(),
    queueDelayed: () => queue.delayedLen(),
    queueProcessing: () => queue.processingLen(),
    tracked: () => syncer.records.size,
    podsByPhase: () => countByPhase(informer.list()),
    oldestPendingSeconds: () => oldestPendingSeconds(informer.list(), clock.now()),
  });
  // The volume resync reads watched versions, not a GET per object per pod per period.
  const sourceVersions =
    config.volumeResyncSeconds > 0
      ? new SourceVersionCache({
          listWatch: apiserverMetaListWatch(kc),
          clock,
          logger: log.child({ component: 'volume-sources' }),
          idleMs: 3 * config.volumeResyncSeconds * 1000,
        })
      : undefined;
  const syncer = new PodSyncer({
    cache: informer,
    writer: createKubeWriter({
      kubeConfig: kc,
      upsert: (p) => informer.upsertIfNewer(p),
      metrics,
      now: () => clock.now(),
    }),
    interlink,
    resolver: makeResolver(deps, hostIP, sourceVersions),
    events,
    clock,
    logger: log,
    metrics,
    hostIP,
    missingResourceTimeoutMs: config.missingResourceTimeoutMs,
    volumeResyncMs: config.volumeResyncSeconds * 1000,
    // A pod just in the backend gets a first look soon rather than at the next interval.
    onTransition: (_key, _from, to) => {
      if (to === PodState.InBackend) poller.submitted();
    },
  });
  const poller = createStatusPoller({
    records: () => syncer.records.values(),
    cache: informer,
    interlink,
    // Status-only work: ahead of the creates, so a backlog does not hide Running.
    enqueue: (key) => queue.add(key, { urgent: true }),
    events,
    clock,
    logger: log,
    metrics,
    nodeName: config.nodeName,
    backendLostTimeoutMs: config.backendLostTimeoutMs,
    intervalMs: config.statusIntervalMs,
    firstLookMs: config.statusFirstLookMs,
  });

  const shell = controllerRun({
    config,
    log,
    interlink,
    events,
    clock,
    informer,
    listed,
    syncer,
    queue,
    poller,
    sourceVersions,
    metrics,
  });

  return Object.assign(shell, {
    lister: {
      list: () => informer.list(),
      get: (namespace: string, name: string) => informer.getByName(namespace, name),
    },
    pollNow: () => poller.pollOnce(),
  });
}

/** What the controller's run loop drives, built by createPodController. */
interface RunParts {
  config: PodControllerDeps['config'];
  log: PodControllerDeps['logger'];
  interlink: PodControllerDeps['interlink'];
  events: PodControllerDeps['events'];
  clock: PodControllerDeps['clock'];
  informer: PodSource;
  listed: Promise<void>;
  syncer: PodSyncer;
  queue: WorkQueue<string>;
  poller: ReturnType<typeof createStatusPoller>;
  sourceVersions: SourceVersionCache | undefined;
  metrics: ReturnType<typeof podMetrics>;
}

/**
 * The run loop: the informer's first list, adoption of what the backend already runs, then
 * the informer, the status poller, the volume-source watch and the sync workers together.
 */
function controllerRun(p: RunParts) {
  const { config, log, informer, syncer, queue } = p;
  return controllerShell(async (signal, markReady) => {
    const informerDone = informer.run(signal);
    await Promise.race([p.listed, aborted(signal)]);
    if (signal.aborted) {
      await informerDone;
      return;
    }
    const adopt = (pod: KPod, jobId: string, answer: Parameters<PodSyncer['adopt']>[2], key: string) => {
      syncer.adopt(pod, jobId, answer, key);
      queue.add(key);
    };
    const { interlink, events, clock } = p;
    await adoptFromBackend({ cache: informer, interlink, adopt, events, clock, logger: log }, signal);
    markReady();
    log.info(
      { pods: informer.size, workers: config.workers, statusIntervalMs: config.statusIntervalMs },
      'pod controller running',
    );
    await Promise.all([
      informerDone,
      p.poller.run(signal),
      p.sourceVersions?.run(signal),
      runWorkers({
        queue,
        concurrency: config.workers,
        sync: (key) => syncer.sync(key),
        clock,
        signal,
        onSynced: (_key, ms, ok) => p.metrics.reconcile.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000),
        onError: logSyncError(log),
      }),
    ]);
  });
}

function makeResolver(
  deps: PodControllerDeps,
  hostIP: string | undefined,
  sourceVersions: SourceVersionCache | undefined,
): PodResolver {
  const { config } = deps;
  return new PodResolver({
    ...(sourceVersions ? { sourceVersions } : {}),
    kubeConfig: deps.kube.kubeConfig,
    clock: deps.clock,
    tokenSeconds: config.serviceAccountTokenSeconds,
    refreshFraction: config.tokenRefreshFraction,
    ctx: {
      nodeName: config.nodeName,
      hostIP,
      podIP: hostIP,
      nodeAllocatable: { cpu: config.resources.cpu, memory: config.resources.memory },
      kubernetesService: config.kubernetesServiceHost
        ? { host: config.kubernetesServiceHost, port: config.kubernetesServicePort ?? 443 }
        : undefined,
    },
  });
}

/** A failed sync is retried by the queue; say so quietly at first (conflicts always quietly). */
function logSyncError(log: Logger) {
  return (err: unknown, key: string, failures: number) => {
    const conflict = err instanceof KubeApiError && err.code === 409;
    const level = conflict || failures < 3 ? 'debug' : 'warn';
    const code = codeOf(err) === ErrorCode.INTERNAL ? httpStatusOf(err) : codeOf(err);
    log[level]({ pod: key, failures, err: errMessage(err), code }, 'pod sync failed; will retry');
  };
}

function countByPhase(pods: KPod[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of pods) {
    const phase = p.status?.phase ?? 'Pending';
    counts[phase] = (counts[phase] ?? 0) + 1;
  }
  return counts;
}

const aborted = (signal: AbortSignal) =>
  new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
