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
import { createServer } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { systemClock } from '../core/clock.ts';
import type { Cluster } from '../devcluster/cluster.ts';
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * The CA of the kubeconfig's current cluster, as PEM text or a file path: the apiserver's
 * kubelet client certificate is signed by it on kubeadm, kind and our devcluster. Pure.
 */
export function clusterCaOf(kubeconfigText: string, kubeconfigDir: string): { pem?: string; file?: string } {
  const kc = (parse(kubeconfigText) ?? {}) as {
    'current-context'?: string;
    contexts?: Array<{ name?: string; context?: { cluster?: string } }>;
    clusters?: Array<{
      name?: string;
      cluster?: { 'certificate-authority-data'?: string; 'certificate-authority'?: string };
    }>;
  };
  const ctx = kc.contexts?.find((c) => c.name === kc['current-context']) ?? kc.contexts?.[0];
  const cluster = kc.clusters?.find((c) => c.name === ctx?.context?.cluster) ?? kc.clusters?.[0];
  const data = cluster?.cluster?.['certificate-authority-data'];
  if (data) return { pem: Buffer.from(data, 'base64').toString('utf8') };
  const file = cluster?.cluster?.['certificate-authority'];
  if (file) return { file: isAbsolute(file) ? file : resolve(kubeconfigDir, file) };
  return {};
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
  const log = opts.logger.child({ component: 'up' });
  const say = opts.say ?? ((line: string) => log.info(line));
  let cluster: Cluster | undefined;
  let up: UpHandle | undefined;
  const vkAbort = new AbortController();
  // API and plugin stop after the VK (and after the drain, which needs them), not on the signal.
  const upNever = new AbortController().signal;
  let vkDone: Promise<void> = Promise.resolve();
  let vkRunning = false;
  let started = false;
  let stopping: Promise<void> | undefined;

  const drain = async () => {
    if (!cluster || !up || !vkRunning || !started) return;
    const c = cluster;
    const u = up;
    const token = u.tokenFile ? readFileSync(u.tokenFile, 'utf8').trim() : undefined;
    await drainNode({
      nodeName: opts.nodeName,
      kubectl: (args) => c.kubectl(args),
      deleteInBackend: async (pod) => {
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
      },
      say,
      clock: systemClock,
      ...(opts.drainTimeoutMs !== undefined ? { timeoutMs: opts.drainTimeoutMs } : {}),
    }).catch((err: Error) => say(`stopping: could not delete the pods: ${err.message}`));
  };

  const stopAll = () => {
    stopping ??= (async () => {
      if (cluster) await drain();
      else if (started)
        say(`stopping: pods on ${opts.nodeName} keep running in the backend; the next start adopts them`);
      vkAbort.abort(new Error('shutting down'));
      await vkDone.catch(() => {});
      await up?.close();
      await cluster?.stop();
    })();
    return stopping;
  };

  try {
    let kubeconfig: string;
    let clientCa: string | undefined;
    if (opts.kubeconfig) {
      kubeconfig = resolve(opts.kubeconfig);
    } else {
      const { startCluster } = await import('../devcluster/cluster.ts');
      cluster = await startCluster({ log: (line) => log.info(line) });
      kubeconfig = cluster.kubeconfig;
      clientCa = cluster.caCertPath;
    }
    up = await startUp({ ...opts, signal: upNever });
    if (opts.kubeconfig) {
      const ca = clusterCaOf(readFileSync(kubeconfig, 'utf8'), dirname(kubeconfig));
      if (ca.pem) {
        clientCa = join(up.dir, 'cluster-ca.crt');
        await writeFile(clientCa, ca.pem, { mode: 0o600 });
      } else clientCa = ca.file;
    }
    const kubeletPort = opts.kubeletPort || (await freePort());
    const vkConfig = join(up.dir, 'vk.yaml');
    await writeFile(
      vkConfig,
      stringify({
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
      }),
      { mode: 0o600 },
    );
    const { runVirtualKubelet } = await import('../vk/run.ts');
    let ready!: () => void;
    const vkReady = new Promise<void>((r) => {
      ready = r;
    });
    vkRunning = true;
    vkDone = runVirtualKubelet({
      configFile: vkConfig,
      kubeconfig,
      logger: opts.logger,
      signal: vkAbort.signal,
      onReady: ready,
    }).finally(() => {
      vkRunning = false;
    });
    await Promise.race([
      vkReady,
      vkDone.then(() => Promise.reject(new Error('the virtual kubelet stopped'))),
    ]);
    started = true;
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
    const handle: UpClusterHandle = {
      ...up,
      banner,
      kubeconfig,
      nodeName: opts.nodeName,
      vkDone,
      close: stopAll,
    };
    if (opts.signal.aborted) await stopAll();
    else opts.signal.addEventListener('abort', () => void stopAll(), { once: true });
    return handle;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
