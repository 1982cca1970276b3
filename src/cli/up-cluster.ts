/**
 * `interlink up --cluster`: the whole chain on one machine for a demo — a local control
 * plane (src/devcluster: etcd, kube-apiserver, controller-manager, scheduler), the
 * interLink API and a plugin (`startUp`), and a virtual kubelet registered as a node.
 *
 * `interlink up --kubeconfig <file>`: the same without the control plane — the API, the
 * plugin and the VK join an existing cluster.
 *
 * The VK gets its serving certificate the way a real node does: a kubelet-serving CSR it
 * approves itself (the admin kubeconfig may), signed by the cluster CA the apiserver
 * trusts, so `kubectl logs` works through the apiserver.
 *
 * Stopping: with its own cluster, every Pod on the virtual node is deleted through the VK
 * first (src/cli/drain.ts), since the cluster that would remember them goes away. With
 * `--kubeconfig` the cluster outlives us: the pods keep running and the next start adopts
 * them, as a restarted kubelet does.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { systemClock } from '../core/clock.ts';
import { freePort } from '../core/free-ports.ts';
import type { Cluster } from '../devcluster/cluster.ts';
import { type Pem, parseKubeconfig, resolveTarget } from '../vk/kubeconfig.ts';
import { drainNode } from './drain.ts';
import { startUp, type UpHandle, type UpOptions } from './up.ts';

export interface UpClusterOptions extends UpOptions {
  nodeName: string;
  /** Port of the VK's kubelet API; 0 picks a free one. */
  kubeletPort: number;
  /** Join this cluster instead of starting one (the pods outlive `up`). */
  kubeconfig?: string | undefined;
  /** Human progress lines while stopping (default: the logger). */
  say?: (line: string) => void;
  /** How long stopping waits for the VK's deletes (default 60 s). */
  drainTimeoutMs?: number;
}

export interface UpClusterHandle extends UpHandle {
  kubeconfig: string;
  nodeName: string;
  /** Resolves when the VK has stopped (after close() or on its own failure). */
  vkDone: Promise<void>;
}

/** The example the banner suggests, by absolute path (the package ships examples/). */
export const EXAMPLE = fileURLToPath(new URL('../../examples/busy-echo.yaml', import.meta.url));

/**
 * The CA of the kubeconfig's current cluster, as PEM text or a file path: the apiserver's
 * kubelet client certificate is signed by it on kubeadm, kind and our devcluster. Read the
 * way the VK reads it (vk/kubeconfig.ts); {} when the file names none (insecure, system
 * roots) or has no usable current context. Pure. `path` anchors relative file names.
 */
export function clusterCaOf(kubeconfigText: string, path: string): { pem?: string; file?: string } {
  let ca: Pem | undefined;
  try {
    ca = resolveTarget(parseKubeconfig(kubeconfigText, path)).tls.ca;
  } catch {
    return {};
  }
  if (!ca) return {};
  return 'data' in ca ? { pem: ca.data } : { file: ca.file };
}

export interface BannerInput {
  upBanner: string;
  kubeconfig: string;
  /** kubectl to print: an absolute path (the devcluster's) or plain `kubectl`. */
  kubectl: string;
  nodeName: string;
  kubeletPort: number;
  plugin: string;
  ownCluster: boolean;
  example: string;
}

/** What `up` prints once everything runs: where things are and what to try next. Pure. */
export function clusterBanner(b: BannerInput): string {
  const k = b.kubectl;
  return [
    b.upBanner.replace(/\nstop .*$/, ''),
    `kubeconfig     ${b.kubeconfig}${b.ownCluster ? ' (a cluster of its own, removed on stop)' : ''}`,
    `virtual node   ${b.nodeName} (kubelet API on 127.0.0.1:${b.kubeletPort})`,
    '',
    'Next, in another terminal:',
    `export KUBECONFIG=${b.kubeconfig}`,
    `${k} get nodes`,
    `${k} apply -f ${b.example}   # runs on plugin ${b.plugin}`,
    `${k} get pod busy-echo -w`,
    `${k} logs busy-echo`,
    '',
    b.ownCluster
      ? `stop           Ctrl-C (deletes the pods on ${b.nodeName} in the backend, then the cluster)`
      : `stop           Ctrl-C (pods on ${b.nodeName} keep running; the next \`interlink up --kubeconfig\` adopts them)`,
  ].join('\n');
}

export async function startUpCluster(opts: UpClusterOptions): Promise<UpClusterHandle> {
  return new UpClusterRun(opts).start();
}

/** The VK's configuration for `up`: the local API, the kubelet API on loopback with a self-approved cert. */
function vkConfigYaml(
  opts: UpClusterOptions,
  up: UpHandle,
  kubeletPort: number,
  clientCa: string | undefined,
) {
  return stringify({
    nodeName: opts.nodeName,
    interlinkUrl: up.apiUrl,
    ...(up.tokenFile ? { vkTokenFile: up.tokenFile } : {}),
    podIp: '127.0.0.1',
    kubeletHttp: {
      port: kubeletPort,
      address: '127.0.0.1',
      csr: true,
      selfApprove: true,
      ...(clientCa ? { clientCaFile: clientCa } : {}),
    },
    pingIntervalMs: 5_000,
  });
}

/** A backend delete through the local API, as the VK would send it (the drain's last resort). */
function deleteThroughApi(u: UpHandle, token: string | undefined) {
  return async (pod: unknown): Promise<void> => {
    const res = await fetch(`${u.apiUrl}/delete`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(pod),
      signal: AbortSignal.timeout(60_000),
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`interLink API /delete: HTTP ${res.status}`);
  };
}

/**
 * One `up --cluster|--kubeconfig` run: what it started so far, so that a failed start and
 * close() stop exactly that, in reverse order, once.
 */
class UpClusterRun {
  private readonly opts: UpClusterOptions;
  private readonly log: UpClusterOptions['logger'];
  private readonly say: (line: string) => void;
  private cluster: Cluster | undefined;
  private up: UpHandle | undefined;
  private readonly vkAbort = new AbortController();
  private vkDone: Promise<void> = Promise.resolve();
  private vkRunning = false;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(opts: UpClusterOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: 'up' });
    this.say = opts.say ?? ((line: string) => this.log.info(line));
  }

  async start(): Promise<UpClusterHandle> {
    try {
      return await this.startChain();
    } catch (err) {
      await this.stopAll();
      throw err;
    }
  }

  private async startChain(): Promise<UpClusterHandle> {
    const { opts } = this;
    const { kubeconfig, clientCa, up } = await this.startClusterAndApi();
    const kubeletPort = opts.kubeletPort || (await freePort());
    const vkConfig = join(up.dir, 'vk.yaml');
    await writeFile(vkConfig, vkConfigYaml(opts, up, kubeletPort, clientCa), { mode: 0o600 });
    await this.startVk(vkConfig, kubeconfig);
    this.started = true;
    const { cluster } = this;
    const banner = clusterBanner({
      upBanner: up.banner,
      kubeconfig,
      kubectl: cluster ? join(cluster.binDir, 'kubectl') : 'kubectl',
      nodeName: opts.nodeName,
      kubeletPort,
      plugin: opts.plugin,
      ownCluster: cluster !== undefined,
      example: EXAMPLE,
    });
    const close = () => this.stopAll();
    const handle: UpClusterHandle = {
      ...up,
      banner,
      kubeconfig,
      nodeName: opts.nodeName,
      vkDone: this.vkDone,
      close,
    };
    if (opts.signal.aborted) await close();
    else opts.signal.addEventListener('abort', () => void close(), { once: true });
    return handle;
  }

  /** The cluster (ours, or the given kubeconfig's) and the API with its plugin; the CA the kubelet API trusts. */
  private async startClusterAndApi(): Promise<{
    kubeconfig: string;
    clientCa: string | undefined;
    up: UpHandle;
  }> {
    const { opts } = this;
    let kubeconfig: string;
    let clientCa: string | undefined;
    if (opts.kubeconfig) {
      kubeconfig = resolve(opts.kubeconfig);
    } else {
      const { startCluster } = await import('../devcluster/cluster.ts');
      this.cluster = await startCluster({ log: (line) => this.log.info(line) });
      kubeconfig = this.cluster.kubeconfig;
      clientCa = this.cluster.caCertPath;
    }
    // API and plugin stop after the VK (and after the drain, which needs them), not on the signal.
    const upNever = new AbortController().signal;
    const up = await startUp({ ...opts, signal: upNever });
    this.up = up;
    if (opts.kubeconfig) {
      const ca = clusterCaOf(readFileSync(kubeconfig, 'utf8'), kubeconfig);
      if (ca.pem) {
        clientCa = join(up.dir, 'cluster-ca.crt');
        await writeFile(clientCa, ca.pem, { mode: 0o600 });
      } else clientCa = ca.file;
    }
    return { kubeconfig, clientCa, up };
  }

  /** Runs the VK until vkAbort; resolves once it is ready, rejects if it stops before. */
  private async startVk(vkConfig: string, kubeconfig: string): Promise<void> {
    const { runVirtualKubelet } = await import('../vk/run.ts');
    let ready!: () => void;
    const vkReady = new Promise<void>((r) => {
      ready = r;
    });
    this.vkRunning = true;
    this.vkDone = runVirtualKubelet({
      configFile: vkConfig,
      kubeconfig,
      logger: this.opts.logger,
      signal: this.vkAbort.signal,
      onReady: ready,
    }).finally(() => {
      this.vkRunning = false;
    });
    await Promise.race([
      vkReady,
      this.vkDone.then(() => Promise.reject(new Error('the virtual kubelet stopped'))),
    ]);
  }

  /** Our own cluster goes away with `up`: delete its pods in the backend first (best effort). */
  private async drain(): Promise<void> {
    const { cluster: c, up: u, opts, say } = this;
    if (!c || !u || !this.vkRunning || !this.started) return;
    const token = u.tokenFile ? readFileSync(u.tokenFile, 'utf8').trim() : undefined;
    await drainNode({
      nodeName: opts.nodeName,
      kubectl: (args) => c.kubectl(args),
      deleteInBackend: deleteThroughApi(u, token),
      say,
      clock: systemClock,
      ...(opts.drainTimeoutMs !== undefined ? { timeoutMs: opts.drainTimeoutMs } : {}),
    }).catch((err: Error) => say(`stopping: could not delete the pods: ${err.message}`));
  }

  /** Idempotent: drain (own cluster), VK, API and plugin, then the cluster. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.cluster) await this.drain();
      else if (this.started)
        this.say(
          `stopping: pods on ${this.opts.nodeName} keep running in the backend; the next start adopts them`,
        );
      this.vkAbort.abort(new Error('shutting down'));
      await this.vkDone.catch(() => {});
      await this.up?.close();
      await this.cluster?.stop();
    })();
    return this.stopping;
  }
}
