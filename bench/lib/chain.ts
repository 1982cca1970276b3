/**
 * The interlink chain under test as three SEPARATE processes, so each one's memory and CPU
 * can be read from /proc: `interlink plugin <name>`, `interlink api` and `interlink vk`,
 * started with `node src/cli/main.ts`, wired over unix sockets in a private temp dir and
 * authenticated with a generated token file.
 *
 * Each child leads its own process group and gets the parent-death signal
 * (src/devcluster/process.ts), so a killed benchmark leaves nothing behind. `stop()` sends
 * SIGTERM (the CLI closes cleanly, and `--cpu-prof` writes its profile on that exit) and
 * SIGKILLs what is left after a grace period.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { heapFlags, withMallocEnv } from '../../src/cli/heap-limits.ts';
import { freePorts } from '../../src/core/free-ports.ts';
import { type ManagedProcess, spawnGroup, stopGroups } from '../../src/devcluster/process.ts';
import { httpGet, httpGetOk } from './http.ts';
import type { BenchPlugin } from './options.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** The entry point the children run: the sources (Node strips the types) or the build. */
export const CLI_ENTRY = {
  src: join(ROOT, 'src', 'cli', 'main.ts'),
  dist: join(ROOT, 'dist', 'cli', 'main.js'),
} as const;

export type ChildName = 'plugin' | 'api' | 'vk';

export interface ChainOptions {
  /** Private directory (sockets, token, configs, logs); must exist. */
  dir: string;
  kubeconfig: string;
  nodeName: string;
  plugin: BenchPlugin;
  /** The user's docker/slurm plugin configuration (the socket is added to a copy). */
  pluginConfig?: string | undefined;
  /** Pods the node must accept (capacity). */
  pods: number;
  statusIntervalMs: number;
  vkWorkers?: number | undefined;
  /** Write `<name>.cpuprofile` of each child here (node --cpu-prof). */
  profileDir?: string | undefined;
  /** Extra node flags for the VK process (after the heap limits: a later flag wins). */
  vkNodeOptions?: string[] | undefined;
  /** Start each process with the heap limits and malloc setting it ships with (src/cli/heap-limits.ts; default true). */
  heapLimits?: boolean | undefined;
  /**
   * Run the compiled dist/cli/main.js (`npm run build` first), as the image and the bin/
   * launchers do, instead of src/cli/main.ts: no type stripping (~18 MiB per process).
   */
  dist?: boolean | undefined;
  /** Children's log level (default warn: logging is not what we measure). */
  logLevel?: string;
  log: (line: string) => void;
  /**
   * Serve the kubelet API over TLS with a self-approved serving certificate, so the apiserver
   * can reach it (exec, port-forward: bench/exec.ts). Default: plain HTTP, logs and exec unused.
   */
  kubeletTls?: boolean;
  /** How long each child may take to become ready (default 60 s). */
  readyTimeoutMs?: number;
}

export interface Chain {
  pids: Record<ChildName, number>;
  dir: string;
  logPath(name: ChildName): string;
  profilePath(name: ChildName): string | undefined;
  /** The first child that exited on its own, with the tail of its log; undefined while all run. */
  deadChild(): string | undefined;
  scrapeApi(): Promise<string>;
  scrapePlugin(): Promise<string>;
  scrapeVk(): Promise<string>;
  /** Pods the mock plugin holds (GET /mock/pods); only for the mock. */
  mockPodCount(): Promise<number>;
  /** Stop the VK, then the API, then the plugin. Idempotent. */
  stop(): Promise<void>;
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The node flags a child is started with: its shipped heap limits, then the VK's extras. */
export function nodeOptions(
  opts: Pick<ChainOptions, 'heapLimits' | 'vkNodeOptions'>,
  name: ChildName,
): string[] {
  return [
    ...(opts.heapLimits === false ? [] : heapFlags(name)),
    ...(name === 'vk' ? (opts.vkNodeOptions ?? []) : []),
  ];
}

export async function startChain(opts: ChainOptions): Promise<Chain> {
  const { dir } = opts;
  if (opts.dist && !existsSync(CLI_ENTRY.dist))
    throw new Error(`${CLI_ENTRY.dist} does not exist: run \`npm run build\` first`);
  const apiSock = join(dir, 'api.sock');
  const pluginSock = join(dir, 'plugin.sock');
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  const token = () => readFileSync(tokenFile, 'utf8').trim();
  const auth = () => ({ authorization: `Bearer ${token()}` });
  const [kubeletPort, vkMetricsPort] = await freePorts(2);
  const vkMetrics = `http://127.0.0.1:${vkMetricsPort}`;

  // Plugin configuration: ours for the mock; a copy of the user's for docker/slurm, so the
  // socket can be set without touching their file.
  let pluginCfg: Record<string, unknown> = {};
  if (opts.pluginConfig)
    pluginCfg = (parse(readFileSync(opts.pluginConfig, 'utf8')) ?? {}) as Record<string, unknown>;
  if (opts.plugin === 'mock' && !opts.pluginConfig) {
    // The VK takes the node's capacity from the plugin's ping: it must hold every pod.
    pluginCfg = { capacity: { pods: String(Math.max(10_000, opts.pods)) } };
  }
  pluginCfg.socket = pluginSock;
  const files = {
    plugin: join(dir, 'plugin.yaml'),
    api: join(dir, 'api.yaml'),
    vk: join(dir, 'vk.yaml'),
  };
  await writeFile(files.plugin, stringify(pluginCfg));
  await writeFile(
    files.api,
    stringify({ interlinkUrl: `unix://${apiSock}`, sidecarUrl: `unix://${pluginSock}`, auth: { tokenFile } }),
  );
  await writeFile(
    files.vk,
    stringify({
      nodeName: opts.nodeName,
      kubeconfig: opts.kubeconfig,
      interlinkUrl: `unix://${apiSock}`,
      vkTokenFile: tokenFile,
      podIp: '127.0.0.1',
      resources: { pods: String(Math.max(1_000, opts.pods)) },
      // Logs and exec are not measured: plain HTTP spares a CSR and a serving certificate.
      kubeletHttp: opts.kubeletTls
        ? { port: kubeletPort, address: '127.0.0.1', csr: true, selfApprove: true }
        : { port: kubeletPort, address: '127.0.0.1', insecure: true },
      statusIntervalMs: opts.statusIntervalMs,
      ...(opts.vkWorkers ? { workers: opts.vkWorkers } : {}),
      metricsPort: vkMetricsPort,
      metricsAddress: '127.0.0.1',
    }),
  );

  const procs = new Map<ChildName, ManagedProcess>();
  const profilePath = (name: ChildName) =>
    opts.profileDir ? join(opts.profileDir, `${name}.cpuprofile`) : undefined;
  const launch = (name: ChildName, cfg: string, command: string[]) => {
    const prof = profilePath(name);
    const p = spawnGroup({
      name,
      bin: process.execPath,
      args: [
        ...(opts.profileDir
          ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
          : []),
        ...nodeOptions(opts, name),
        opts.dist ? CLI_ENTRY.dist : CLI_ENTRY.src,
        '--log-level',
        opts.logLevel ?? 'warn',
        '-c',
        cfg,
        ...command,
      ],
      logPath: join(dir, `${name}.log`),
      // As shipped: the launchers' malloc setting with the heap limits.
      ...(opts.heapLimits === false ? {} : { env: withMallocEnv() }),
    });
    procs.set(name, p);
    if (prof) opts.log(`${name}: profiling to ${prof}`);
    return p;
  };
  const deadChild = () => {
    for (const [name, p] of procs) {
      const e = p.exit();
      if (e)
        return `${name} exited (code ${e.code}, signal ${e.signal}); its log ends with:\n${tail(p.logPath)}`;
    }
    return undefined;
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // Reverse order of the data flow: the VK stops calling before the API goes away.
      for (const name of ['vk', 'api', 'plugin'] as const) {
        const p = procs.get(name);
        if (p) await stopGroups([p.pid], 15_000);
      }
    })();
    return stopping;
  };
  const waitReady = async (what: string, ok: () => Promise<boolean>) => {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    for (;;) {
      const dead = deadChild();
      if (dead) throw new Error(`while waiting for ${what}: ${dead}`);
      if (await ok()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };

  try {
    launch('plugin', files.plugin, ['plugin', opts.plugin]);
    await waitReady(
      `the ${opts.plugin} plugin on ${pluginSock}`,
      async () =>
        existsSync(pluginSock) &&
        (await httpGet('http://plugin/healthz', { socketPath: pluginSock })).status === 200,
    );
    launch('api', files.api, ['api']);
    await waitReady(
      `the interLink API on ${apiSock}`,
      async () =>
        existsSync(apiSock) &&
        (await httpGet('http://api/readyz', { socketPath: apiSock, headers: auth() })).status === 200,
    );
    launch('vk', files.vk, ['vk']);
    // Ready = node registered, pod informer synced, kubelet API serving; the caller then
    // waits for the Node to be Ready in the apiserver, which is what the scheduler reads.
    await waitReady(
      `the virtual kubelet (${vkMetrics}/readyz)`,
      async () => (await httpGet(`${vkMetrics}/readyz`)).status === 200,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  opts.log(`chain up: plugin ${opts.plugin}, API, VK "${opts.nodeName}" (logs in ${dir})`);

  const pid = (name: ChildName) => procs.get(name)!.pid;
  return {
    pids: { plugin: pid('plugin'), api: pid('api'), vk: pid('vk') },
    dir,
    logPath: (name) => join(dir, `${name}.log`),
    profilePath,
    deadChild,
    scrapeApi: () => httpGetOk('http://api/metrics', { socketPath: apiSock, headers: auth() }),
    scrapePlugin: () => httpGetOk('http://plugin/metrics', { socketPath: pluginSock }),
    scrapeVk: () => httpGetOk(`${vkMetrics}/metrics`),
    mockPodCount: async () =>
      (JSON.parse(await httpGetOk('http://plugin/mock/pods', { socketPath: pluginSock })) as unknown[])
        .length,
    stop,
  };
}
