/**
 * exec, attach and port-forward for the docker plugin, with the Docker CLI and argument
 * arrays only (never a shell string):
 *
 *   exec          docker exec -i -- <container id> <command...>   (exit code = the command's)
 *   attach        docker attach --sig-proxy=false <container id>
 *   port-forward  host network: a TCP connection from the plugin to 127.0.0.1:<port>;
 *                 otherwise `docker exec -i -- <app container> nc 127.0.0.1 <port>` in the pod's
 *                 shared network namespace (the image needs a `nc`, as busybox has)
 *
 * The container id is the plugin's own (from its labels), the command follows it, so no
 * user string is read as a docker option. The child is killed when the caller goes away.
 * TTY (`tty=1`): `docker exec -t` (and `-i` with stdin) run on a pty the plugin allocates with
 * `script` (core/pty.ts); the first terminal size is set on it before the CLI starts (the CLI
 * creates the exec with it), later sizes with `stty`, which the CLI forwards to the exec's
 * terminal. stderr is merged into stdout, as on any terminal. attach ignores tty: its
 * containers are started without one.
 * A client that goes away kills the CLI. Without a TTY the command's stdin closes with it; with
 * one dockerd keeps the exec's terminal open and the Docker API cannot kill an exec, so a TTY
 * exec runs under a wrapper of ours: `sh -c '<record $$>; exec "$@"' sh <command...>` (a
 * constant script; the command words stay argv), which writes its PID to
 * `/tmp/.interlink-exec-<random id>` in the container and becomes the command. When the
 * client went away, `docker exec <ctr> sh -c '<kill the recorded PID>'` sends TERM to its
 * process group, then KILL after 2 s. A container without `sh` (distroless) runs the command
 * as it is: there the known limit remains (the command lives on until it ends by itself).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExecIO } from '../../core/channel-ws.ts';
import { pipeInto } from '../../core/pipe.ts';
import { firstSize, ptyCommand, ptyResizer } from '../../core/pty.ts';
import { backendError, unavailable } from '../../errors/index.ts';
import type { PortForwardQuery, TerminalSize } from '../../wire/streams.ts';

/** argv of `docker exec` for one command in a container. Pure. */
export function execArgs(containerId: string, command: string[], stdin: boolean, tty = false): string[] {
  return ['exec', ...(stdin ? ['-i'] : []), ...(tty ? ['-t'] : []), '--', containerId, ...command];
}

/** The variable naming a TTY exec's PID file in the container (`/tmp/.interlink-exec-$ID`). */
export const EXEC_ID_ENV = 'INTERLINK_EXEC_ID';
const PID_FILE = `"/tmp/.interlink-exec-$${EXEC_ID_ENV}"`;
/** Record the PID, then become the command ("$@": the command words, never parsed). */
const RECORD_PID = `echo $$ > ${PID_FILE} 2>/dev/null; exec "$@"`;
/** TERM the recorded process group (or process), KILL it after 2 s if still there; remove the file. */
const KILL_RECORDED = [
  `p=$(cat ${PID_FILE} 2>/dev/null); rm -f ${PID_FILE}; [ -n "$p" ] || exit 0`,
  'kill -s TERM -- "-$p" 2>/dev/null || kill -s TERM "$p" 2>/dev/null',
  'i=0; while [ $i -lt 20 ] && kill -0 "$p" 2>/dev/null; do sleep 0.1; i=$((i+1)); done',
  'kill -s KILL -- "-$p" 2>/dev/null || kill -s KILL "$p" 2>/dev/null; exit 0',
].join('\n');

/** argv of a TTY `docker exec` under the PID-recording wrapper. Pure. */
export function ttyExecArgs(
  containerId: string,
  command: string[],
  stdin: boolean,
  execId: string,
): string[] {
  return [
    'exec',
    ...(stdin ? ['-i'] : []),
    '-t',
    `--env=${EXEC_ID_ENV}=${execId}`,
    '--',
    containerId,
    'sh',
    '-c',
    RECORD_PID,
    'sh',
    ...command,
  ];
}

/** argv that ends a wrapped TTY exec left running (`kill: true`) or only removes its PID file. Pure. */
export function execCleanupArgs(containerId: string, execId: string, kill: boolean): string[] {
  const script = kill ? KILL_RECORDED : `rm -f ${PID_FILE}`;
  return ['exec', `--env=${EXEC_ID_ENV}=${execId}`, '--', containerId, 'sh', '-c', script];
}

/** How long a tty exec waits for the client's first terminal size before starting without it. */
export const FIRST_SIZE_WAIT_MS = 2000;

/** argv of `docker attach`. Pure. */
export function attachArgs(containerId: string, stdin: boolean): string[] {
  return ['attach', '--sig-proxy=false', ...(stdin ? [] : ['--no-stdin']), containerId];
}

/** argv of the in-namespace relay for port-forward. Pure. */
export function relayArgs(containerId: string, port: number): string[] {
  return ['exec', '-i', '--', containerId, 'nc', '127.0.0.1', String(port)];
}

export interface DockerSpawn {
  binary: string;
  env: NodeJS.ProcessEnv;
}

/** Run a docker CLI child wired to `io`; resolves with its exit code; kills it on abort. */
export function runWired(
  d: DockerSpawn,
  args: string[],
  io: {
    stdin?: Readable | undefined;
    stdout?: Writable | undefined;
    stderr?: Writable | undefined;
    signal: AbortSignal;
    /** Run on a pty of its own (core/pty.ts), sized and resized from these. */
    pty?: { size: TerminalSize | undefined; resizes: AsyncIterable<TerminalSize> | undefined };
  },
): Promise<number> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      if (io.pty) {
        const cmd = ptyCommand([d.binary, ...args], d.env, io.pty.size);
        // stdin is always a pipe on a pty: its end would hang the terminal up.
        child = spawn(cmd.file, cmd.args, { env: cmd.env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
        void ptyResizer(child.stdio[3] as Readable, io.pty.resizes, io.signal);
      } else {
        child = spawn(d.binary, args, { env: d.env, stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
      }
    } catch (err) {
      reject(unavailable(`cannot run the docker CLI: ${(err as Error).message}`, err));
      return;
    }
    const kill = () => child.kill('SIGKILL');
    io.signal.addEventListener('abort', kill, { once: true });
    if (io.signal.aborted) kill();
    const outs: Array<Promise<unknown>> = [];
    child.stdin?.on('error', () => {});
    if (io.stdin && child.stdin) {
      // Not pipeline: the child exiting (EPIPE) must not destroy a port-forward connection
      // whose other half is still delivering the child's last output.
      void pipeInto(io.stdin, child.stdin);
    }
    if (io.stdout) outs.push(pipeline(child.stdout!, io.stdout, { end: false }).catch(() => {}));
    else child.stdout!.resume();
    if (io.stderr) outs.push(pipeline(child.stderr!, io.stderr, { end: false }).catch(() => {}));
    else child.stderr!.resume();
    child.once('error', (err) => {
      io.signal.removeEventListener('abort', kill);
      reject(unavailable(`cannot run the docker CLI: ${err.message}`, err));
    });
    child.once('close', (code, signal) => {
      io.signal.removeEventListener('abort', kill);
      void Promise.all(outs).then(() => resolve(code ?? (signal ? 128 + 9 : 1)));
    });
  });
}

export async function dockerExec(
  d: DockerSpawn,
  containerId: string,
  command: string[],
  io: ExecIO,
  tty = false,
): Promise<number> {
  if (!tty) return runWired(d, execArgs(containerId, command, !!io.stdin), io);
  const { first, rest } = await firstSize(io.resizes, FIRST_SIZE_WAIT_MS);
  const wrapped = await hasShell(d, containerId);
  const execId = randomBytes(12).toString('hex');
  const args = wrapped
    ? ttyExecArgs(containerId, command, !!io.stdin, execId)
    : execArgs(containerId, command, !!io.stdin, true);
  try {
    return await runWired(d, args, { ...io, pty: { size: first, resizes: rest } });
  } finally {
    // The client went away: end what the exec left running. Otherwise only tidy up, unawaited.
    if (wrapped) {
      const cleanup = runWired(d, execCleanupArgs(containerId, execId, io.signal.aborted), {
        signal: AbortSignal.timeout(30_000),
      }).catch(() => 1);
      if (io.signal.aborted) await cleanup;
    }
  }
}

/** Whether the container runs `sh` (the TTY wrapper needs it). */
async function hasShell(d: DockerSpawn, containerId: string): Promise<boolean> {
  const code = await runWired(d, ['exec', '--', containerId, 'sh', '-c', 'exit 0'], {
    signal: AbortSignal.timeout(30_000),
  }).catch(() => 1);
  return code === 0;
}

export async function dockerAttach(d: DockerSpawn, containerId: string, io: ExecIO): Promise<number> {
  const code = await runWired(d, attachArgs(containerId, !!io.stdin), io);
  // `docker attach` exits with the container's code when it ends; detaching is 0.
  return code;
}

export interface PortTarget {
  /** The pod's network is the host's: connect directly. */
  hostNetwork: boolean;
  /** A running container of the pod to run the relay in (other network modes). */
  relayContainer?: string | undefined;
}

export async function dockerPortForward(
  d: DockerSpawn,
  target: PortTarget,
  req: PortForwardQuery,
  conn: Duplex,
  signal: AbortSignal,
): Promise<void> {
  if (target.hostNetwork) {
    const sock = connect(req.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', (err) =>
        reject(
          backendError(
            `cannot connect to port ${req.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
          ),
        ),
      );
    });
    const onAbort = () => sock.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.all([pipeInto(conn, sock), pipeInto(sock, conn)]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
    }
    return;
  }
  if (!target.relayContainer)
    throw backendError(`pod ${req.namespace}/${req.name} has no running container to relay port ${req.port}`);
  const errors: Buffer[] = [];
  const stderr = new (await import('node:stream')).Writable({
    write(c: Buffer, _e, cb) {
      if (errors.length < 16) errors.push(c);
      cb();
    },
  });
  const code = await runWired(d, relayArgs(target.relayContainer, req.port), {
    stdin: conn,
    stdout: conn,
    stderr,
    signal,
  });
  if (!conn.writableEnded) conn.end();
  if (code !== 0 && !signal.aborted) {
    const why = Buffer.concat(errors).toString('utf8').trim().split('\n')[0]?.slice(0, 200) ?? '';
    throw backendError(`port ${req.port}: relay in the pod failed (exit ${code})${why ? `: ${why}` : ''}`);
  }
}
