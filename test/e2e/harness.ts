/**
 * The e2e harness: the three roles of one chain (plugin, interLink API, virtual kubelet) as
 * the shipped CLI (`node src/cli/main.ts plugin|api|vk`) in child processes, talking over
 * unix sockets with token auth, against the shared control plane of the e2e project
 * (test/support/k8s.setup.ts), with the admin kubeconfig.
 *
 * The VK gets its serving certificate as `interlink up --cluster` does (a kubelet-serving
 * CSR it approves itself, signed by the cluster CA), so `kubectl logs` goes apiserver → VK
 * kubelet API → API → plugin for real.
 *
 * Every chain has its own namespace and node name; `stop()` deletes the namespace's pods
 * while the chain still runs (so the backend is cleaned by the product, not by the test),
 * then stops the roles and removes the node. `report()` gathers what explains a failure:
 * pod status, events and the tail of every role's log; `reportOnFailure()` prints it when
 * a test fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, inject } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { TOKEN } from '../api/harness.ts';
import { ROOT, run } from '../deploy/tools.ts';
import { eventually, freePort, kubectl } from '../vk/pods-harness.ts';

export { eventually, freePort, kubectl, ROOT, run };

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects read field by field from kubectl JSON
export type Obj = Record<string, any>;

/** kubectl as admin; throws with kubectl's stderr on a non-zero exit. */
export async function must(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export async function getJson(args: string[]): Promise<Obj> {
  return JSON.parse(await must(['get', ...args, '-o', 'json'])) as Obj;
}

// ---- roles: one child process each ------------------------------------------------------------

export interface Role {
  name: string;
  proc: ChildProcess;
  /** stdout and stderr lines, in arrival order. */
  output: string[];
  exited: Promise<number | null>;
}

export function startRole(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Role {
  const proc = spawn(process.execPath, ['src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (c: Buffer) => output.push(...String(c).split('\n').filter(Boolean));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { name, proc, output, exited };
}

export const isRunning = (role: Role) => role.proc.exitCode === null && role.proc.signalCode === null;

/** SIGTERM, then SIGKILL when it has not stopped after `graceMs`. Idempotent. */
export async function stopRole(role: Role, graceMs = 20_000): Promise<void> {
  if (!isRunning(role)) return;
  role.proc.kill('SIGTERM');
  const done = await Promise.race([role.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    role.output.push(`[harness] ${role.name} did not stop within ${graceMs} ms of SIGTERM: SIGKILL`);
    role.proc.kill('SIGKILL');
    await role.exited;
  }
}

/** Until the role listens on its unix socket (a path) or loopback TCP port (a number). */
async function waitForListener(where: string | number, role: Role): Promise<void> {
  await eventually(
    `${role.name} listening on ${where}`,
    async () => {
      if (!isRunning(role))
        throw new Error(`${role.name} exited ${role.proc.exitCode}:\n${role.output.join('\n')}`);
      if (typeof where === 'string') return existsSync(where);
      return (await fetch(`http://127.0.0.1:${where}/healthz`).catch(() => undefined))?.ok;
    },
    60_000,
  );
}

/** Log lines of a role at level error or fatal (pino JSON `level` ≥ 50). */
export function errorsOf(role: Role): string[] {
  return role.output.filter((l) => {
    try {
      return (JSON.parse(l) as { level?: number }).level! >= 50;
    } catch {
      return false;
    }
  });
}

/** Last lines of a role's log, for failure messages. */
export function tail(role: Role, lines = 60): string {
  return `--- ${role.name} (pid ${role.proc.pid}, ${isRunning(role) ? 'running' : `exited ${role.proc.exitCode ?? role.proc.signalCode}`}), last ${lines} lines:\n${role.output.slice(-lines).join('\n')}`;
}

// ---- a chain: plugin + API + VK ---------------------------------------------------------------

export interface ChainOptions {
  plugin: 'docker' | 'slurm' | 'mock';
  nodeName: string;
  namespace: string;
  /** Plugin configuration (YAML keys); the socket is set by the harness. */
  pluginConfig?: Obj;
  /** Extra environment of the plugin process (SLURM_CONF, ...). */
  pluginEnv?: NodeJS.ProcessEnv;
  /** Extra VK configuration keys. */
  vkConfig?: Obj;
  /**
   * Serve the API and the plugin on loopback TCP ports instead of unix sockets (a
   * Prometheus scrapes them), both with the chain's token (the API sends it to the plugin
   * as `pluginTokenFile`), and the VK's `metricsPort` on a third port.
   */
  tcp?: boolean;
  /** Extra environment of all three roles (OTEL_* for the tracing suite). */
  env?: NodeJS.ProcessEnv;
}

/** Loopback TCP ports of a chain started with `tcp: true`. */
export interface ChainPorts {
  api: number;
  plugin: number;
  vkMetrics: number;
}

export interface Chain {
  nodeName: string;
  namespace: string;
  /** Scratch directory of this chain (sockets, configs, tokens); removed by stop(). */
  dir: string;
  /** With `tcp: true`: where the API, the plugin and the VK's /metrics listen. */
  ports: ChainPorts | undefined;
  plugin: Role;
  api: Role;
  vk: Role;
  /** A pod for this chain's node (node selector + the virtual-node toleration), in its namespace. */
  pod(name: string, spec: Obj, metadata?: Obj): Obj;
  /** The same placement for a pod template (Jobs, Deployments). */
  template(spec: Obj, labels?: Obj): Obj;
  apply(obj: Obj): Promise<void>;
  /** The pod, or undefined once it is gone. */
  getPod(name: string): Promise<Obj | undefined>;
  /** Wait for a phase; fails early (with the status) when the pod ends in the other terminal phase. */
  waitPhase(name: string, phase: string, timeoutMs?: number): Promise<Obj>;
  waitGone(name: string, timeoutMs?: number): Promise<void>;
  /** Stop the VK (SIGKILL with `kill9`, else SIGTERM); the other roles keep running. */
  stopVk(kill9?: boolean): Promise<void>;
  /** Start a new VK process with the same configuration (`vk` then names it). */
  startVk(): Promise<void>;
  /** Pod status, events and role logs, for failure messages. */
  report(pods?: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startChain(opts: ChainOptions): Promise<Chain> {
  const dir = await mkdtemp(join(tmpdir(), `interlink-e2e-${opts.plugin}-`));
  const pluginSock = join(dir, 'plugin.sock');
  const apiSock = join(dir, 'api.sock');
  const ports: ChainPorts | undefined = opts.tcp
    ? { api: await freePort(), plugin: await freePort(), vkMetrics: await freePort() }
    : undefined;
  const loopback = 'http://127.0.0.1';
  const apiAt = ports
    ? { interlinkUrl: loopback, interlinkPort: ports.api }
    : { interlinkUrl: `unix://${apiSock}` };
  const pluginAt = ports
    ? { sidecarUrl: loopback, sidecarPort: ports.plugin }
    : { sidecarUrl: `unix://${pluginSock}` };
  await writeFile(join(dir, 'tokens'), `${TOKEN} e2e-vk\n`, { mode: 0o600 });
  await writeFile(join(dir, 'vk-token'), `${TOKEN}\n`, { mode: 0o600 });
  await writeFile(
    join(dir, 'plugin.yaml'),
    toYaml({
      ...opts.pluginConfig,
      ...(ports ? { ...pluginAt, auth: { tokenFile: join(dir, 'tokens') } } : { socket: pluginSock }),
    }),
  );
  await writeFile(
    join(dir, 'api.yaml'),
    toYaml({
      ...apiAt,
      ...pluginAt,
      ...(ports ? { pluginTokenFile: join(dir, 'vk-token') } : {}),
      auth: { tokenFile: join(dir, 'tokens') },
    }),
  );
  await writeFile(
    join(dir, 'vk.yaml'),
    toYaml({
      nodeName: opts.nodeName,
      ...apiAt,
      vkTokenFile: join(dir, 'vk-token'),
      podIp: '127.0.0.1',
      kubeletHttp: {
        port: await freePort(),
        address: '127.0.0.1',
        csr: true,
        selfApprove: true,
        clientCaFile: inject('caCertPath'),
      },
      statusIntervalMs: 1_000,
      pingIntervalMs: 2_000,
      leaseRenewIntervalMs: 5_000,
      ...(ports ? { metricsPort: ports.vkMetrics, metricsAddress: '127.0.0.1' } : {}),
      ...opts.vkConfig,
    }),
  );

  await kubectl(['create', 'namespace', opts.namespace]);
  await eventually(
    `the default ServiceAccount of ${opts.namespace}`,
    async () => (await kubectl(['get', 'sa', 'default', '-n', opts.namespace])).code === 0,
    60_000,
  );

  const plugin = startRole(
    `plugin ${opts.plugin}`,
    ['plugin', opts.plugin, '--config', join(dir, 'plugin.yaml')],
    { ...opts.env, ...opts.pluginEnv },
  );
  const roles: Role[] = [plugin];
  let chain: Chain | undefined;
  try {
    await waitForListener(ports ? ports.plugin : pluginSock, plugin);
    const api = startRole('api', ['api', '--config', join(dir, 'api.yaml')], opts.env);
    roles.unshift(api);
    await waitForListener(ports ? ports.api : apiSock, api);
    const vk = startVkRole(dir, opts.env);
    roles.unshift(vk);
    chain = makeChain(opts, dir, ports, plugin, api, vk);
    await eventually(
      `node ${opts.nodeName} Ready`,
      async () => {
        if (!isRunning(vk)) throw new Error(`vk exited ${vk.proc.exitCode}`);
        const node = await getJson(['node', opts.nodeName]);
        return (node.status?.conditions as Obj[] | undefined)?.some(
          (c) => c.type === 'Ready' && c.status === 'True',
        );
      },
      120_000,
    );
    // The kubelet API serves once the CSR is signed; `kubectl logs` needs it.
    await eventually(
      `the kubelet serving certificate of ${opts.nodeName} issued`,
      async () => {
        const csrs = await getJson(['csr', '-l', `interlink.io/node=${opts.nodeName}`]);
        return (csrs.items as Obj[]).some((c) => c.status?.certificate);
      },
      60_000,
    );
    return chain;
  } catch (err) {
    const logs = roles.map((r) => tail(r)).join('\n');
    for (const r of roles) await stopRole(r);
    await kubectl(['delete', 'node', opts.nodeName, '--wait=false']);
    await kubectl(['delete', 'namespace', opts.namespace, '--wait=false']);
    await rm(dir, { recursive: true, force: true });
    throw new Error(`chain ${opts.nodeName} did not start: ${(err as Error).message}\n${logs}`);
  }
}

function startVkRole(dir: string, env?: NodeJS.ProcessEnv): Role {
  return startRole('vk', ['vk', '--config', join(dir, 'vk.yaml'), '--kubeconfig', inject('kubeconfig')], env);
}

function makeChain(
  opts: ChainOptions,
  dir: string,
  ports: ChainPorts | undefined,
  plugin: Role,
  api: Role,
  vk: Role,
): Chain {
  const ns = opts.namespace;
  const placement = {
    nodeSelector: { 'kubernetes.io/hostname': opts.nodeName },
    tolerations: [{ key: 'virtual-node.interlink/no-schedule', operator: 'Exists', effect: 'NoSchedule' }],
  };
  let stopped = false;
  const chain: Chain = {
    nodeName: opts.nodeName,
    namespace: ns,
    dir,
    ports,
    plugin,
    api,
    vk,
    pod(name, spec, metadata = {}) {
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { ...metadata, name, namespace: ns },
        spec: { restartPolicy: 'Never', ...placement, ...spec },
      };
    },
    template(spec, labels = {}) {
      return { metadata: { labels }, spec: { ...placement, ...spec } };
    },
    async apply(obj) {
      await must(['apply', '-n', ns, '-f', '-'], JSON.stringify(obj));
    },
    async getPod(name) {
      const r = await kubectl(['get', 'pod', name, '-n', ns, '-o', 'json']);
      if (r.code !== 0) {
        if (/NotFound|not found/.test(r.stderr)) return undefined;
        throw new Error(`kubectl get pod ${name}: ${r.stderr.trim()}`);
      }
      return JSON.parse(r.stdout) as Obj;
    },
    async waitPhase(name, phase, timeoutMs = 150_000) {
      try {
        return await eventually(
          `pod ${ns}/${name} ${phase}`,
          async () => {
            const p = await chain.getPod(name);
            const now = p?.status?.phase as string | undefined;
            if (now === phase) return p;
            if ((now === 'Failed' || now === 'Succeeded') && now !== phase)
              throw new Error(`pod ended ${now} (${p?.status?.reason ?? ''} ${p?.status?.message ?? ''})`);
            return undefined;
          },
          timeoutMs,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${await chain.report([name])}`);
      }
    },
    async waitGone(name, timeoutMs = 120_000) {
      try {
        await eventually(
          `pod ${ns}/${name} gone`,
          async () => (await chain.getPod(name)) === undefined,
          timeoutMs,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${await chain.report([name])}`);
      }
    },
    async stopVk(kill9 = false) {
      if (kill9 && isRunning(vk)) {
        vk.proc.kill('SIGKILL');
        await vk.exited;
      } else await stopRole(vk);
    },
    async startVk() {
      if (isRunning(vk)) throw new Error('startVk: the VK is still running');
      const before = vk.output;
      vk = startVkRole(dir, opts.env);
      // Keep the earlier process's log for report().
      vk.output.unshift(...before, '[harness] --- VK restarted ---');
      chain.vk = vk;
    },
    async report(pods) {
      const parts: string[] = [];
      const list = await kubectl(['get', 'pods', '-n', ns, '-o', 'json']);
      if (list.code === 0) {
        for (const p of (JSON.parse(list.stdout) as Obj).items as Obj[]) {
          if (pods && !pods.includes(p.metadata.name)) continue;
          parts.push(
            `--- pod ${p.metadata.name} uid=${p.metadata.uid} node=${p.spec.nodeName ?? ''} deletion=${p.metadata.deletionTimestamp ?? '-'} annotations=${JSON.stringify(p.metadata.annotations ?? {})}\n${JSON.stringify(p.status, null, 1)}`,
          );
        }
      } else parts.push(`--- pods: ${list.stderr.trim()}`);
      const ev = await kubectl(['get', 'events', '-n', ns, '--sort-by=.lastTimestamp']);
      parts.push(
        `--- events of ${ns}:\n${(ev.stdout || ev.stderr).trim().split('\n').slice(-40).join('\n')}`,
      );
      for (const r of [vk, api, plugin]) parts.push(tail(r));
      return parts.join('\n');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // The product cleans the backend: workloads, then pods, deleted while the chain still runs.
      for (const what of ['deployments,replicasets,statefulsets,daemonsets,jobs', 'pods']) {
        const del = await kubectl(['delete', what, '--all', '-n', ns, '--wait=true', '--timeout=120s']);
        if (del.code !== 0) console.error(`[e2e harness] deleting ${what} of ${ns}: ${del.stderr}`);
      }
      for (const r of [vk, api, plugin]) await stopRole(r);
      if (process.env.E2E_SHOW_LOGS) for (const r of [vk, api, plugin]) console.error(tail(r, 100_000));
      await kubectl(['delete', 'node', opts.nodeName, '--wait=false']);
      await kubectl(['delete', 'namespace', ns, '--wait=false']);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return chain;
}

/**
 * Print the chain's report (pod statuses, events, role logs) when a test of the current
 * file fails. Call at the top level of a test file or in a describe block.
 */
export function reportOnFailure(chain: () => Chain | undefined): void {
  beforeEach((ctx) => {
    ctx.onTestFailed(async () => {
      const c = chain();
      if (c)
        console.error(`[e2e] ${ctx.task.name} failed; state of chain ${c.nodeName}:\n${await c.report()}`);
    });
  });
}

// ---- kubectl logs -f ----------------------------------------------------------------------------

export interface Follow {
  /** Everything kubectl printed on stdout so far. */
  text(): string;
  stderr(): string;
  /** kubectl's exit code, once it ends. */
  exited: Promise<number | null>;
  /** undefined while kubectl runs, then its exit code (null when killed by a signal). */
  exitCode(): number | null | undefined;
  kill(): void;
}

/** `kubectl logs -f` as a child process, its output read as it arrives. */
export function followLogs(args: string[]): Follow {
  const proc = spawn(
    join(inject('k8sBinDir'), 'kubectl'),
    ['--kubeconfig', inject('kubeconfig'), 'logs', '-f', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  proc.stdout.on('data', (c: Buffer) => out.push(c));
  proc.stderr.on('data', (c: Buffer) => err.push(c));
  let code: number | null | undefined;
  const exited = new Promise<number | null>((r) =>
    proc.once('close', (c) => {
      code = c;
      r(c);
    }),
  );
  return {
    exitCode: () => code,
    text: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    exited,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** A random suffix for namespaces and node names of one run. */
export const suffix = () => Math.random().toString(36).slice(2, 7);
