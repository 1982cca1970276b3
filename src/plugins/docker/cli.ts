/**
 * The one place the docker CLI is run: spawn with an argument array (never a shell), the
 * configured binary and DOCKER_HOST, a timeout, and failures turned into classified
 * InterlinkErrors so callers only decide what a code means.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type CommandOutcome, redact, runProcess } from '../../core/command.ts';
import type { Logger } from '../../core/logger.ts';
import { cliMayCarry } from '../../core/pod/runtime-env.ts';
import { ErrorCode, InterlinkError, invalidInput } from '../../errors/index.ts';
import { dockerCommand, timeCommand } from '../sdk/command-metrics.ts';

export interface DockerCliOptions {
  binary: string;
  /** DOCKER_HOST for the CLI; undefined = inherited from the plugin's environment. */
  dockerHost?: string | undefined;
  timeoutMs: number;
  log: Logger;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Variables added to this one call's environment: the values `docker create --env=NAME`
   * copies into the container. Never logged; a name the CLI itself reads, or one already in
   * the plugin's environment, is refused (INVALID_INPUT naming the variable, not its value).
   */
  env?: ReadonlyArray<readonly [string, string]>;
}

const INVALID = [
  'invalid reference format',
  'pull access denied',
  'manifest unknown',
  'repository does not exist',
  'no such image',
  'unknown flag',
  'unknown shorthand flag',
  'invalid argument',
  'bind source path does not exist',
  'invalid mount config',
  'duplicate mount point',
  'minimum memory limit',
  'conflicting options',
  'is not a valid',
  'invalid spec',
  'invalid env file',
  'variable contains whitespaces',
];
const UNAVAILABLE = [
  'cannot connect to the docker daemon',
  'is the docker daemon running',
  'connection refused',
];

/**
 * An error for a failed docker call, classified by what docker printed. `secrets` (the
 * values the call carried: env values) are redacted from that text before it becomes the
 * message, which reaches the API's answer and the logs.
 */
export function classify(what: string, r: RunResult, secrets: Iterable<string> = []): InterlinkError {
  const text = redact(r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`, secrets).slice(0, 2000);
  const lower = text.toLowerCase();
  const msg = `${what}: ${text}`;
  if (UNAVAILABLE.some((s) => lower.includes(s))) return new InterlinkError(ErrorCode.UNAVAILABLE, msg);
  if (lower.includes('no such container') || lower.includes('no such object'))
    return new InterlinkError(ErrorCode.NOT_FOUND, msg);
  if (lower.includes('conflict') || lower.includes('is already in use'))
    return new InterlinkError(ErrorCode.CONFLICT, msg);
  if (INVALID.some((s) => lower.includes(s))) return new InterlinkError(ErrorCode.INVALID_INPUT, msg);
  return new InterlinkError(ErrorCode.BACKEND, msg);
}

/**
 * The span name of a docker call: `docker <sub-command>`. The first argument is always one of
 * ours (create, start, inspect, ...); checked anyway, so no pod-derived word names a span.
 */
export function spanNameOf(args: readonly string[]): string {
  const sub = args[0];
  return sub !== undefined && /^[a-z][a-z-]{0,19}$/.test(sub) ? `docker ${sub}` : 'docker';
}

export class DockerCli {
  readonly #o: DockerCliOptions;
  readonly #env: NodeJS.ProcessEnv;

  constructor(o: DockerCliOptions) {
    this.#o = o;
    this.#env = { ...process.env, ...(o.dockerHost ? { DOCKER_HOST: o.dockerHost } : {}) };
  }

  get binary(): string {
    return this.#o.binary;
  }

  /**
   * Run to completion. Resolves with the exit code and output whatever the code; rejects
   * only when the CLI cannot run at all (UNAVAILABLE) or exceeds its timeout (TIMEOUT).
   */
  async run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? this.#o.timeoutMs;
    const env = opts.env ? this.#withValues(opts.env) : this.#env;
    let r: CommandOutcome;
    try {
      r = await timeCommand(dockerCommand(args), () =>
        runProcess(this.#o.binary, args, { env, timeoutMs, signal: opts.signal, spanName: spanNameOf(args) }),
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InterlinkError(
        ErrorCode.UNAVAILABLE,
        code === 'ENOENT'
          ? `docker CLI "${this.#o.binary}" not found`
          : `cannot run ${this.#o.binary}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (r.timedOut) {
      throw new InterlinkError(ErrorCode.TIMEOUT, `docker ${args[0]} did not finish within ${timeoutMs} ms`);
    }
    const result = { code: r.code ?? (r.signal ? 128 : 1), stdout: r.stdout, stderr: r.stderr };
    // The sub-command only: later words may carry pod-derived names.
    this.#o.log.trace({ command: args[0], code: result.code }, 'docker');
    return result;
  }

  #withValues(extra: ReadonlyArray<readonly [string, string]>): NodeJS.ProcessEnv {
    const env = { ...this.#env };
    for (const [k, v] of extra) {
      if (!cliMayCarry(k) || Object.hasOwn(this.#env, k))
        throw invalidInput(`env ${k}: the docker CLI's environment cannot carry this variable`, 'env');
      env[k] = v;
    }
    return env;
  }

  /** Run and require exit code 0; the trimmed stdout, or a classified error. */
  async check(args: string[], what: string, opts: RunOptions = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw classify(what, r);
    return r.stdout.trim();
  }

  /** A long-running call whose output the caller streams (`docker logs -f`). */
  spawn(args: string[]): ChildProcess {
    return spawn(this.#o.binary, args, { env: this.#env, stdio: ['ignore', 'pipe', 'pipe'] });
  }
}
