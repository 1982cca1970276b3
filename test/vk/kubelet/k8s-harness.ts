/**
 * The node side of the VK against the real control plane: a real mock plugin and a real
 * interLink API (test/api/harness.ts), our node controller and kubelet server wired as
 * run.ts wires them, and a PodLister over the apiserver (the pod controller's cache is not
 * ours to start here; `refresh()` fills it).
 */
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { inject } from 'vitest';
import { systemClock } from '../../../src/core/clock.ts';
import { freePort } from '../../../src/core/free-ports.ts';
import { createLogger, type Logger, silentLogger } from '../../../src/core/logger.ts';
import { runKubectl } from '../../../src/devcluster/cluster.ts';
import { type VkConfig, VkConfigSchema } from '../../../src/vk/config.ts';
import { createEventRecorder } from '../../../src/vk/events.ts';
import { makeKubeClients } from '../../../src/vk/kube.ts';
import { createKubeletServer } from '../../../src/vk/kubelet/server.ts';
import { createNodeController, type NodeController } from '../../../src/vk/node/controller.ts';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import { makeInterlinkClient } from '../../../src/vk/run.ts';
import type { Controller, KubeClients, PodLister, VkDeps } from '../../../src/vk/types.ts';
import { type ApiUnderTest, startApi, startMock, TOKEN, tempDir, writeTokenFile } from '../../api/harness.ts';
import { type AdminKube, adminKube } from '../admin-kube.ts';

export { freePort };

export const kubectl = (args: string[], input?: string) =>
  runKubectl(inject('k8sBinDir'), inject('kubeconfig'), args, { input });

export function testLogger(): Logger {
  return process.env.VK_TEST_LOG
    ? createLogger({ level: process.env.VK_TEST_LOG, pretty: false })
    : silentLogger();
}

/** Poll until `fn` gives a truthy value; rethrows the last error on timeout. For eventual states, not timing. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A PodLister over the apiserver, refreshed on demand (stands in for the pod controller's cache). */
export function apiPodLister(
  kube: Pick<AdminKube, 'core'>,
  nodeName: string,
): PodLister & { refresh(): Promise<void> } {
  let pods: KPod[] = [];
  return {
    list: () => pods,
    get: (ns, name) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name),
    async refresh() {
      const list = await kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
      // client-node's models hold Dates; the lister serves the apiserver's JSON, as the informer does.
      pods = JSON.parse(JSON.stringify(list.items));
    },
  };
}

export interface Stack {
  nodeName: string;
  config: VkConfig;
  kube: KubeClients;
  /** The tests' own client-node clients (admin). */
  admin: AdminKube;
  deps: VkDeps;
  pods: ReturnType<typeof apiPodLister>;
  mock: Awaited<ReturnType<typeof startMock>>;
  api: ApiUnderTest | undefined;
  apiPort: number;
  node: NodeController;
  kubelet: Controller | undefined;
  /** Stop / start the interLink API on the same port. */
  stopApi(): Promise<void>;
  startApi(): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  nodeName: string;
  /** Extra VK configuration (deep keys as in the YAML). */
  config?: Record<string, unknown>;
  /** Mock plugin overrides (capacity, logLines, ...). */
  mock?: Record<string, unknown>;
  /** Start the kubelet server too. */
  kubelet?: boolean;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const logger = testLogger();
  const t = await tempDir('vk-node-');
  const pluginSocket = join(t.dir, 'plugin.sock');
  const mock = await startMock(pluginSocket, logger, opts.mock ?? {});
  const tokenFile = await writeTokenFile(t.dir);
  const vkToken = join(t.dir, 'vk-token');
  await (await import('node:fs/promises')).writeFile(vkToken, `${TOKEN}\n`);
  const apiPort = await freePort();
  const startTheApi = () =>
    startApi({
      listen: 'tcp',
      pluginSocket,
      logger,
      overrides: { 'auth.tokenFile': tokenFile, interlinkPort: apiPort },
    });
  let api: ApiUnderTest | undefined = await startTheApi();

  const config = VkConfigSchema.parse({
    nodeName: opts.nodeName,
    kubeconfig: inject('kubeconfig'),
    interlinkUrl: 'http://127.0.0.1',
    interlinkPort: apiPort,
    vkTokenFile: vkToken,
    podIp: '127.0.0.1',
    pingIntervalMs: 1_000,
    leaseRenewIntervalMs: 2_000,
    nodeStatusIntervalMs: 5_000,
    interlinkTimeoutMs: 3_000,
    ...opts.config,
  });
  const kube = makeKubeClients(config.kubeconfig);
  const interlink = makeInterlinkClient(config, logger);
  const events = createEventRecorder({ core: kube.core, nodeName: config.nodeName, logger });
  const admin = adminKube(config.kubeconfig as string);
  const pods = apiPodLister(admin, config.nodeName);
  const deps: VkDeps = {
    config,
    kube,
    logger,
    interlink,
    events,
    pods,
    registry: new Registry(),
    clock: systemClock,
  };
  const node = createNodeController(deps);
  const kubelet = opts.kubelet ? createKubeletServer(deps) : undefined;
  const stop = new AbortController();
  const runs = [node.run(stop.signal), ...(kubelet ? [kubelet.run(stop.signal)] : [])].map((p) =>
    p.catch((err) => err),
  );
  await Promise.all([node.ready, ...(kubelet ? [kubelet.ready] : [])]);

  return {
    nodeName: config.nodeName,
    config,
    kube,
    admin,
    deps,
    pods,
    mock,
    get api() {
      return api;
    },
    apiPort,
    node,
    kubelet,
    async stopApi() {
      await api?.close();
      api = undefined;
    },
    async startApi() {
      api ??= await startTheApi();
    },
    async close() {
      stop.abort();
      await Promise.all(runs);
      await events.flush();
      await interlink.close();
      await api?.close();
      await mock.close();
      await admin.core.deleteNode({ name: config.nodeName }).catch(() => {});
      await t.cleanup();
    },
  };
}
