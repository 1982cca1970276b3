/**
 * The whole chain for pod-side tests against the real control plane: a mock plugin
 * (in this process, wrapped to record what `create` received) on a unix socket, the real
 * interLink API on a unix socket with token auth, and the virtual kubelet started through
 * runVirtualKubelet (in process) or `node src/cli/main.ts vk` (a child process, for kill -9).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../src/core/free-ports.ts';
import { listenOn } from '../../src/core/http-server.ts';
import { createLogger, type Logger, silentLogger } from '../../src/core/logger.ts';
import { runKubectl } from '../../src/devcluster/cluster.ts';
import { DEFAULT_BEHAVIOUR, type MockDefaults } from '../../src/plugins/mock/behaviour.ts';
import { createMockPlugin, type MockPlugin } from '../../src/plugins/mock/plugin.ts';
import { buildPluginApp } from '../../src/plugins/sdk/server.ts';
import { makeKubeClients } from '../../src/vk/kube.ts';
import { runVirtualKubelet } from '../../src/vk/run.ts';
import type { KubeClients } from '../../src/vk/types.ts';
import type { RetrievedPodData } from '../../src/wire/interlink.ts';
import { type ApiUnderTest, startApi, TOKEN, tempDir, writeTokenFile } from '../api/harness.ts';
import { type AdminKube, adminKube } from './admin-kube.ts';

export { freePort };

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export const kubectl = (args: string[], input?: string) =>
  runKubectl(inject('k8sBinDir'), inject('kubeconfig'), args, { input });

export function testLogger(name = 'vk'): Logger {
  return process.env.VK_TEST_LOG
    ? createLogger({ level: process.env.VK_TEST_LOG, pretty: false, name })
    : silentLogger();
}

/** Poll until `fn` gives a truthy value; rethrows the last error on timeout. For eventual states, never timing. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false | null>,
  timeoutMs = 60_000,
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
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface PodStackOptions {
  nodeName: string;
  namespace: string;
  /** Extra VK configuration keys. */
  config?: Record<string, unknown>;
  mock?: Partial<MockDefaults>;
  /** Run the VK as a child process (`node src/cli/main.ts vk`) instead of in this process. */
  childProcess?: boolean;
}

export interface PodStack {
  nodeName: string;
  namespace: string;
  kube: KubeClients;
  /** The tests' own client-node clients (admin); `core` is `admin.core`. */
  admin: AdminKube;
  core: CoreV1Api;
  mock: MockPlugin;
  /** Every create the plugin received, in order. */
  received: RetrievedPodData[];
  configFile: string;
  startVk(): Promise<void>;
  /** Stop the VK gracefully (in process: abort; child: SIGTERM). */
  stopVk(): Promise<void>;
  /** kill -9 the VK child process. */
  killVk(): Promise<void>;
  /** A pod manifest for this node: tolerates the virtual-node taint and selects the node. */
  podManifest(name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): V1Pod;
  getPod(name: string): Promise<V1Pod | undefined>;
  waitPhase(name: string, phase: string, timeoutMs?: number): Promise<V1Pod>;
  events(name: string): Promise<Array<{ type?: string; reason?: string; message?: string; count?: number }>>;
  close(): Promise<void>;
}

export async function startPodStack(opts: PodStackOptions): Promise<PodStack> {
  const logger = testLogger();
  const t = await tempDir('vk-pods-');
  const pluginSocket = join(t.dir, 'plugin.sock');
  const apiSocket = join(t.dir, 'api.sock');

  const mock = createMockPlugin({
    defaults: { ...DEFAULT_BEHAVIOUR, startDelayMs: 500, logIntervalMs: 200, ...opts.mock },
  });
  const received: RetrievedPodData[] = [];
  const recording = Object.assign(Object.create(null), mock, {
    create: (data: RetrievedPodData, ctx: Parameters<MockPlugin['create']>[1]) => {
      received.push(structuredClone(data));
      return mock.create(data, ctx);
    },
  }) as MockPlugin;
  const plugin = buildPluginApp(recording, { logger: logger.child({ component: 'plugin' }) });
  await listenOn(plugin.app, { kind: 'unix', path: pluginSocket });

  const tokens = await writeTokenFile(t.dir);
  const vkToken = join(t.dir, 'vk-token');
  await writeFile(vkToken, `${TOKEN}\n`);
  const api: ApiUnderTest = await startApi({
    listen: { socket: apiSocket },
    pluginSocket,
    logger,
    overrides: { 'auth.tokenFile': tokens },
  });

  const config = {
    nodeName: opts.nodeName,
    kubeconfig: inject('kubeconfig'),
    interlinkUrl: `unix://${apiSocket}`,
    vkTokenFile: vkToken,
    podIp: '127.0.0.1',
    statusIntervalMs: 500,
    pingIntervalMs: 1_000,
    leaseRenewIntervalMs: 2_000,
    nodeStatusIntervalMs: 5_000,
    interlinkTimeoutMs: 5_000,
    missingResourceTimeoutMs: 4_000,
    backendLostTimeoutMs: 5_000,
    kubeletHttp: { port: await freePort(), address: '127.0.0.1' },
    ...opts.config,
  };
  const configFile = join(t.dir, 'vk.yaml');
  await writeFile(configFile, stringify(config));
  const kube = makeKubeClients(inject('kubeconfig'));
  const admin = adminKube(inject('kubeconfig'));
  const core = admin.core;
  await kubectl(['create', 'namespace', opts.namespace]).catch(() => undefined);
  await eventually('the default ServiceAccount', () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: opts.namespace }),
  );

  let inProcess: { stop: AbortController; done: Promise<unknown> } | undefined;
  let child: { proc: ChildProcess; exited: Promise<void> } | undefined;

  const stack: PodStack = {
    nodeName: opts.nodeName,
    namespace: opts.namespace,
    kube,
    admin,
    core,
    mock,
    received,
    configFile,
    async startVk() {
      if (opts.childProcess) {
        const proc = spawn(process.execPath, ['src/cli/main.ts', 'vk', '--config', configFile], {
          cwd: REPO,
          env: { ...process.env, LOG_LEVEL: process.env.VK_TEST_LOG ?? 'warn' },
          stdio: ['ignore', 'inherit', process.env.VK_TEST_LOG ? 'inherit' : 'ignore'],
        });
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        child = { proc, exited };
      } else {
        const stop = new AbortController();
        let ready!: () => void;
        const isReady = new Promise<void>((r) => {
          ready = r;
        });
        const done = runVirtualKubelet({
          configFile,
          logger,
          signal: stop.signal,
          env: {},
          onReady: ready,
        }).catch((err) => err);
        inProcess = { stop, done };
        const first = await Promise.race([isReady.then(() => undefined), done]);
        if (first instanceof Error) throw first;
      }
      await eventually(
        `node ${opts.nodeName} Ready`,
        async () => {
          const n = await core.readNode({ name: opts.nodeName });
          return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        },
        90_000,
      );
    },
    async stopVk() {
      if (inProcess) {
        inProcess.stop.abort();
        const err = await inProcess.done;
        inProcess = undefined;
        if (err instanceof Error) throw err;
      }
      if (child) {
        child.proc.kill('SIGTERM');
        await child.exited;
        child = undefined;
      }
    },
    async killVk() {
      if (!child) throw new Error('killVk needs childProcess: true');
      child.proc.kill('SIGKILL');
      await child.exited;
      child = undefined;
    },
    podManifest(name, spec, annotations = {}) {
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          namespace: opts.namespace,
          annotations: { 'mock.interlink.io/start-delay': '300ms', ...annotations },
        },
        spec: {
          restartPolicy: 'Never',
          nodeSelector: { 'kubernetes.io/hostname': opts.nodeName },
          tolerations: [
            { key: 'virtual-node.interlink/no-schedule', operator: 'Exists', effect: 'NoSchedule' },
          ],
          ...spec,
        },
      } as unknown as V1Pod;
    },
    async getPod(name) {
      try {
        return await core.readNamespacedPod({ name, namespace: opts.namespace });
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
    waitPhase(name, phase, timeoutMs = 60_000) {
      return eventually(
        `pod ${name} ${phase}`,
        async () => {
          const p = await stack.getPod(name);
          if (p?.status?.phase === phase) return p;
          if (p?.status?.phase === 'Failed' && phase !== 'Failed')
            throw new Error(`pod ${name} Failed: ${p.status.reason} ${p.status.message}`);
          return undefined;
        },
        timeoutMs,
      );
    },
    async events(name) {
      const list = await core.listNamespacedEvent({
        namespace: opts.namespace,
        fieldSelector: `involvedObject.name=${name}`,
      });
      return list.items.map((e) => ({ type: e.type, reason: e.reason, message: e.message, count: e.count }));
    },
    async close() {
      await stack.stopVk().catch(() => undefined);
      await kubectl(['delete', 'namespace', opts.namespace, '--wait=false']).catch(() => undefined);
      await core.deleteNode({ name: opts.nodeName }).catch(() => undefined);
      await api.close();
      await plugin.app.close();
      await t.cleanup();
    },
  };
  await stack.startVk();
  return stack;
}

/** The env a container received in a create, as a name → value map. */
export function receivedEnv(data: RetrievedPodData | undefined, container = 'main'): Record<string, string> {
  const spec = data?.pod.spec as
    | { containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> }
    | undefined;
  const c = spec?.containers.find((x) => x.name === container);
  return Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value ?? '']));
}
