/**
 * What runVirtualKubelet hands to each part of the VK. The node side (src/vk/node,
 * src/vk/kubelet) and the pod side (src/vk/pods) share these; keep them stable.
 *
 * Controllers have one life-cycle shape (STYLE habit 7): a factory validates its deps and
 * returns a Controller; `run(signal)` starts it and resolves when it stopped (after the
 * signal aborted, or on a fatal error, which it rejects with); `ready` resolves once it
 * serves (first list done, node registered, socket listening) and rejects if it never
 * will; `done` settles like `run`'s promise; `err()` is the error that ended it.
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { VkConfig } from './config.ts';
import type { EventRecorder } from './events.ts';
import type { InterlinkClient } from './interlink-client.ts';
import type {
  AuthenticationApi,
  AuthorizationApi,
  CertificatesApi,
  CoordinationApi,
  CoreApi,
} from './kube-api.ts';
import type { KubeConnection } from './kube-connection.ts';
import type { KPod } from './pods/kpod.ts';

/** The VK's apiserver clients (src/vk/kube.ts): raw JSON over one pooled connection. */
export interface KubeClients {
  kubeConfig: KubeConnection;
  core: CoreApi;
  coordination: CoordinationApi;
  certificates: CertificatesApi;
  authentication: AuthenticationApi;
  authorization: AuthorizationApi;
}

/**
 * Read-only view of the pods bound to this node, from the pod controller's informer
 * cache (never an API call). Objects are shared with the cache: callers must not mutate
 * them. Empty until the pod controller's first list completed. They are the apiserver's
 * JSON as sent, typed by the wire schemas (src/vk/pods/kpod.ts).
 */
export interface PodLister {
  list(): KPod[];
  get(namespace: string, name: string): KPod | undefined;
}

export interface Controller {
  run(signal: AbortSignal): Promise<void>;
  readonly ready: Promise<void>;
  readonly done: Promise<void>;
  err(): unknown;
}

/** Everything a VK part may use. Parts take what they need and ignore the rest. */
export interface VkDeps {
  config: VkConfig;
  kube: KubeClients;
  logger: Logger;
  interlink: InterlinkClient;
  events: EventRecorder;
  pods: PodLister;
  /** The VK's metrics registry (served on /metrics); register collectors here. */
  registry: Registry;
  clock: Clock;
}

/** src/vk/node/controller.ts: `export function createNodeController(deps: NodeControllerDeps): Controller`. */
export type NodeControllerDeps = VkDeps;

/**
 * src/vk/kubelet/server.ts: `export function createKubeletServer(deps: KubeletServerDeps): Controller`.
 * `run` listens on kubeletHttp.address:port until the signal aborts.
 */
export type KubeletServerDeps = VkDeps;

/**
 * Lifecycle helper for controllers: wraps a body so `ready`/`done`/`err` follow the
 * contract above. `markReady` is passed to the body; if the body ends before calling it,
 * `ready` rejects with the body's error (or "stopped before ready").
 */
export function controllerShell(
  body: (signal: AbortSignal, markReady: () => void) => Promise<void>,
): Controller {
  let error: unknown;
  let resolveReady!: () => void;
  let rejectReady!: (err: unknown) => void;
  let resolveDone!: () => void;
  let rejectDone!: (err: unknown) => void;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  // Avoid unhandled rejections when nobody awaits one of them.
  ready.catch(() => {});
  done.catch(() => {});
  let started = false;
  return {
    ready,
    done,
    err: () => error,
    async run(signal) {
      if (started) throw new Error('controller already started');
      started = true;
      try {
        await body(signal, resolveReady);
        rejectReady(new Error('stopped before ready'));
        resolveDone();
      } catch (err) {
        error = err;
        rejectReady(err);
        rejectDone(err);
        throw err;
      }
    },
  };
}
