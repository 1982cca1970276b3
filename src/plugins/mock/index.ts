/**
 * `interlink plugin mock`: the mock plugin's configuration and factory for the plugin
 * registry. Every key is a default for pods without mock annotations (behaviour.ts).
 */
import { z } from 'zod';
import type { PluginModule } from '../sdk/module.ts';
import { DEFAULT_BEHAVIOUR, parseDuration, parseRunTime } from './behaviour.ts';
import { createMockPlugin, DEFAULT_CAPACITY } from './plugin.ts';

function durationSchema<T>(parse: (text: string) => T) {
  return z.union([z.string(), z.number()]).transform((v, ctx): T => {
    try {
      return parse(String(v));
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

/** A Go-style duration string ("500ms", "2s", "1m30s") → milliseconds. */
const Duration = durationSchema(parseDuration);

/** A duration, or "forever" (undefined: app containers run until their pod is deleted). */
const RunTime = durationSchema(parseRunTime);

const seconds = (ms: number) => `${ms / 1000}s`;

export const MockConfig = z.object({
  /** Time from create until the first container starts. */
  startDelay: Duration.prefault(seconds(DEFAULT_BEHAVIOUR.startDelayMs)),
  /** How long app containers run; "forever" (default) = until the pod is deleted. */
  runTime: RunTime.prefault('forever'),
  /** How long each init container runs. */
  initRunTime: Duration.prefault(seconds(DEFAULT_BEHAVIOUR.initRunTimeMs)),
  /** Exit code of app containers that end. */
  exitCode: z.coerce.number().int().min(0).max(255).default(DEFAULT_BEHAVIOUR.exitCode),
  /** Log lines each container writes. */
  logLines: z.coerce.number().int().min(0).max(1_000_000).default(DEFAULT_BEHAVIOUR.logLines),
  /** Time between two log lines. */
  logInterval: Duration.prefault(seconds(DEFAULT_BEHAVIOUR.logIntervalMs)),
  /** What ping reports to the VK as the node's capacity. */
  capacity: z
    .object({
      cpu: z.coerce.string().default(DEFAULT_CAPACITY.cpu),
      memory: z.string().default(DEFAULT_CAPACITY.memory),
      pods: z.coerce.string().default(DEFAULT_CAPACITY.pods),
      accelerators: z
        .array(z.object({ resourceType: z.string(), available: z.union([z.string(), z.number()]) }))
        .default([]),
    })
    .prefault({}),
});
export type MockConfig = z.output<typeof MockConfig>;

const mockModule: PluginModule<typeof MockConfig> = {
  defaultPort: 4000,
  configSchema: MockConfig,
  env: {
    MOCK_START_DELAY: 'startDelay',
    MOCK_RUN_TIME: 'runTime',
    MOCK_INIT_RUN_TIME: 'initRunTime',
    MOCK_EXIT_CODE: 'exitCode',
    MOCK_LOG_LINES: 'logLines',
    MOCK_LOG_INTERVAL: 'logInterval',
  },
  async create(config) {
    return createMockPlugin({
      defaults: {
        startDelayMs: config.startDelay,
        runTimeMs: config.runTime,
        initRunTimeMs: config.initRunTime,
        exitCode: config.exitCode,
        logLines: config.logLines,
        logIntervalMs: config.logInterval,
      },
      capacity: config.capacity,
    });
  },
};

export default mockModule;
