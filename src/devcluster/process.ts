/**
 * Child processes of the control plane, each the leader of its own process group so one
 * signal reaches it and anything it forks. Unless detached (a `cluster:up` that outlives
 * its command), a child also gets the kernel's parent-death signal (setpriv --pdeathsig):
 * if this Node process dies, even by SIGKILL, the control plane dies with it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, appendFileSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SpawnOptions {
  name: string;
  bin: string;
  args: string[];
  /** stdout and stderr are appended here. */
  logPath: string;
  /** Keep running after this process exits (no parent-death signal, not waited for). */
  detached?: boolean;
  /** The environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  name: string;
  pid: number;
  logPath: string;
  /** Settles when the process exits; never rejects. */
  exited: Promise<Exit>;
  /** The exit, once it happened. */
  exit(): Exit | undefined;
}

function onPath(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

let setpriv: string | null | undefined;
function setprivPath(): string | null {
  if (setpriv === undefined) {
    setpriv = onPath('setpriv') ?? null;
    if (setpriv === null) {
      process.stderr.write(
        '[devcluster] setpriv (util-linux) not found: if this process is SIGKILLed, its control plane keeps running\n',
      );
    }
  }
  return setpriv;
}

/**
 * Start `bin args` in a new process group with output to `logPath`. Does not block; a
 * failure to exec shows up as an exit (code null) with the error in the log.
 */
export function spawnGroup(opts: SpawnOptions): ManagedProcess {
  const fd = openSync(opts.logPath, 'a');
  let cmd = opts.bin;
  let args = opts.args;
  const sp = opts.detached ? null : setprivPath();
  if (sp) {
    cmd = sp;
    args = ['--pdeathsig', 'KILL', '--', opts.bin, ...opts.args];
  }
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: opts.env });
  } finally {
    closeSync(fd);
  }
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (err) => {
      exit ??= { code: null, signal: null };
      try {
        appendFileSync(opts.logPath, `[devcluster] could not start ${cmd}: ${err.message}\n`);
      } catch {}
      resolve(exit);
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  if (opts.detached) child.unref();
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT...): 'error' follows; keep a consistent shape.
    return {
      name: opts.name,
      pid: -1,
      logPath: opts.logPath,
      exited,
      exit: () => exit ?? { code: null, signal: null },
    };
  }
  return { name: opts.name, pid: child.pid, logPath: opts.logPath, exited, exit: () => exit };
}

/** Signal a whole process group; false when it is already gone. Never throws. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (pgid <= 0) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` is a live (not zombie) process. Linux /proc. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // state is the field after the parenthesised command name
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Whether `pid`'s command line mentions `marker` (guards against pid reuse before a kill). */
export function commandLineHas(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/**
 * Stop process groups: SIGTERM and up to `graceMs` to exit when graceMs > 0, then SIGKILL.
 * Works for our children and for groups started by an earlier command (`cluster:down`).
 * Resolves once they are gone (or after 5 s more). Idempotent.
 */
export async function stopGroups(pids: number[], graceMs = 0): Promise<void> {
  const live = () => pids.filter((p) => p > 0 && isAlive(p));
  if (graceMs > 0) {
    for (const p of live()) signalGroup(p, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (live().length > 0 && Date.now() < deadline) await sleep(50);
  }
  for (const p of pids) signalGroup(p, 'SIGKILL');
  const hardDeadline = Date.now() + 5_000;
  while (live().length > 0 && Date.now() < hardDeadline) await sleep(50);
}
