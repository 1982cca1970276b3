#!/usr/bin/env node
/**
 * The `interlink` command: argv/env/config → wiring, signals → AbortController. No
 * business logic here.
 *
 *   interlink api                      the interLink API server
 *   interlink plugin <mock|docker|slurm>  a plugin (sidecar)
 *   interlink vk                       the virtual kubelet
 *   interlink up                       API + plugin over a unix socket, for local use
 *
 * Exit codes: 0 ok (also after SIGINT/SIGTERM and a clean close), 1 runtime error,
 * 2 bad configuration or usage (the message names the key).
 *
 * Each subcommand imports its process on demand (literal specifiers, which the build
 * rewrites to .js): `interlink plugin mock` never loads the API's auth (jose, OIDC), the
 * VK's Kubernetes client or another plugin, and `--help` loads none of them. Every module
 * loaded is resident for the life of the process (docs/performance.md, Memory).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createLogger, LOG_LEVELS, type Logger } from '../core/logger.ts';
import { startTracing } from '../core/tracing.ts';
import { codeOf, ErrorCode } from '../errors/index.ts';
import { PLUGIN_NAMES } from '../plugins/registry.ts';
import { applyRuntimeFlags } from './heap-limits.ts';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_CONFIG = 2;

interface GlobalOpts {
  config?: string;
  logLevel?: string;
}

export interface MainIo {
  env: NodeJS.ProcessEnv;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Aborted on SIGINT/SIGTERM by `main`'s caller; commands close gracefully. */
  signal: AbortSignal;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const parsePort = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('not a port number (0-65535)');
  return n;
};

/** Resolves when the signal aborts. */
const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

/** Runs a command body with a logger set up from the global options (see main). */
/** Runs a command with its logger; `service` names the process in traces (core/tracing.ts). */
type Runner = (fn: (logger: Logger) => Promise<void>, g: GlobalOpts, service: string) => Promise<void>;

const globals = (cmd: Command) => cmd.optsWithGlobals() as GlobalOpts;

export function buildProgram(io: MainIo, run: Runner): Command {
  const program = new Command('interlink')
    .description(
      'Run Kubernetes Pods on Docker hosts and Slurm clusters through a virtual node (interLink 0.6 wire compatible)',
    )
    .version(version(), '-V, --version', 'print the version')
    .option('-c, --config <file>', 'YAML configuration file (api: default $INTERLINKCONFIGPATH)')
    .addOption(
      new Option('--log-level <level>', 'log level (default: from the configuration, else info)').choices(
        LOG_LEVELS,
      ),
    )
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();

  // Registration order is the order `--help` lists the commands in.
  addApiCommand(program, io, run);
  addPluginCommand(program, io, run);
  addVkCommand(program, io, run);
  addUpCommand(program, io, run);
  return program;
}

function addApiCommand(program: Command, io: MainIo, run: Runner): void {
  program
    .command('api')
    .description('run the interLink API server (VK → API → plugin)')
    .addHelpText(
      'after',
      '\nEnvironment: INTERLINKURL, INTERLINKPORT (default 3000), INTERLINKCONFIGPATH, SIDECARURL, SIDECARPORT, SIDECARSERVICE.',
    )
    .action(async (_o, cmd: Command) => {
      const g = globals(cmd);
      await run(
        async (logger) => {
          applyRuntimeFlags('api');
          const { loadApiConfig, resolveApiConfig } = await import('../api/config.ts');
          const { prepareApi } = await import('../api/server.ts');
          const cfg = loadApiConfig({ file: g.config, env: io.env, logger });
          const resolved = resolveApiConfig(cfg);
          if (!g.logLevel) logger.level = resolved.logLevel;
          const api = prepareApi(resolved, logger);
          try {
            await api.listen();
            await aborted(io.signal);
            logger.info('shutting down');
          } finally {
            await api.close();
          }
        },
        g,
        'interlink-api',
      );
    });
}

function addPluginCommand(program: Command, io: MainIo, run: Runner): void {
  program
    .command('plugin')
    .description('run a plugin (the sidecar the API forwards to)')
    .argument('<name>', `plugin to run (${PLUGIN_NAMES.join(', ')})`)
    .addHelpText(
      'after',
      '\nEnvironment: SIDECARURL (or unix:///path), SIDECARPORT (docker 4000, slurm 4001), SIDECARSOCKET, <NAME>CONFIGPATH.',
    )
    .action(async (name: string, _o, cmd: Command) => {
      const g = globals(cmd);
      await run(
        async (logger) => {
          applyRuntimeFlags('plugin');
          const { servePlugin } = await import('../plugins/serve.ts');
          const served = await servePlugin(name, {
            configFile: g.config,
            env: io.env,
            logger,
            signal: io.signal,
          });
          await served.closed;
          logger.info('plugin stopped');
        },
        g,
        `interlink-plugin${(PLUGIN_NAMES as readonly string[]).includes(name) ? `-${name}` : ''}`,
      );
    });
}

function addVkCommand(program: Command, io: MainIo, run: Runner): void {
  program
    .command('vk')
    .description('run the virtual kubelet (the node agent that forwards pods to the API)')
    .option('--nodename <name>', 'name of the virtual node (default: from the configuration)')
    .option('--kubeconfig <file>', 'kubeconfig to reach the cluster (default: in-cluster or $KUBECONFIG)')
    .option('--context <name>', 'kubeconfig context to use (default: its current-context)')
    .action(async (o: { nodename?: string; kubeconfig?: string; context?: string }, cmd: Command) => {
      const g = globals(cmd);
      await run(
        async (logger) => {
          const { runVirtualKubelet } = await import('../vk/run.ts');
          await runVirtualKubelet({
            configFile: g.config,
            nodeName: o.nodename,
            kubeconfig: o.kubeconfig,
            context: o.context,
            logger,
            signal: io.signal,
          });
        },
        g,
        'interlink-vk',
      );
    });
}

interface UpCommandOpts {
  plugin: string;
  port?: number;
  host: string;
  pluginConfig?: string;
  auth: boolean;
  cluster?: boolean;
  kubeconfig?: string;
  nodename: string;
  kubeletPort: number;
}

function addUpCommand(program: Command, io: MainIo, run: Runner): void {
  program
    .command('up')
    .description(
      'run the API and a plugin together for local use (plugin on a unix socket in a temp dir); with --cluster or --kubeconfig also a virtual kubelet',
    )
    .addOption(new Option('--plugin <name>', 'plugin to run').choices(PLUGIN_NAMES).default('mock'))
    .option(
      '--port <port>',
      'API port (0 = any free port; default: 3000, any free port with --cluster or --kubeconfig, where the VK is told)',
      parsePort,
    )
    .option('--host <host>', 'API listen address', '127.0.0.1')
    .option('--plugin-config <file>', 'plugin configuration file')
    .option('--no-auth', 'serve without authentication (default: a random token in <tempdir>/token)')
    .option(
      '--cluster',
      'also start a local Kubernetes control plane and a virtual kubelet (the whole chain)',
    )
    .addOption(
      new Option(
        '--kubeconfig <file>',
        'also run a virtual kubelet on this existing cluster (its pods outlive `up`; the next start adopts them)',
      ).conflicts('cluster'),
    )
    .option('--nodename <name>', 'virtual node name with --cluster or --kubeconfig', 'interlink-node')
    .option(
      '--kubelet-port <port>',
      'kubelet API port with --cluster or --kubeconfig (0 = any free port)',
      parsePort,
      0,
    )
    .action(async (o: UpCommandOpts, cmd: Command) => {
      const g = globals(cmd);
      await run((logger) => runUp(o, g, io, logger), g, 'interlink-up');
    });
}

/** `interlink up`: serves until io.signal aborts, then closes what it started. */
async function runUp(o: UpCommandOpts, g: GlobalOpts, io: MainIo, logger: Logger): Promise<void> {
  const upOpts = {
    plugin: o.plugin,
    port: o.port ?? (o.cluster || o.kubeconfig ? 0 : 3000),
    host: o.host,
    noAuth: !o.auth,
    configFile: g.config,
    pluginConfigFile: o.pluginConfig,
    env: io.env,
    logger,
    signal: io.signal,
  };
  // The cluster variant is loaded on demand: plain `up` never imports the Kubernetes client.
  const up =
    o.cluster || o.kubeconfig
      ? await (await import('./up-cluster.ts')).startUpCluster({
          ...upOpts,
          nodeName: o.nodename,
          kubeletPort: o.kubeletPort,
          kubeconfig: o.kubeconfig,
          say: (line) => io.stdout(`${line}\n`),
        })
      : await (await import('./up.ts')).startUp(upOpts);
  io.stdout(`${up.banner}\n`);
  await aborted(io.signal);
  logger.info('shutting down');
  await up.close();
}

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[], io: MainIo): Promise<number> {
  let code = EXIT_OK;
  const run = async (fn: (logger: Logger) => Promise<void>, g: GlobalOpts, service: string) => {
    const logger = createLogger({ level: g.logLevel ?? io.env.LOG_LEVEL ?? 'info' });
    // Off unless the OTEL_* environment asks for it; spans still buffered go out on the way out.
    const tracing = await startTracing(service, io.env);
    if (tracing.enabled)
      logger.info({ service, sampler: tracing.sampler }, 'tracing: exporting spans by OTLP/HTTP');
    if (tracing.warning) logger.warn(tracing.warning);
    try {
      await fn(logger);
    } catch (err) {
      // INVALID_INPUT escaping to here is configuration: request errors never leave a server.
      code = codeOf(err) === ErrorCode.INVALID_INPUT ? EXIT_CONFIG : EXIT_RUNTIME;
      const message = (err as Error).message ?? String(err);
      if (code === EXIT_CONFIG)
        logger.error({ code: 'INVALID_INPUT', field: (err as { field?: string }).field }, message);
      else logger.error({ err }, message);
      io.stderr(`interlink: ${message}\n`);
    } finally {
      await tracing.shutdown();
      logger.flush?.();
    }
  };
  const program = buildProgram(io, run);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; a usage mistake (or no command) is a configuration error.
      return err.exitCode === 0 ? EXIT_OK : EXIT_CONFIG;
    }
    io.stderr(`interlink: ${(err as Error).message}\n`);
    return EXIT_RUNTIME;
  }
  return code;
}

function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * What a SIGINT/SIGTERM means, given when the first one came (undefined: none yet). The
 * first stops gracefully. One Ctrl-C often arrives two or three times at once — the
 * terminal signals the whole process group and `npm run` forwards it again — so repeats
 * within `DUPLICATE_SIGNAL_MS` are the same request; a later one means "now". Pure.
 */
export const DUPLICATE_SIGNAL_MS = 1_000;
export function signalAction(firstAt: number | undefined, now: number): 'stop' | 'ignore' | 'exit' {
  if (firstAt === undefined) return 'stop';
  return now - firstAt < DUPLICATE_SIGNAL_MS ? 'ignore' : 'exit';
}

if (isEntryPoint()) {
  const ctl = new AbortController();
  let firstAt: number | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    const action = signalAction(firstAt, Date.now());
    if (action === 'ignore') return;
    if (action === 'exit') {
      // A second request means "now": skip the graceful close.
      process.stderr.write('interlink: second signal: exiting without cleaning up\n');
      process.exit(130);
    }
    firstAt = Date.now();
    ctl.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await main(process.argv.slice(2), {
    env: process.env,
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    signal: ctl.signal,
  });
  process.exitCode = code;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // Whatever still holds the event loop (a stuck socket) must not keep a finished command alive.
  setTimeout(() => process.exit(code), 5_000).unref();
}
