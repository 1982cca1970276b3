/**
 * A one-node Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler) on 127.0.0.1 with free ports, fresh PKI and a directory of its own:
 * for tests, `npm run cluster:up`, and `interlink up --cluster`.
 *
 * Life cycle: startCluster() resolves once the apiserver is ready and the controllers work
 * (the `default` ServiceAccount exists); stop() kills every process group and removes the
 * directory. A cluster that is not `detached` dies with this Node process, even on SIGKILL
 * (parent-death signal), and its directory is swept by the next start.
 */

import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runProcess } from '../core/command.ts';
import { freePorts } from '../core/free-ports.ts';
import {
  apiserverArgs,
  type ClusterLayout,
  type ClusterPorts,
  controllerManagerArgs,
  etcdArgs,
  schedulerArgs,
} from './args.ts';
import { ensureBinaries } from './binaries.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { createClusterPki } from './pki.ts';
import { probe } from './probe.ts';
import {
  commandLineHas,
  isAlive,
  type ManagedProcess,
  signalGroup,
  spawnGroup,
  stopGroups,
} from './process.ts';

export interface StartOptions {
  /** Directory of the binaries (default: the build cache; built there when missing). */
  binDir?: string;
  /** Directory for PKI, kubeconfigs, etcd data and logs; created, must be empty. Default: a new temp dir. */
  dir?: string;
  /** Progress and failure lines (default: stderr). */
  log?: (line: string) => void;
  /** Let the processes outlive this Node process (`cluster:up`); stop them with attachCluster(dir).stop(). */
  detached?: boolean;
  /** Give up when not serving after this long (default 120 s: generous for a loaded 2-core box). */
  timeoutMs?: number;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (for `apply -f -`). */
  input?: string;
  /** Kill kubectl after this long (default 60 s). */
  timeoutMs?: number;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Where a running cluster is: its directory, address, admin kubeconfig, CA and binaries. */
export interface ClusterPaths {
  dir: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Admin (system:masters) kubeconfig path. */
  kubeconfig: string;
  caCertPath: string;
  caKeyPath: string;
  binDir: string;
}

export interface Cluster extends ClusterPaths {
  /** Run kubectl against this cluster as admin. Argument array, no shell. Never rejects on a non-zero exit. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** Kill all processes and remove `dir` (kept when INTERLINK_KEEP_CLUSTER=1). Idempotent. */
  stop(): Promise<void>;
}

/** What cluster.json in the directory records, so another command can find and stop it. */
export interface ClusterState extends ClusterPaths {
  ports: ClusterPorts;
  pids: Record<string, number>;
  ownerPid: number;
  detached: boolean;
  startedAt: string;
}

const STATE_FILE = 'cluster.json';
const TEMP_PREFIX = 'interlink-k8s-';
const keepRequested = () => process.env.INTERLINK_KEEP_CLUSTER === '1';
const defaultLog = (line: string) => process.stderr.write(`[devcluster] ${line}\n`);

export async function runKubectl(
  binDir: string,
  kubeconfig: string,
  args: string[],
  opts: KubectlOptions = {},
): Promise<KubectlResult> {
  const r = await runProcess(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
    timeoutMs: opts.timeoutMs ?? 60_000,
    input: opts.input ?? '',
  });
  return { stdout: r.stdout, stderr: r.stderr, code: r.code };
}

function tailOf(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Remove temp cluster dirs whose owner process is gone (it was killed before its stop()),
 * killing any of their processes still alive. Dirs of detached or kept clusters stay.
 */
export function sweepStaleClusters(root = tmpdir()): void {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => n.startsWith(TEMP_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(root, name);
    if (existsSync(join(dir, 'keep'))) continue;
    let state: ClusterState;
    try {
      state = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as ClusterState;
    } catch {
      continue; // being created right now by someone else, or not ours
    }
    if (state.detached || isAlive(state.ownerPid)) continue;
    for (const pid of Object.values(state.pids)) {
      if (isAlive(pid) && commandLineHas(pid, dir)) signalGroup(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function layoutOf(dir: string): ClusterLayout {
  const pki = join(dir, 'pki');
  return {
    dir,
    etcdDataDir: join(dir, 'etcd'),
    caCert: join(pki, 'ca.crt'),
    caKey: join(pki, 'ca.key'),
    apiserverCert: join(pki, 'apiserver.crt'),
    apiserverKey: join(pki, 'apiserver.key'),
    kubeletClientCert: join(pki, 'kubelet-client.crt'),
    kubeletClientKey: join(pki, 'kubelet-client.key'),
    frontProxyCaCert: join(pki, 'front-proxy-ca.crt'),
    frontProxyClientCert: join(pki, 'front-proxy-client.crt'),
    frontProxyClientKey: join(pki, 'front-proxy-client.key'),
    saKey: join(pki, 'sa.key'),
    saPub: join(pki, 'sa.pub'),
    controllerManagerKubeconfig: join(dir, 'controller-manager.kubeconfig'),
    schedulerKubeconfig: join(dir, 'scheduler.kubeconfig'),
  };
}

async function prepareDir(dir: string | undefined): Promise<string> {
  if (dir === undefined) return mkdtemp(join(tmpdir(), TEMP_PREFIX));
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new Error(`cluster dir ${dir} is not empty`);
  return dir;
}

function handle(state: ClusterState, stopImpl: () => Promise<void>): Cluster {
  let stopping: Promise<void> | undefined;
  return {
    dir: state.dir,
    server: state.server,
    kubeconfig: state.kubeconfig,
    caCertPath: state.caCertPath,
    caKeyPath: state.caKeyPath,
    binDir: state.binDir,
    kubectl: (args, opts) => runKubectl(state.binDir, state.kubeconfig, args, opts),
    stop: () => {
      stopping ??= stopImpl();
      return stopping;
    },
  };
}

/** Ports, PKI, kubeconfigs and the state file of a new cluster in `dir` (nothing started yet). */
async function prepareCluster(dir: string, binDir: string, detached: boolean) {
  const l = layoutOf(dir);
  await mkdir(l.etcdDataDir, { recursive: true, mode: 0o700 });
  await mkdir(join(dir, 'pki'), { recursive: true });

  const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler] = await freePorts(5);
  const ports: ClusterPorts = {
    etcdClient: etcdClient!,
    etcdPeer: etcdPeer!,
    apiserver: apiserver!,
    controllerManager: controllerManager!,
    scheduler: scheduler!,
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const pki = await createClusterPki(join(dir, 'pki'));
  const kubeconfig = join(dir, 'admin.kubeconfig');
  const kc = (path: string, pair: { cert: string; key: string }, user: string) =>
    writeKubeconfig(path, { server, caPath: pki.ca.cert, certPath: pair.cert, keyPath: pair.key, user });
  await Promise.all([
    kc(kubeconfig, pki.admin, 'admin'),
    kc(l.controllerManagerKubeconfig, pki.controllerManager, 'system:kube-controller-manager'),
    kc(l.schedulerKubeconfig, pki.scheduler, 'system:kube-scheduler'),
  ]);

  const state: ClusterState = {
    dir,
    server,
    kubeconfig,
    caCertPath: pki.ca.cert,
    caKeyPath: pki.ca.key,
    binDir,
    ports,
    pids: {},
    ownerPid: process.pid,
    detached,
    startedAt: new Date().toISOString(),
  };
  return { l, pki, state };
}

/**
 * The processes of one cluster: launched in order, killed together. Holds the exit hook of a
 * non-detached cluster and whether its dir goes with it.
 */
class ClusterProcesses {
  readonly procs: ManagedProcess[] = [];
  private readonly state: ClusterState;
  private readonly log: (line: string) => void;
  private readonly deadline: number;
  /** False once start failed: the logs are kept for a look (the next start's sweep removes them). */
  removeDirOnExit = !keepRequested();
  // Last line of defence for a non-detached cluster when the process exits without stop():
  // process.exit() from a test runner, an uncaught error. Must be synchronous.
  private readonly onExit = () => {
    for (const p of this.procs) signalGroup(p.pid, 'SIGKILL');
    if (this.removeDirOnExit) rmSync(this.state.dir, { recursive: true, force: true });
  };

  constructor(state: ClusterState, log: (line: string) => void, timeoutMs: number) {
    this.state = state;
    this.log = log;
    this.deadline = Date.now() + timeoutMs;
    if (!state.detached) process.once('exit', this.onExit);
  }

  saveState(): Promise<void> {
    return writeFile(join(this.state.dir, STATE_FILE), `${JSON.stringify(this.state, null, 2)}\n`);
  }

  launch(name: string, args: string[]): void {
    const { binDir, dir, detached } = this.state;
    const p = spawnGroup({
      name,
      bin: join(binDir, name),
      args,
      logPath: join(dir, `${name}.log`),
      detached,
    });
    this.procs.push(p);
    this.state.pids[name] = p.pid;
  }

  async stopAll(removeDir: boolean): Promise<void> {
    if (!this.state.detached) process.off('exit', this.onExit);
    // Straight to SIGKILL: the state is thrown away, and a graceful apiserver shutdown takes
    // ~10 s (etcd waits for its clients meanwhile).
    await stopGroups(this.procs.map((p) => p.pid));
    if (removeDir && !keepRequested()) await rm(this.state.dir, { recursive: true, force: true });
    else this.log(`kept ${this.state.dir}`);
  }

  /** Polls `ready` until true; fails fast when one of our processes died, or at the deadline. */
  async waitFor(what: string, ready: () => Promise<boolean>): Promise<void> {
    for (;;) {
      const dead = this.procs.find((p) => p.exit() !== undefined);
      if (dead)
        throw new Error(`${dead.name} exited (${JSON.stringify(dead.exit())}) while waiting for ${what}`);
      if (await ready()) return;
      if (Date.now() > this.deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }
}

/** Launches the four components in dependency order; resolves when serving, with when the apiserver was ready. */
async function bootControlPlane(
  cp: ClusterProcesses,
  l: ClusterLayout,
  state: ClusterState,
  adminTls: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<number> {
  const { server, ports } = state;
  cp.launch('etcd', etcdArgs(l, ports));
  // The apiserver retries its etcd connection, so it need not wait for etcd's /health.
  cp.launch('kube-apiserver', apiserverArgs(l, ports));
  await cp.waitFor(
    'the apiserver /readyz',
    async () => (await probe(`${server}/readyz`, adminTls)).status === 200,
  );
  const tApi = performance.now();
  cp.launch('kube-controller-manager', controllerManagerArgs(l, ports));
  cp.launch('kube-scheduler', schedulerArgs(l, ports));
  await cp.saveState();
  await cp.waitFor(
    'the default ServiceAccount (controller-manager)',
    async () =>
      (await probe(`${server}/api/v1/namespaces/default/serviceaccounts/default`, adminTls)).status === 200,
  );
  await cp.waitFor(
    'the scheduler /healthz',
    async () =>
      (await probe(`https://127.0.0.1:${ports.scheduler}/healthz`, { insecure: true })).status === 200,
  );
  return tApi;
}

/** Start a control plane; see the module comment. Rejects (after killing what it started) on failure. */
export async function startCluster(opts: StartOptions = {}): Promise<Cluster> {
  const log = opts.log ?? defaultLog;
  const t0 = performance.now();
  const binDir = await ensureBinaries({ binDir: opts.binDir, log });
  const tBuilt = performance.now();
  if (opts.dir === undefined) sweepStaleClusters();
  const dir = await prepareDir(opts.dir);
  const { l, pki, state } = await prepareCluster(dir, binDir, opts.detached === true);
  const cp = new ClusterProcesses(state, log, opts.timeoutMs ?? 120_000);
  await cp.saveState();

  const caPem = await readFile(pki.ca.cert);
  const adminTls = { ca: caPem, cert: await readFile(pki.admin.cert), key: await readFile(pki.admin.key) };
  try {
    const tApi = await bootControlPlane(cp, l, state, adminTls);
    const secs = (ms: number) => (ms / 1000).toFixed(1);
    const now = performance.now();
    log(
      `control plane serving at ${state.server} in ${secs(now - tBuilt)} s (apiserver ready after ${secs(tApi - tBuilt)} s` +
        `${tBuilt - t0 > 1000 ? `, after a ${secs(tBuilt - t0)} s build` : ''}); dir ${dir}`,
    );
  } catch (err) {
    cp.removeDirOnExit = false;
    log(`control plane failed to start: ${(err as Error).message}`);
    for (const p of cp.procs) log(`--- ${p.name}: ${p.logPath}\n${tailOf(p.logPath)}`);
    await cp.stopAll(false);
    throw err;
  }

  return handle(state, () => cp.stopAll(true));
}

/** Read the state of a cluster started (possibly by another command) in `dir`; undefined when none. */
export async function readClusterState(dir: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

/** Whether every process of the cluster is still running. */
export function clusterRunning(state: ClusterState): boolean {
  const pids = Object.values(state.pids);
  return pids.length === 4 && pids.every((pid) => isAlive(pid) && commandLineHas(pid, state.dir));
}

/**
 * A handle on a cluster started elsewhere (a detached `cluster:up`): kubectl works, stop()
 * kills its process groups (only pids whose command line names its dir) and removes the dir.
 */
export function attachCluster(state: ClusterState): Cluster {
  return handle(state, async () => {
    await stopGroups(Object.values(state.pids).filter((pid) => commandLineHas(pid, state.dir)));
    await rm(state.dir, { recursive: true, force: true });
  });
}
