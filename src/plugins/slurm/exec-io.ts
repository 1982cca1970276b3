/**
 * exec, attach and port-forward into Slurm pods (the plugin SDK's optional stream methods).
 *
 *   exec          `srun --overlap` a one-task step in the job's allocation on its batch host,
 *                 running the runtime's own exec into the container (exec-argv.ts); stdin,
 *                 stdout, stderr wired through, the exit code is the command's. When the caller
 *                 goes away (or the stream is idle too long) the srun process group gets
 *                 SIGTERM (srun cancels the step and its remote process), SIGKILL after
 *                 `execKillGraceSeconds`. tty: `srun --pty` on a pty the plugin allocates
 *                 with `script` (core/pty.ts), started with the client's first terminal size;
 *                 later sizes are set with `stty` and srun forwards them to the step's pty.
 *   attach        the container's log followed from its current end until the container ends
 *                 (stdout and stderr both come out on stdout); job containers have no stdin to
 *                 attach to, so `--stdin` is refused as a kubelet refuses it.
 *   port-forward  a TCP connection from the plugin to the port on the job's batch host
 *                 (scontrol's NodeAddr), bytes relayed both ways.
 *
 * An unknown pod or container is NOT_FOUND; a pod whose job or container is not running is
 * INVALID_INPUT (400), as a kubelet answers for a container that is not running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { constants } from 'node:os';
import type { Duplex, Readable } from 'node:stream';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExecIO } from '../../core/channel-ws.ts';
import type { Timer } from '../../core/clock.ts';
import { pipeInto } from '../../core/pipe.ts';
import { firstSize, ptyCommand, ptyResizer } from '../../core/pty.ts';
import {
  backendError,
  ErrorCode,
  InterlinkError,
  invalidInput,
  notFound,
  unavailable,
} from '../../errors/index.ts';
import type { LogStruct } from '../../wire/interlink.ts';
import type { ExecQuery, PortForwardQuery, TerminalSize } from '../../wire/streams.ts';
import type { CallContext, Plugin } from '../sdk/types.ts';
import type { RuntimeName } from './config.ts';
import type { SlurmDeps } from './deps.ts';
import {
  foreignOwner,
  innerArgs,
  notRunningReason,
  parseNodeAddr,
  parseStateHost,
  SrunNoiseFilter,
  srunArgs,
} from './exec-argv.ts';
import type { JobDir } from './jobdir.ts';
import { runCommand } from './slurm-cli.ts';
import { idleWatch, StreamLimits } from './stream-limits.ts';

/** The plugin's own log reader (attach follows it). */
export type LogReader = (req: LogStruct, ctx: CallContext) => Promise<Readable>;

interface Target {
  jobId: string;
  host: string;
  /** The job owner's uid. */
  uid: number | undefined;
  runtime: RuntimeName;
  dir: JobDir;
}

type StreamMethods = Required<Pick<Plugin, 'exec' | 'attach' | 'portForward'>>;

export function slurmStreams(deps: SlurmDeps, logs: LogReader): StreamMethods {
  const { cfg } = deps;
  const jobEnv = () => deps.cli.jobEnvironment();
  const limits = new StreamLimits(cfg.execMaxStreams, cfg.execMaxStreamsPerPod);
  const timeoutMs = cfg.commandTimeoutSeconds * 1000;

  /** Run one bounded, idle-watched stream for pod `uid`; `signal` ends it early. */
  async function bounded<T>(
    uid: string,
    outer: AbortSignal,
    fn: (signal: AbortSignal, touch: () => void) => Promise<T>,
  ): Promise<T> {
    const release = limits.acquire(uid);
    const idle = new AbortController();
    const watch = idleWatch(
      cfg.execIdleTimeoutSeconds * 1000,
      () => idle.abort(new Error('stream idle for too long')),
      deps.clock,
    );
    try {
      return await fn(AbortSignal.any([outer, idle.signal]), () => watch.touch());
    } finally {
      watch.stop();
      release();
    }
  }

  async function exec(q: ExecQuery, io: ExecIO, ctx: CallContext): Promise<number> {
    const t = await target(deps, q, q.container);
    const foreign = foreignOwner(t.uid, process.getuid?.());
    if (foreign)
      throw new InterlinkError(ErrorCode.FORBIDDEN, `exec into pod ${q.namespace}/${q.name}: ${foreign}`);
    const inner = innerArgs({
      runtime: t.runtime,
      runtimePath: cfg.runtimePath ?? t.runtime,
      bashPath: cfg.bashPath,
      runtimeName: `il-${q.uid}-${q.container}`,
      recordBase: t.dir.file('containers', q.container),
      command: q.command,
      stdin: !!io.stdin,
      tty: q.tty,
    });
    const args = [...srunArgs({ jobId: t.jobId, node: t.host, stdin: !!io.stdin, tty: q.tty }), ...inner];
    return bounded(q.uid, io.signal, async (signal, touch) => {
      ctx.log.info({ job: t.jobId, node: t.host, container: q.container, tty: q.tty }, 'exec: srun step');
      const pty = q.tty ? await firstSize(io.resizes, FIRST_SIZE_WAIT_MS) : undefined;
      return runStep(deps, args, { ...io, signal }, touch, pty);
    });
  }

  async function attach(q: ExecQuery, io: ExecIO, ctx: CallContext): Promise<number> {
    if (q.stdin)
      throw invalidInput(
        `container ${q.container} was not started with stdin open: attach without --stdin (output only)`,
      );
    const t = await target(deps, q, q.container);
    return bounded(q.uid, io.signal, async (signal, touch) => {
      const log = await logs(
        {
          Namespace: q.namespace,
          PodName: q.name,
          PodUID: q.uid,
          ContainerName: q.container,
          Opts: { Follow: true, Tail: 0 },
        },
        { ...ctx, signal },
      );
      log.on('data', touch);
      const sink =
        io.stdout ??
        new Writable({
          write: (_c, _e, cb) => cb(),
        });
      await pipeline(log, sink, { end: false }).catch(() => {});
      const files = await t.dir.containerFiles(q.container);
      return files.exitCode ?? 0;
    });
  }

  async function portForward(q: PortForwardQuery, conn: Duplex, ctx: CallContext): Promise<void> {
    const t = await target(deps, q);
    const r = await runCommand(cfg.scontrolPath, ['--oneliner', 'show', 'node', t.host], {
      timeoutMs,
      env: jobEnv(),
    });
    const addr = r.code === 0 ? parseNodeAddr(r.stdout, t.host) : t.host;
    await bounded(q.uid, ctx.signal, async (signal, touch) => {
      const sock = connect(q.port, addr);
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', () => resolve());
        sock.once('error', (err: NodeJS.ErrnoException) =>
          reject(backendError(`cannot connect to port ${q.port} of the pod: ${err.code ?? 'error'}`)),
        );
      });
      const onAbort = () => {
        sock.destroy();
        conn.destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      sock.on('data', touch);
      conn.on('data', touch);
      try {
        await Promise.all([pipeInto(conn, sock).catch(() => {}), pipeInto(sock, conn).catch(() => {})]);
      } finally {
        signal.removeEventListener('abort', onAbort);
        sock.destroy();
      }
    });
  }

  return { exec, attach, portForward };
}

/** The running job (and container) a stream goes to; throws NOT_FOUND / INVALID_INPUT. */
async function target(
  deps: SlurmDeps,
  q: { namespace: string; name: string; uid: string },
  container?: string,
): Promise<Target> {
  const { cfg } = deps;
  const dir = deps.dirOf(q.namespace, q.uid);
  const [pod, jobId] = await Promise.all([dir.readPod(), dir.readJobId()]);
  if (!pod || !jobId || pod.name !== q.name)
    throw notFound(`pod ${q.namespace}/${q.name} is not known to the slurm plugin`);
  if (container !== undefined && !pod.containers.some((c) => c.name === container))
    throw notFound(`pod ${q.namespace}/${q.name} has no container ${container}`);
  const r = await runCommand(
    cfg.squeuePath,
    ['--noheader', '--states=all', '--format=%T|%B|%U', `--jobs=${jobId}`],
    { timeoutMs: cfg.commandTimeoutSeconds * 1000, env: deps.cli.jobEnvironment() },
  );
  if (r.code !== 0 && !/Invalid job id/i.test(r.stderr)) throw unavailable(`squeue failed (exit ${r.code})`);
  const sh = r.code === 0 ? parseStateHost(r.stdout) : undefined;
  let files: { started?: string; exitCode?: number } | undefined;
  if (container !== undefined) files = await dir.containerFiles(container);
  const why = notRunningReason({
    jobState: sh?.state,
    ...(container !== undefined
      ? {
          container: {
            name: container,
            started: files?.started !== undefined,
            exited: files?.exitCode !== undefined,
          },
        }
      : {}),
  });
  if (why) throw invalidInput(why);
  if (!sh?.host) throw unavailable(`Slurm reports no node for the job of pod ${q.namespace}/${q.name}`);
  return { jobId, host: sh.host, uid: sh.uid, runtime: pod.runtime as RuntimeName, dir } satisfies Target;
}

/** How long a tty exec waits for the client's first terminal size before starting without it. */
const FIRST_SIZE_WAIT_MS = 2000;

/** srun (on a pty of its own when `pty` is given) in its own process group. */
function spawnStep(
  deps: SlurmDeps,
  args: string[],
  stdin: boolean,
  pty: { first: TerminalSize | undefined } | undefined,
): ChildProcess {
  const { cfg } = deps;
  // The job's site variables too (DOCKER_HOST for the docker runtime, module paths).
  const env = { ...deps.cli.jobEnvironment(), ...cfg.jobEnv };
  if (!pty)
    return spawn(cfg.srunPath, args, {
      env,
      detached: true,
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
  const cmd = ptyCommand([cfg.srunPath, ...args], env, pty.first);
  // stdin is always a pipe on a pty: its end would hang the terminal up.
  return spawn(cmd.file, cmd.args, { env: cmd.env, detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
}

/** Spawn srun in its own process group, wired to `io`; resolves with its exit code. */
function runStep(
  deps: SlurmDeps,
  args: string[],
  io: ExecIO,
  touch: () => void,
  pty?: { first: TerminalSize | undefined; rest: AsyncIterable<TerminalSize> | undefined },
): Promise<number> {
  const { cfg } = deps;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawnStep(deps, args, !!io.stdin, pty);
      if (pty) void ptyResizer(child.stdio[3] as Readable, pty.rest, io.signal);
    } catch {
      reject(unavailable(`cannot run ${cfg.srunPath}`));
      return;
    }
    let killTimer: Timer | undefined;
    let exited = false;
    const group = (sig: NodeJS.Signals) => {
      if (exited || child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const stop = () => {
      group('SIGTERM');
      killTimer = deps.clock.setTimer(() => group('SIGKILL'), cfg.execKillGraceSeconds * 1000);
    };
    io.signal.addEventListener('abort', stop, { once: true });
    const tap = () => {
      const p = new PassThrough();
      p.on('data', touch);
      return p;
    };
    child.stdin?.on('error', () => {});
    if (io.stdin && child.stdin) {
      pipeline(io.stdin, tap(), child.stdin).catch(() => {});
    }
    const outs: Array<Promise<unknown>> = [];
    const wire = (from: Readable, to: NodeJS.WritableStream | undefined, filter: boolean) => {
      if (!to) {
        from.resume();
        return;
      }
      const stages: NodeJS.ReadWriteStream[] = filter ? [new SrunNoiseFilter(), tap()] : [tap()];
      outs.push(pipeline([from, ...stages, to as unknown as Writable], { end: false }).catch(() => {}));
    };
    // On a pty srun's own report of the task's end comes out with the output.
    wire(child.stdout!, io.stdout, !!pty);
    wire(child.stderr!, io.stderr, true);
    child.once('error', (err) => {
      exited = true;
      io.signal.removeEventListener('abort', stop);
      killTimer?.cancel();
      reject(unavailable(`cannot run ${cfg.srunPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`));
    });
    child.once('close', (code, sig) => {
      exited = true;
      io.signal.removeEventListener('abort', stop);
      killTimer?.cancel();
      void Promise.all(outs).then(() => resolve(code ?? 128 + signalNumber(sig)));
    });
  });
}

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig ? (constants.signals[sig] ?? 9) : 9;
}
