/**
 * The pod controller: informer → keyed queue → level-triggered `sync(key)` (DESIGN §3,
 * STYLE habits 3-5, 7), plus one status poller that asks the interLink API about every
 * active pod in ONE `/status` call per interval.
 *
 * sync(key) re-reads the pod from the cache and does one attempt at bringing the world in
 * line; it throws to be retried (the queue owns backoff). For a pod it:
 *   - deletes the backend job of an older pod with the same name (another UID) first;
 *   - deleting (deletionTimestamp): backend delete until confirmed (a Warning Event on
 *     each failure; the pod stays Terminating), containers reported terminated, then the
 *     Pod deleted with grace 0 and a UID precondition;
 *   - not yet in the backend: resolves ConfigMaps/Secrets/env/volumes/tokens, creates it,
 *     and records the job id on the Pod (annotations, written with the pod's first status
 *     write after the create; until then `adopt()` finds the pod in the backend) so a
 *     restarted VK re-adopts. A missing ConfigMap/Secret is waited for (bounded by
 *     missingResourceTimeoutMs; meanwhile Pending with containers waiting
 *     `CreateContainerConfigError` and the message, as a kubelet shows it), then the pod
 *     ends phase Failed, reason ProviderFailed, a message naming the object: terminal, so
 *     Jobs count it and `kubectl get pod` shows ProviderFailed. A create the backend
 *     refuses (not retryable) ends the same way; a retryable failure (API/plugin down)
 *     leaves the pod Pending with reason ProviderFailed and is retried with backoff;
 *   - in the backend: maps the poller's last answer to the pod status and writes it only
 *     when it changed; a pod the backend lost becomes Failed.
 * Per-pod state lives in `tracked`, owned by this controller; the queue guarantees one
 * worker per key, and the poller only records answers and enqueues — as urgent keys, so
 * status changes of pods in the backend do not wait behind a backlog of creates.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { Backoff } from '../../core/backoff.ts';
import { runWorkers, WorkQueue } from '../../core/queue.ts';
import { codeOf, ErrorCode, isRetryable } from '../../errors/index.ts';
import type { PodStatus } from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import { nodeRef, podRef } from '../events.ts';
import { httpStatusOf, KubeApiError, kubeRequest } from '../kube.ts';
import { resolveInternalIp } from '../node/address.ts';
import { describeMissing } from '../resolve/env.ts';
import { PodResolver, slimObject } from '../resolve/resolver.ts';
import {
  configErrorPending,
  deletedStatus,
  desiredStatus,
  failedStatus,
  providerFailedPending,
  type StatusContext,
  sameJson,
  transitionEvents,
} from '../status/map.ts';
import { type Controller, controllerShell, type PodLister, type VkDeps } from '../types.ts';
import { PodInformer } from './informer.ts';
import { isTerminalPhase, type KPod, type KPodStatus, keyOf, kubeTime } from './kpod.ts';
import { podMetrics } from './metrics.ts';

/** The backend's job id, and the UID of the pod it belongs to (annotations survive a copy of the manifest). */
export const JOB_ID_ANNOTATION = 'interlink.io/job-id';
export const JOB_UID_ANNOTATION = 'interlink.io/job-pod-uid';
/** Set on the pod sent with a re-create that only delivers refreshed tokens (never written to the cluster). */
export const TOKEN_REFRESH_ANNOTATION = 'interlink.io/token-refresh';

export type PodControllerDeps = Omit<VkDeps, 'pods'>;

export interface PodController extends Controller {
  /** The informer cache, for the node side and the kubelet API. */
  readonly lister: PodLister;
  /** Force one status poll now (tests, benchmarks). */
  pollNow(): Promise<void>;
}

interface Tracked {
  key: string;
  uid: string;
  /** The last version of the pod seen (kept after it left the cache, for the backend delete). */
  pod: KPod;
  jobId?: string;
  /** When we created or adopted it (ms). */
  createdAt?: number;
  backend?: PodStatus;
  missingSince?: number;
  lost?: boolean;
  waitingSince?: number;
  waitingFor?: string;
  refreshAt?: number;
  deleteConfirmed?: boolean;
  killingSent?: boolean;
  deleteFailures: number;
  deadlineKilled?: boolean;
}

const LOST_REASON = 'BackendLost';

/** What we send the API about an existing pod: the object without managedFields. */
const forApi = (pod: KPod): Pod => slimObject(pod) as unknown as Pod;

function annotatedJob(pod: KPod): string | undefined {
  const a = pod.metadata.annotations ?? {};
  const jid = a[JOB_ID_ANNOTATION];
  return jid && a[JOB_UID_ANNOTATION] === pod.metadata.uid ? jid : undefined;
}

const errMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function createPodController(deps: PodControllerDeps): PodController {
  for (const k of ['config', 'kube', 'logger', 'interlink', 'events', 'registry', 'clock'] as const) {
    if (!deps[k]) throw new Error(`createPodController: missing dependency "${k}"`);
  }
  const { config, logger: log, interlink, events, clock } = deps;
  const kc = deps.kube.kubeConfig;
  const nodeName = config.nodeName;
  // The same address the node side advertises (POD_IP, else this host's first address).
  const hostIP = resolveInternalIp(config.podIp);
  const tracked = new Map<string, Tracked>();
  const dangling = new Map<string, Pod>();
  const queue = new WorkQueue<string>({ clock, backoff: new Backoff({ initialMs: 250, maxMs: 30_000 }) });
  let firstListed: () => void = () => {};
  const listed = new Promise<void>((r) => {
    firstListed = r;
  });
  let backendReachable = true;

  const informer = new PodInformer({
    kubeConfig: kc,
    nodeName,
    logger: log.child({ component: 'pod-informer' }),
    clock,
    // A pod already in the backend (deleted, or changed) goes ahead of the creates: its
    // sync is cheap and users see its phase late otherwise (docs/performance.md).
    onChange: (key) => queue.add(key, { urgent: tracked.get(key)?.jobId !== undefined }),
    onListed: () => firstListed(),
    onRelist: (reason) => metrics.relists.inc({ reason }),
  });
  const resolver = new PodResolver({
    kubeConfig: kc,
    clock,
    tokenSeconds: config.serviceAccountTokenSeconds,
    refreshFraction: config.tokenRefreshFraction,
    ctx: {
      nodeName,
      hostIP,
      podIP: hostIP,
      nodeAllocatable: { cpu: config.resources.cpu, memory: config.resources.memory },
      kubernetesService: config.kubernetesServiceHost
        ? { host: config.kubernetesServiceHost, port: config.kubernetesServicePort ?? 443 }
        : undefined,
    },
  });
  const metrics = podMetrics(deps.registry, {
    queueDepth: () => queue.len(),
    queueDelayed: () => queue.delayedLen(),
    queueProcessing: () => queue.processingLen(),
    tracked: () => tracked.size,
    podsByPhase: () => {
      const counts: Record<string, number> = {};
      for (const p of informer.list()) {
        const phase = p.status?.phase ?? 'Pending';
        counts[phase] = (counts[phase] ?? 0) + 1;
      }
      return counts;
    },
  });

  const ctx = (): StatusContext => ({ now: kubeTime(clock.now()), hostIP, podIP: hostIP });
  const podPath = (pod: KPod) =>
    `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/pods/${encodeURIComponent(pod.metadata.name)}`;

  /**
   * Write `status` (and annotations) with the pod's resourceVersion. Resolves the updated
   * pod, or undefined when the pod is gone; throws on a conflict (after refreshing the
   * cache) and other errors, for the queue to retry.
   */
  async function writeStatus(
    pod: KPod,
    status: KPodStatus,
    annotations?: Record<string, string>,
  ): Promise<KPod | undefined> {
    const cur = pod.status ?? {};
    const patch: Record<string, unknown> = { ...status };
    for (const k of Object.keys(cur)) if (!(k in status) || status[k] === undefined) patch[k] = null;
    const body = {
      metadata: {
        uid: pod.metadata.uid,
        resourceVersion: pod.metadata.resourceVersion,
        ...(annotations ? { annotations } : {}),
      },
      status: patch,
    };
    try {
      const updated = await kubeRequest<KPod>(kc, { method: 'PATCH', path: `${podPath(pod)}/status`, body });
      metrics.statusWrites.inc({ outcome: 'ok' });
      informer.upsertIfNewer(updated);
      return updated;
    } catch (err) {
      const code = httpStatusOf(err);
      if (code === 404) {
        metrics.statusWrites.inc({ outcome: 'gone' });
        return undefined;
      }
      if (code === 409) {
        metrics.statusWrites.inc({ outcome: 'conflict' });
        const fresh = await kubeRequest<KPod>(kc, { method: 'GET', path: podPath(pod) }).catch(
          () => undefined,
        );
        if (fresh) informer.upsertIfNewer(fresh);
      } else metrics.statusWrites.inc({ outcome: 'error' });
      throw err;
    }
  }

  /** Write the status when it differs from what the pod has; emit transition events. */
  async function ensureStatus(
    pod: KPod,
    status: KPodStatus,
    annotations?: Record<string, string>,
  ): Promise<KPod | undefined> {
    const needAnnotations =
      annotations && Object.entries(annotations).some(([k, v]) => pod.metadata.annotations?.[k] !== v);
    if (!needAnnotations && sameJson(pod.status ?? {}, status)) return pod;
    const updated = await writeStatus(pod, status, needAnnotations ? annotations : undefined);
    if (updated) {
      for (const e of transitionEvents(pod.status, status))
        events.record(podRef(pod, e.fieldPath), e.type, e.reason, e.message);
    }
    return updated;
  }

  async function backendDelete(t: Tracked, pod: KPod): Promise<void> {
    try {
      await interlink.delete(forApi(pod));
      metrics.backendCalls.inc({ op: 'delete', outcome: 'ok' });
    } catch (err) {
      metrics.backendCalls.inc({ op: 'delete', outcome: 'error' });
      t.deleteFailures++;
      events.warning(
        podRef(pod),
        'BackendDeleteFailed',
        `Deleting the pod in the interLink backend failed (attempt ${t.deleteFailures}); it stays until the backend confirms: ${errMessage(err)}`,
      );
      throw err;
    }
  }

  async function deletePodObject(pod: KPod): Promise<void> {
    try {
      await kubeRequest(kc, {
        method: 'DELETE',
        path: podPath(pod),
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          gracePeriodSeconds: 0,
          preconditions: { uid: pod.metadata.uid },
        },
      });
    } catch (err) {
      const code = httpStatusOf(err);
      // Gone already, or the name now belongs to another pod: nothing of ours to delete.
      if (code === 404 || code === 409) return;
      throw err;
    }
  }

  async function handleDelete(t: Tracked, pod: KPod): Promise<void> {
    if (!t.deleteConfirmed) {
      // A finished pod has nothing to stop (the kubelet emits no Killing for it either);
      // "Deleted" below still reports the backend cleanup.
      if (!t.killingSent && !isTerminalPhase(pod.status?.phase)) {
        t.killingSent = true;
        events.normal(
          podRef(pod),
          'Killing',
          `Stopping the pod in the interLink backend${t.jobId ? ` (job ${t.jobId})` : ''}`,
        );
      }
      await backendDelete(t, pod);
      t.deleteConfirmed = true;
      events.normal(
        podRef(pod),
        'Deleted',
        `Deleted in the interLink backend${t.deleteFailures > 0 ? ` after ${t.deleteFailures} failed attempts` : ''}`,
      );
    }
    const updated = await ensureStatus(pod, deletedStatus(pod, ctx()));
    await deletePodObject(updated ?? pod);
    tracked.delete(t.key);
    log.debug({ pod: t.key, uid: t.uid }, 'pod deleted');
  }

  async function handleCreate(t: Tracked, pod: KPod): Promise<{ requeueAfterMs: number } | undefined> {
    const res = await resolver.resolve(pod);
    if (res.missing.length > 0) {
      const what = res.missing.map((m) => describeMissing(m, pod.metadata.namespace)).join('; ');
      const now = clock.now();
      t.waitingSince ??= now;
      const waited = now - t.waitingSince;
      if (waited >= config.missingResourceTimeoutMs) {
        const message = `${what} (waited ${Math.round(waited / 1000)} s); create it and recreate the pod`;
        events.warning(podRef(pod), 'ProviderFailed', message);
        await ensureStatus(pod, failedStatus(pod, 'ProviderFailed', message, ctx()));
        return undefined;
      }
      if (t.waitingFor !== what) {
        t.waitingFor = what;
        events.warning(
          podRef(pod),
          'FailedMount',
          `${what}; waiting up to ${Math.round(config.missingResourceTimeoutMs / 1000)} s for it`,
        );
      }
      await ensureStatus(pod, configErrorPending(pod, what, ctx()));
      return { requeueAfterMs: Math.min(2_000, config.missingResourceTimeoutMs - waited) };
    }
    t.waitingSince = undefined;
    t.waitingFor = undefined;
    for (const w of res.warnings) log.warn({ pod: t.key }, w);
    let jid: string;
    try {
      const answer = await interlink.create(res.request);
      metrics.backendCalls.inc({ op: 'create', outcome: 'ok' });
      jid = answer.PodJID;
    } catch (err) {
      metrics.backendCalls.inc({ op: 'create', outcome: 'error' });
      const message = `interLink create failed: ${errMessage(err)}`;
      if (isRetryable(err)) {
        events.warning(podRef(pod), 'BackendError', `${message}; retrying`);
        await ensureStatus(pod, providerFailedPending(pod, message, ctx())).catch(() => undefined);
        throw err;
      }
      events.warning(podRef(pod), 'ProviderFailed', message);
      await ensureStatus(pod, failedStatus(pod, 'ProviderFailed', message, ctx()));
      return undefined;
    }
    t.jobId = jid;
    t.createdAt = clock.now();
    t.refreshAt = res.refreshAt;
    events.normal(
      podRef(pod),
      'Submitted',
      `Submitted to the interLink API at ${interlink.describe()} as job ${jid}`,
    );
    log.debug({ pod: t.key, uid: t.uid, jid }, 'pod created in the backend');
    if (needsCorrection(pod)) {
      // The pod shows an earlier failure of ours: correct it now, with the job id.
      await ensureStatus(pod, desiredStatus(pod, undefined, ctx()), {
        [JOB_ID_ANNOTATION]: jid,
        [JOB_UID_ANNOTATION]: t.uid,
      });
    }
    // Otherwise the job id rides on the pod's next status write, which the first poll
    // answer triggers (handleActive always writes the annotations while they are missing):
    // one apiserver write per pod less, and the create sync does not wait for it. Until
    // then a restarted VK finds the pod by `adopt()` (one /status call asks the backend
    // about every non-terminal pod without the annotation) and re-adopts it; and a create
    // that reaches the plugin again is idempotent per pod UID (plugin contract).
    return refreshDelay(t);
  }

  /** Whether the pod's status shows a create problem of ours (ProviderFailed, config error) that a successful create clears. */
  function needsCorrection(pod: KPod): boolean {
    const st = pod.status;
    if (!st) return false;
    if (st.reason === 'ProviderFailed') return true;
    const waiting = [...(st.containerStatuses ?? []), ...(st.initContainerStatuses ?? [])];
    return waiting.some((c) => c.state?.waiting?.reason === 'CreateContainerConfigError');
  }

  function refreshDelay(t: Tracked): { requeueAfterMs: number } | undefined {
    const deadlines: number[] = [];
    if (t.refreshAt !== undefined) deadlines.push(t.refreshAt);
    const deadline = activeDeadline(t.pod);
    if (deadline !== undefined) deadlines.push(deadline);
    if (deadlines.length === 0) return undefined;
    return { requeueAfterMs: Math.max(0, Math.min(...deadlines) - clock.now()) };
  }

  function activeDeadline(pod: KPod): number | undefined {
    const secs = pod.spec.activeDeadlineSeconds;
    const start = Date.parse(pod.status?.startTime ?? '');
    if (typeof secs !== 'number' || !Number.isFinite(start)) return undefined;
    return start + secs * 1000;
  }

  /** Deliver fresh service-account tokens: an idempotent re-create marked as a refresh. */
  async function refreshTokens(t: Tracked, pod: KPod): Promise<void> {
    try {
      const res = await resolver.resolve(pod);
      if (res.missing.length > 0)
        throw new Error(res.missing.map((m) => describeMissing(m, pod.metadata.namespace)).join('; '));
      const sent = res.request.pod;
      sent.metadata.annotations = {
        ...sent.metadata.annotations,
        [TOKEN_REFRESH_ANNOTATION]: kubeTime(clock.now()),
      };
      await interlink.create(res.request);
      await interlink.updateCache(forApi(pod)).catch(() => undefined);
      metrics.backendCalls.inc({ op: 'refresh', outcome: 'ok' });
      t.refreshAt = res.refreshAt;
    } catch (err) {
      metrics.backendCalls.inc({ op: 'refresh', outcome: 'error' });
      log.warn(
        { pod: t.key, err: errMessage(err) },
        'service-account token refresh failed; retrying in 30 s',
      );
      t.refreshAt = clock.now() + 30_000;
    }
  }

  async function handleActive(t: Tracked, pod: KPod): Promise<{ requeueAfterMs: number } | undefined> {
    const jid = t.jobId!;
    const annotations = { [JOB_ID_ANNOTATION]: jid, [JOB_UID_ANNOTATION]: t.uid };
    const deadline = activeDeadline(pod);
    if (deadline !== undefined && clock.now() >= deadline) {
      if (!t.deadlineKilled) {
        await backendDelete(t, pod);
        t.deadlineKilled = true;
      }
      const message = `Pod was active on the node longer than the specified deadline (${pod.spec.activeDeadlineSeconds} s)`;
      events.warning(podRef(pod), 'DeadlineExceeded', message);
      await ensureStatus(
        pod,
        failedStatus(pod, 'DeadlineExceeded', message, ctx(), {
          exitCode: 137,
          reason: 'DeadlineExceeded',
          message: 'stopped at the pod active deadline',
        }),
        annotations,
      );
      return undefined;
    }
    if (t.lost) {
      const message = `The interLink backend no longer knows this pod (job ${jid}): it was lost by the backend or removed outside Kubernetes`;
      events.warning(podRef(pod), LOST_REASON, message);
      await ensureStatus(
        pod,
        failedStatus(pod, LOST_REASON, message, ctx(), {
          exitCode: 137,
          reason: 'ContainerStatusUnknown',
          message: 'The container could not be located when the pod was terminated',
        }),
        annotations,
      );
      return undefined;
    }
    if (t.refreshAt !== undefined && clock.now() >= t.refreshAt) await refreshTokens(t, pod);
    if (!t.backend) {
      // Re-adopted after a restart, or created and not polled yet: the pod's status stays as
      // it is until the backend has spoken (mapping "no answer yet" would regress Running to Pending).
      await ensureStatus(pod, pod.status ?? desiredStatus(pod, undefined, ctx()), annotations);
      return refreshDelay(t);
    }
    await ensureStatus(pod, desiredStatus(pod, t.backend, ctx()), annotations);
    return refreshDelay(t);
  }

  async function sync(key: string): Promise<{ requeueAfterMs: number } | undefined> {
    const pod = informer.get(key);
    let t = tracked.get(key);
    if (t && (!pod || pod.metadata.uid !== t.uid)) {
      // The pod we knew is gone (or replaced by a namesake): its backend job must go too.
      if (!t.deleteConfirmed) {
        await backendDelete(t, t.pod);
        events.normal(podRef(t.pod), 'Deleted', 'Deleted in the interLink backend');
      }
      tracked.delete(key);
      t = undefined;
    }
    if (!pod) return undefined;
    if (!t) {
      t = { key, uid: pod.metadata.uid, pod, deleteFailures: 0 };
      const jid = annotatedJob(pod);
      if (jid) {
        t.jobId = jid;
        t.createdAt = clock.now();
      }
      tracked.set(key, t);
    }
    t.pod = pod;
    if (pod.metadata.deletionTimestamp) {
      await handleDelete(t, pod);
      return undefined;
    }
    if (isTerminalPhase(pod.status?.phase)) {
      // Finished: the last backend answer is not needed any more (the poller skips the pod).
      t.backend = undefined;
      return undefined;
    }
    if (!t.jobId) return handleCreate(t, pod);
    return handleActive(t, pod);
  }

  /** One batched /status call for every active pod; records answers, enqueues changes. */
  async function pollOnce(signal?: AbortSignal): Promise<void> {
    const active = [...tracked.values()].filter((t) => {
      if (!t.jobId || t.deleteConfirmed || t.lost) return false;
      const cur = informer.get(t.key);
      return (
        cur !== undefined &&
        cur.metadata.uid === t.uid &&
        !isTerminalPhase(cur.status?.phase) &&
        !cur.metadata.deletionTimestamp
      );
    });
    if (active.length === 0) return;
    const started = clock.now();
    let answers: PodStatus[];
    try {
      answers = await interlink.status(
        active.map((t) => forApi(informer.get(t.key) ?? t.pod)),
        signal,
      );
      metrics.statusRoundTrips.inc({ outcome: 'ok' });
      metrics.statusLatency.observe((clock.now() - started) / 1000);
      metrics.statusPods.observe(active.length);
    } catch (err) {
      metrics.statusRoundTrips.inc({ outcome: 'error' });
      if (signal?.aborted) return;
      if (backendReachable) {
        backendReachable = false;
        const message = `Status poll of ${active.length} pods failed; pods keep their last known state: ${errMessage(err)}`;
        log.warn({ err: errMessage(err), code: codeOf(err) }, 'interLink status poll failed');
        events.warning(nodeRef(nodeName), 'BackendUnreachable', message);
      }
      return;
    }
    if (!backendReachable) {
      backendReachable = true;
      log.info('interLink status poll works again');
      events.normal(nodeRef(nodeName), 'BackendReachable', 'Status polls of the interLink API work again');
    }
    const now = clock.now();
    const byUid = new Map(answers.map((a) => [a.UID, a]));
    const known = new Set<string>();
    for (const t of active) {
      known.add(t.uid);
      const a = byUid.get(t.uid);
      if (a) {
        t.missingSince = undefined;
        if (!t.backend || !sameJson(a, t.backend)) {
          t.backend = a;
          // Status-only work: ahead of the creates, so a backlog does not hide Running.
          queue.add(t.key, { urgent: true });
        }
        continue;
      }
      t.missingSince ??= now;
      if (
        now - t.missingSince >= config.backendLostTimeoutMs &&
        now - (t.createdAt ?? now) >= config.backendLostTimeoutMs
      ) {
        t.lost = true;
        queue.add(t.key, { urgent: true });
      }
    }
    // Answers about pods that are not (or no longer) in the cluster: dangling backend jobs.
    if (informer.hasSynced) {
      for (const t of tracked.values()) known.add(t.uid);
      for (const p of informer.list()) known.add(p.metadata.uid);
      for (const a of answers) {
        if (known.has(a.UID) || dangling.has(a.UID)) continue;
        dangling.set(a.UID, { metadata: { name: a.name, namespace: a.namespace, uid: a.UID } } as Pod);
      }
    }
    await deleteDangling();
  }

  async function deleteDangling(): Promise<void> {
    for (const [uid, pod] of dangling) {
      try {
        await interlink.delete(pod);
        dangling.delete(uid);
        metrics.backendCalls.inc({ op: 'delete', outcome: 'ok' });
        log.info(
          { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid },
          'deleted a backend pod that has no Pod in the cluster',
        );
      } catch (err) {
        metrics.backendCalls.inc({ op: 'delete', outcome: 'error' });
        log.warn(
          { uid, err: errMessage(err) },
          'deleting a dangling backend pod failed; retrying at the next poll',
        );
      }
    }
  }

  /**
   * After a restart: pods without a job annotation may still have reached the backend (the
   * VK died between create and recording it). One status call finds them; they are
   * adopted, not created again.
   */
  async function adopt(signal: AbortSignal): Promise<void> {
    const candidates = informer
      .list()
      // Pending+ProviderFailed pods too: a create that timed out here may have reached the backend.
      .filter((p) => !annotatedJob(p) && !isTerminalPhase(p.status?.phase));
    if (candidates.length === 0) return;
    for (let attempt = 1; attempt <= 3 && !signal.aborted; attempt++) {
      try {
        const answers = await interlink.status(candidates.map(forApi), signal);
        const byUid = new Map(answers.map((a) => [a.UID, a]));
        for (const p of candidates) {
          const a = byUid.get(p.metadata.uid);
          if (!a) continue;
          const key = keyOf(p);
          const jid = a.JID || `adopted-${p.metadata.uid}`;
          tracked.set(key, {
            key,
            uid: p.metadata.uid,
            pod: p,
            jobId: jid,
            createdAt: clock.now(),
            backend: a,
            deleteFailures: 0,
          });
          events.normal(
            podRef(p),
            'Adopted',
            `Found in the interLink backend as job ${jid} after a restart; not submitted again`,
          );
          queue.add(key);
        }
        log.info({ asked: candidates.length, adopted: answers.length }, 'adoption check done');
        return;
      } catch (err) {
        log.warn({ err: errMessage(err), attempt }, 'adoption check: status call failed');
        await clock.sleep(1_000 * attempt, signal).catch(() => {});
      }
    }
    log.warn('adoption check skipped: the interLink API did not answer; creates rely on its idempotency');
  }

  async function pollLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await clock.sleep(config.statusIntervalMs, signal).catch(() => {});
      if (signal.aborted) break;
      try {
        await pollOnce(signal);
      } catch (err) {
        log.error({ err }, 'status poll failed unexpectedly');
      }
    }
  }

  const shell = controllerShell(async (signal, markReady) => {
    const informerDone = informer.run(signal);
    await Promise.race([
      listed,
      new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })),
    ]);
    if (signal.aborted) {
      await informerDone;
      return;
    }
    await adopt(signal);
    markReady();
    log.info(
      { pods: informer.size, workers: config.workers, statusIntervalMs: config.statusIntervalMs },
      'pod controller running',
    );
    await Promise.all([
      informerDone,
      pollLoop(signal),
      runWorkers({
        queue,
        concurrency: config.workers,
        sync,
        clock,
        signal,
        onSynced: (_key, ms, ok) => metrics.reconcile.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000),
        onError: (err, key, failures) => {
          const conflict = err instanceof KubeApiError && err.code === 409;
          const level = conflict || failures < 3 ? 'debug' : 'warn';
          log[level](
            {
              pod: key,
              failures,
              err: errMessage(err),
              code: codeOf(err) === ErrorCode.INTERNAL ? httpStatusOf(err) : codeOf(err),
            },
            'pod sync failed; will retry',
          );
        },
      }),
    ]);
  });

  return Object.assign(shell, {
    lister: {
      list: () => informer.list() as unknown as V1Pod[],
      get: (namespace: string, name: string) =>
        informer.getByName(namespace, name) as unknown as V1Pod | undefined,
    },
    pollNow: () => pollOnce(),
  });
}
