/**
 * The virtual node's life: registration, heartbeat and health (DESIGN.md §3).
 *
 * Two loops, so a slow interLink API can never delay the heartbeat:
 *  - the ping loop asks the API (`/pinglink`) every pingIntervalMs and records the outcome
 *    (ok / API down / plugin down, plus the plugin's resources and taints); a change of
 *    readiness or of what the plugin reports wakes the node loop at once;
 *  - the node loop owns every write to the apiserver, one at a time: each tick (the lease
 *    renew interval, ~10 s) it checks the Node still exists (recreating it if someone
 *    deleted it), renews the Lease `kube-node-lease/<node>`, and patches the node status
 *    when readiness changed or nodeStatusIntervalMs passed.
 *
 * Status patches are strategic-merge patches of our own conditions only (merged by
 * `type`), so conditions and taints other agents set survive. The loop is
 * level-triggered: a failed write is retried at the next tick (sooner for the lease).
 */
import { readFileSync } from 'node:fs';
import {
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  V1MicroTime,
  type V1Node,
  type V1NodeCondition,
} from '@kubernetes/client-node';
import { Counter, Gauge, Histogram } from 'prom-client';
import { Backoff } from '../../core/backoff.ts';
import type { PingResponse } from '../../wire/interlink.ts';
import { nodeRef } from '../events.ts';
import type { Controller, NodeControllerDeps } from '../types.ts';
import { controllerShell } from '../types.ts';
import { resolveInternalIp } from './address.ts';
import {
  buildNode,
  capacityPatch,
  type NodeInput,
  nodeAddresses,
  nodeCapacity,
  nodeInfo,
  nodeSpecPatch,
} from './build.ts';
import {
  classifyPingError,
  computeConditions,
  OUR_CONDITIONS,
  type PingOutcome,
  readinessChanged,
} from './conditions.ts';

export const LEASE_NAMESPACE = 'kube-node-lease';

const strategicMerge = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function ourVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return '0.0.0';
  }
}

/** HTTP status of an apiserver error from client-node (ApiException.code), if any. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

const rfc3339 = (d: Date | string | undefined) =>
  d instanceof Date ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : d;

export interface NodeControllerOptions {
  /** Our release, for nodeInfo.kubeletVersion (default: package.json). */
  version?: string;
  /** Bound on the first ping before registering (default 5 s). */
  initialPingTimeoutMs?: number;
}

export interface NodeController extends Controller {
  /** The last ping outcome (tests, /readyz). */
  lastPing(): PingOutcome;
}

export function createNodeController(
  deps: NodeControllerDeps,
  options: NodeControllerOptions = {},
): NodeController {
  for (const k of ['config', 'kube', 'logger', 'interlink', 'events', 'registry', 'clock'] as const) {
    if (!deps[k]) throw new Error(`createNodeController: missing dependency "${k}"`);
  }
  const { config, kube, interlink, events, clock } = deps;
  const log = deps.logger;
  const name = config.nodeName;
  const input: NodeInput = {
    nodeName: name,
    resources: config.resources,
    nodeLabels: config.nodeLabels,
    nodeTaints: config.nodeTaints,
    kubeletPort: config.kubeletHttp.port,
    internalIp: resolveInternalIp(config.podIp),
    version: options.version ?? ourVersion(),
  };
  const ref = nodeRef(name);

  const pingTotal = new Counter({
    name: 'interlink_vk_ping_total',
    help: 'Pings of the interLink API by result (ok, api_down, plugin_down)',
    labelNames: ['result'],
    registers: [deps.registry],
  });
  const pingSeconds = new Histogram({
    name: 'interlink_vk_ping_duration_seconds',
    help: 'Round-trip time of /pinglink',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [deps.registry],
  });
  const readyGauge = new Gauge({
    name: 'interlink_vk_node_ready',
    help: '1 when the virtual node reports Ready=True',
    registers: [deps.registry],
  });
  const writes = new Counter({
    name: 'interlink_vk_node_writes_total',
    help: 'Writes of the Node and its Lease by kind (lease, status, spec, create) and result',
    labelNames: ['kind', 'result'],
    registers: [deps.registry],
  });

  let outcome: PingOutcome = { kind: 'unknown', message: 'the interLink API has not been pinged yet' };
  /** The last structured ping answer: resources and taints survive an outage. */
  let lastResponse: PingResponse | undefined;
  let wake = new AbortController();
  const kick = () => wake.abort();

  async function pingOnce(signal: AbortSignal, timeoutMs: number): Promise<void> {
    const started = clock.now();
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    let next: PingOutcome;
    try {
      const answer = await interlink.ping(bounded);
      next = { kind: 'ok', response: typeof answer === 'string' ? undefined : answer };
    } catch (err) {
      if (signal.aborted) return;
      next = classifyPingError(err);
    }
    pingSeconds.observe((clock.now() - started) / 1000);
    pingTotal.inc({
      result: next.kind === 'ok' ? 'ok' : next.kind === 'api-down' ? 'api_down' : 'plugin_down',
    });
    const before = outcome;
    outcome = next;
    let changed = before.kind !== next.kind;
    if (
      next.kind === 'ok' &&
      next.response &&
      JSON.stringify(next.response) !== JSON.stringify(lastResponse)
    ) {
      lastResponse = next.response;
      changed = true;
    }
    if (next.kind !== 'ok' && before.kind === 'ok')
      log.warn({ reason: next.kind, message: next.message }, 'interLink ping failed');
    if (next.kind === 'ok' && before.kind !== 'ok') log.info('interLink ping succeeded');
    if (changed) kick();
  }

  async function pingLoop(signal: AbortSignal): Promise<void> {
    const timeoutMs = Math.min(config.pingIntervalMs, config.interlinkTimeoutMs);
    for (;;) {
      await clock.sleep(config.pingIntervalMs, signal);
      await pingOnce(signal, timeoutMs);
    }
  }

  // ---- node writes (only from the node loop) ----------------------------------------

  let node: V1Node | undefined;
  /** Conditions as we last wrote them (or found them): transitions and Events are relative to these. */
  let written: V1NodeCondition[] | undefined;
  let appliedResponse: string | undefined;
  let lastStatusAt = 0;

  async function readNode(): Promise<V1Node | undefined> {
    try {
      return await kube.core.readNode({ name });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Create the node if absent, else bring our labels/taints up to date. Then a full status patch. */
  async function ensureNode(existing: V1Node | undefined): Promise<void> {
    if (!existing) {
      const fresh = buildNode(input, lastResponse);
      fresh.status = {
        ...fresh.status,
        conditions: computeConditions(outcome, undefined, new Date(clock.now())),
      };
      try {
        node = await kube.core.createNode({ body: fresh });
        writes.inc({ kind: 'create', result: 'ok' });
        log.info({ uid: node.metadata?.uid }, 'node registered');
        events.normal(
          ref,
          'RegisteredNode',
          `Node ${name} registered with the apiserver by the interLink virtual kubelet`,
        );
        // Nothing reported yet as far as Events go: the first status patch announces readiness.
        written = [];
      } catch (err) {
        writes.inc({ kind: 'create', result: 'error' });
        // Someone (a previous instance) created it meanwhile: adopt it.
        if (statusOf(err) !== 409) throw err;
        node = await readNode();
        if (!node) throw err;
        written = undefined;
      }
    } else {
      node = existing;
      written = undefined;
    }
    written ??= node.status?.conditions?.filter((c) =>
      (OUR_CONDITIONS as readonly string[]).includes(c.type),
    );
    await patchSpec();
    await patchStatus();
  }

  async function patchSpec(): Promise<void> {
    if (!node) return;
    const patch = nodeSpecPatch(node, input, lastResponse);
    if (!patch) return;
    try {
      node = await kube.core.patchNode({ name, body: patch }, mergePatch);
      writes.inc({ kind: 'spec', result: 'ok' });
    } catch (err) {
      writes.inc({ kind: 'spec', result: 'error' });
      // 409: the node changed under us; the next tick re-reads it and tries again.
      if (statusOf(err) === 409) {
        node = (await readNode()) ?? node;
        return;
      }
      throw err;
    }
  }

  async function patchStatus(): Promise<void> {
    if (!node) return;
    const now = new Date(clock.now());
    const conditions = computeConditions(outcome, written, now);
    const capacity = nodeCapacity(input.resources, lastResponse);
    const body = {
      status: {
        capacity: capacityPatch(node.status?.capacity, capacity),
        allocatable: capacityPatch(node.status?.allocatable, capacity),
        conditions: conditions.map((c) => ({
          ...c,
          lastHeartbeatTime: rfc3339(c.lastHeartbeatTime),
          lastTransitionTime: rfc3339(c.lastTransitionTime),
        })),
        addresses: nodeAddresses(input),
        daemonEndpoints: { kubeletEndpoint: { Port: input.kubeletPort } },
        nodeInfo: nodeInfo(input),
      },
    };
    try {
      node = await kube.core.patchNodeStatus({ name, body }, strategicMerge);
      writes.inc({ kind: 'status', result: 'ok' });
    } catch (err) {
      writes.inc({ kind: 'status', result: 'error' });
      throw err;
    }
    lastStatusAt = clock.now();
    appliedResponse = JSON.stringify(lastResponse);
    const ready = conditions.find((c) => c.type === 'Ready');
    readyGauge.set(ready?.status === 'True' ? 1 : 0);
    if (readinessChanged(written, conditions)) {
      if (ready?.status === 'True') events.normal(ref, 'NodeReady', `Node ${name} status is now: NodeReady`);
      else
        events.warning(
          ref,
          'NodeNotReady',
          `Node ${name} status is now: NodeNotReady (${ready?.reason}): ${ready?.message}`,
        );
      log.info({ ready: ready?.status, reason: ready?.reason }, 'node readiness changed');
    }
    written = conditions;
  }

  // ---- lease --------------------------------------------------------------------------

  let lease: V1Lease | undefined;

  function ownerRefs(): V1Lease['metadata'] {
    const uid = node?.metadata?.uid;
    return {
      name,
      namespace: LEASE_NAMESPACE,
      ...(uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid }] } : {}),
    };
  }

  async function renewLease(): Promise<void> {
    const now = new V1MicroTime(clock.now());
    const spec = { holderIdentity: name, leaseDurationSeconds: config.leaseDurationSeconds, renewTime: now };
    try {
      if (!lease) {
        try {
          lease = await kube.coordination.readNamespacedLease({ name, namespace: LEASE_NAMESPACE });
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
          lease = await kube.coordination.createNamespacedLease({
            namespace: LEASE_NAMESPACE,
            body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: ownerRefs(), spec },
          });
          writes.inc({ kind: 'lease', result: 'ok' });
          return;
        }
      }
      const uid = node?.metadata?.uid;
      const owned = lease.metadata?.ownerReferences?.some((o) => o.kind === 'Node' && o.uid === uid);
      const body: V1Lease = {
        ...lease,
        metadata: {
          ...lease.metadata,
          ...(uid && !owned ? { ownerReferences: ownerRefs()?.ownerReferences } : {}),
        },
        spec: { ...lease.spec, ...spec },
      };
      lease = await kube.coordination.replaceNamespacedLease({ name, namespace: LEASE_NAMESPACE, body });
      writes.inc({ kind: 'lease', result: 'ok' });
    } catch (err) {
      writes.inc({ kind: 'lease', result: 'error' });
      // Stale (409) or deleted (404, e.g. garbage-collected with a deleted Node): start over next time.
      lease = undefined;
      throw err;
    }
  }

  // ---- the node loop --------------------------------------------------------------------

  const shell = controllerShell(async (signal, markReady) => {
    const pingAbort = new AbortController();
    const onAbort = () => pingAbort.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    // First ping before registering, so the node appears with its real state.
    await pingOnce(
      pingAbort.signal,
      options.initialPingTimeoutMs ?? Math.min(5_000, config.interlinkTimeoutMs),
    );
    const pings = pingLoop(pingAbort.signal).catch((err) => {
      if (!pingAbort.signal.aborted) log.error({ err }, 'ping loop ended');
    });
    const retry = new Backoff({ initialMs: 200, maxMs: 7_000 });
    let failures = 0;
    let isReady = false;
    try {
      for (;;) {
        if (signal.aborted) return;
        wake = new AbortController();
        try {
          const current = await readNode();
          if (!current || !node || current.metadata?.uid !== node.metadata?.uid) {
            if (!current && node) log.warn('node was deleted; registering it again');
            await ensureNode(current);
            lease = undefined;
          } else {
            node = current;
            const pluginChanged = JSON.stringify(lastResponse) !== appliedResponse;
            if (pluginChanged) await patchSpec();
            // Due if waiting for the next tick would stretch the interval past nodeStatusIntervalMs.
            const due =
              clock.now() + config.leaseRenewIntervalMs > lastStatusAt + config.nodeStatusIntervalMs;
            const readyNow = computeConditions(outcome, written, new Date(clock.now()));
            if (due || pluginChanged || readinessChanged(written, readyNow)) await patchStatus();
          }
          await renewLease();
          failures = 0;
          if (!isReady) {
            isReady = true;
            markReady();
          }
        } catch (err) {
          if (signal.aborted) return;
          failures++;
          log.warn({ err: (err as Error).message, failures }, 'node heartbeat failed; retrying');
        }
        const delay =
          failures > 0
            ? Math.min(retry.delay(failures), config.leaseRenewIntervalMs)
            : config.leaseRenewIntervalMs;
        try {
          await clock.sleep(delay, AbortSignal.any([signal, wake.signal]));
        } catch {
          // woken by the ping loop, or stopping (checked at the top)
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      pingAbort.abort();
      await pings;
    }
  });

  return { ...shell, lastPing: () => outcome };
}
