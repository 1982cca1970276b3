/**
 * One logger factory for every process: JSON lines by default (for log collectors),
 * pretty when stderr is a terminal. Children carry `component` and, per request, `session`;
 * a line written inside a traced span carries its `trace_id` and `span_id` (core/tracing.ts),
 * so logs and traces join.
 */
import { type LevelWithSilent, type Logger, pino } from 'pino';
import { z } from 'zod';
import { traceLogFields } from './tracing.ts';

export type { Logger };

/** Every level a process accepts (`logLevel` in each config, `--log-level`), most severe first. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LogLevel = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof LogLevel>;

export interface LoggerOptions {
  level?: LevelWithSilent | string;
  name?: string;
  /** Force pretty output (default: when stderr is a TTY). */
  pretty?: boolean;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = (opts.level ?? process.env.LOG_LEVEL ?? 'info') as LevelWithSilent;
  const pretty = opts.pretty ?? process.stderr.isTTY === true;
  const base = { name: opts.name ?? 'interlink' };
  if (pretty) {
    return pino({
      level,
      base,
      mixin: traceLogFields,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l' },
      },
    });
  }
  return pino(
    { level, base, mixin: traceLogFields, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: false }),
  );
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
