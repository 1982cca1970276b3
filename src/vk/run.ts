/**
 * `interlink vk`: configuration → clients → controllers. No business logic here; the
 * parts are the pod controller (src/vk/pods), the node controller (src/vk/node) and the
 * kubelet API server (src/vk/kubelet), all Controllers (STYLE habit 7).
 *
 * Resolves when `signal` aborts and every part has stopped; rejects (after stopping the
 * others) when one part fails for good.
 */
import { Registry } from 'prom-client';
import { type Clock, systemClock } from '../core/clock.ts';
import { createServer, listenOn } from '../core/http-server.ts';
import type { Logger } from '../core/logger.ts';
import { loadVkConfig, type VkConfig } from './config.ts';
import { createEventRecorder } from './events.ts';
import { createInterlinkClient, type InterlinkClient } from './interlink-client.ts';
import { interlinkConnection } from './interlink-connection.ts';
import { makeKubeClients } from './kube.ts';
import { createKubeletServer } from './kubelet/server.ts';
import { createNodeController } from './node/controller.ts';
import { createOrphanSweeper, podExistsVia } from './orphans.ts';
import { createPodController } from './pods/controller.ts';
import type { Controller, VkDeps } from './types.ts';

export interface RunVkOptions {
  configFile?: string | undefined;
  nodeName?: string | undefined;
  kubeconfig?: string | undefined;
  /** A kubeconfig context other than the current one (flag --context). */
  context?: string | undefined;
  logger: Logger;
  signal: AbortSignal;
  /** Environment to read (default process.env); tests pass their own. */
  env?: NodeJS.ProcessEnv;
  /** Resolves once every part is ready (tests). */
  onReady?: () => void;
}

export async function runVirtualKubelet(opts: RunVkOptions): Promise<void> {
  const config = loadVkConfig({
    file: opts.configFile,
    flags: { nodeName: opts.nodeName, kubeconfig: opts.kubeconfig, kubeContext: opts.context },
    logger: opts.logger,
    ...(opts.env ? { env: opts.env } : {}),
  });
  const logger = opts.logger.child({ component: 'vk', node: config.nodeName });
  const kube = makeKubeClients(config.kubeconfig, opts.env, config.kubeContext);
  const interlink = makeInterlinkClient(config, logger);
  const registry = new Registry();
  const clock: Clock = systemClock;
  const events = createEventRecorder({
    core: kube.core,
    nodeName: config.nodeName,
    logger: logger.child({ component: 'events' }),
    registry,
    qps: config.eventRecordQps,
    burst: config.eventBurst,
  });
  logger.info(
    {
      apiserver: kube.kubeConfig.server,
      context: kube.kubeConfig.context,
      interlink: interlink.describe(),
      workers: config.workers,
    },
    'virtual kubelet starting',
  );

  const base: Omit<VkDeps, 'pods'> = { config, kube, logger, interlink, events, registry, clock };
  const pods = createPodController({ ...base, logger: logger.child({ component: 'pods' }) });
  const deps: VkDeps = { ...base, pods: pods.lister };
  const parts: Array<[string, Controller]> = [
    ['node', createNodeController({ ...deps, logger: logger.child({ component: 'node' }) })],
    ['pods', pods],
    ['kubelet', createKubeletServer({ ...deps, logger: logger.child({ component: 'kubelet' }) })],
  ];
  if (config.orphanSweepIntervalMs > 0) {
    const sweeper = createOrphanSweeper({
      ...deps,
      logger: logger.child({ component: 'orphans' }),
      podsReady: pods.ready,
      podExists: podExistsVia(kube),
      nodeName: config.nodeName,
      intervalMs: config.orphanSweepIntervalMs,
      graceMs: config.orphanGraceMs,
    });
    parts.push(['orphans', sweeper]);
  }

  const stop = new AbortController();
  const onAbort = () => stop.abort(opts.signal.reason);
  if (opts.signal.aborted) onAbort();
  opts.signal.addEventListener('abort', onAbort, { once: true });

  // Readiness of each part, recorded as it settles (for /readyz).
  const state = new Map<string, 'starting' | 'ready' | 'failed'>(parts.map(([name]) => [name, 'starting']));
  for (const [name, c] of parts)
    c.ready.then(
      () => state.set(name, 'ready'),
      () => state.set(name, 'failed'),
    );

  let metricsClose: (() => Promise<void>) | undefined;
  if (config.metricsPort > 0) {
    const { app } = createServer({
      logger: logger.child({ component: 'metrics' }),
      metricsPrefix: 'interlink_vk',
      registry,
      notReadyReason: () =>
        [...state]
          .filter(([, st]) => st !== 'ready')
          .map(([name, st]) => `${name} ${st}`)
          .join(', ') || undefined,
    });
    const where = await listenOn(app, {
      kind: 'tcp',
      protocol: 'http',
      host: config.metricsAddress,
      port: config.metricsPort,
    });
    logger.info({ address: where }, 'metrics and health endpoints listening');
    metricsClose = () => app.close();
  }

  let failure: unknown;
  const runs = parts.map(([name, c]) =>
    c.run(stop.signal).catch((err) => {
      if (!stop.signal.aborted) {
        logger.error({ err, part: name }, `virtual kubelet part "${name}" failed; stopping`);
        failure ??= err;
        stop.abort(err);
      }
    }),
  );
  Promise.all(parts.map(([, c]) => c.ready))
    .then(() => {
      logger.info('virtual kubelet ready');
      opts.onReady?.();
    })
    .catch(() => {});
  try {
    await Promise.all(runs);
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    // What a burst left queued goes out now, unlimited: it would be lost with the process.
    await events.close().catch(() => {});
    await metricsClose?.().catch(() => {});
    await interlink.close().catch(() => {});
    logger.info('virtual kubelet stopped');
  }
  if (failure) throw failure;
}

export function makeInterlinkClient(config: VkConfig, logger: Logger): InterlinkClient {
  const conn = interlinkConnection(config);
  const { endpoint } = conn;
  if (conn.tls.insecureSkipVerify && endpoint.kind === 'tcp' && endpoint.protocol === 'https') {
    logger.warn('HTTP.Insecure is set: the interLink API certificate is NOT verified');
  }
  return createInterlinkClient({
    ...conn,
    // Status polls, creates and log follows share the pool; follows hold a socket each.
    connections: Math.max(16, config.workers * 2),
  });
}
