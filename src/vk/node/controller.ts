/**
 * The virtual node's life: registration, heartbeat and health (DESIGN.md §3), wiring three
 * parts: the Pinger (./pinger.ts), the NodeRegistrar (./registrar.ts, the Node object) and
 * the LeaseRenewer (./lease.ts).
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
import { Backoff } from '../../core/backoff.ts';
import type { Controller, NodeControllerDeps } from '../types.ts';
import { controllerShell } from '../types.ts';
import { resolveInternalIp } from './address.ts';
import type { NodeInput } from './build.ts';
import type { PingOutcome } from './conditions.ts';
import { LeaseRenewer } from './lease.ts';
import { nodeMetrics } from './metrics.ts';
import { Pinger } from './pinger.ts';
import { NodeRegistrar, ourVersion } from './registrar.ts';

export { LEASE_NAMESPACE } from './lease.ts';

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
  const { config, kube, clock } = deps;
  const log = deps.logger;
  const input: NodeInput = {
    nodeName: config.nodeName,
    resources: config.resources,
    nodeLabels: config.nodeLabels,
    nodeTaints: config.nodeTaints,
    kubeletPort: config.kubeletHttp.port,
    internalIp: resolveInternalIp(config.podIp),
    version: options.version ?? ourVersion(),
  };
  const metrics = nodeMetrics(deps.registry);
  let wake = new AbortController();
  const pinger = new Pinger(deps.interlink, clock, log, metrics, () => wake.abort(), config.notReadyAfterMs);
  const registrar = new NodeRegistrar({ kube, clock, log, events: deps.events, metrics, pinger }, input);
  const lease = new LeaseRenewer(kube, clock, config.nodeName, config.leaseDurationSeconds, metrics.writes);

  /** One heartbeat: the Node exists and is ours, its status is current, the Lease renewed. */
  async function beat(): Promise<void> {
    const current = await registrar.read();
    const known = registrar.node;
    if (!current || !known || current.metadata?.uid !== known.metadata?.uid) {
      if (!current && known) log.warn('node was deleted; registering it again');
      await registrar.ensure(current);
      lease.reset();
    } else {
      registrar.node = current;
      const pluginChanged = registrar.pluginChanged();
      if (pluginChanged) await registrar.patchSpec();
      // Due if waiting for the next tick would stretch the interval past nodeStatusIntervalMs.
      const due =
        clock.now() + config.leaseRenewIntervalMs > registrar.lastStatusAt + config.nodeStatusIntervalMs;
      if (due || pluginChanged || registrar.readinessDue()) await registrar.patchStatus();
    }
    await lease.renew(registrar.node?.metadata?.uid);
  }

  /** Heartbeats every lease interval (sooner on failure, or when the pinger wakes us) until aborted. */
  async function nodeLoop(signal: AbortSignal, markReady: () => void): Promise<void> {
    const retry = new Backoff({ initialMs: 200, maxMs: 7_000 });
    let failures = 0;
    let isReady = false;
    while (!signal.aborted) {
      wake = new AbortController();
      try {
        await beat();
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
  }

  const shell = controllerShell(async (signal, markReady) => {
    const pingAbort = new AbortController();
    const onAbort = () => pingAbort.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    // First ping before registering, so the node appears with its real state.
    await pinger.once(
      pingAbort.signal,
      options.initialPingTimeoutMs ?? Math.min(5_000, config.interlinkTimeoutMs),
    );
    // A loaded API may answer late, and pings never overlap, so a ping may take the whole
    // interLink timeout, but no longer than the grace before NotReady, so an outage is seen in time.
    const timeoutMs = Math.min(
      config.interlinkTimeoutMs,
      Math.max(config.notReadyAfterMs, config.pingIntervalMs),
    );
    const pings = pinger.loop(pingAbort.signal, config.pingIntervalMs, timeoutMs).catch((err) => {
      if (!pingAbort.signal.aborted) log.error({ err }, 'ping loop ended');
    });
    try {
      await nodeLoop(signal, markReady);
    } finally {
      signal.removeEventListener('abort', onAbort);
      pingAbort.abort();
      await pings;
    }
  });

  return { ...shell, lastPing: () => pinger.outcome };
}
