/**
 * What a plugin's `index.ts` exports by default: how `interlink plugin <name>` configures
 * and creates it (src/plugins/registry.ts loads it by name, lazily).
 */
import type { z } from 'zod';
import type { Logger } from '../../core/logger.ts';
import type { Plugin } from './types.ts';

export interface PluginModule<S extends z.ZodObject = z.ZodObject> {
  /** Port when neither SIDECARPORT nor the config names one (interLink 0.6: docker 4000, slurm 4001). */
  defaultPort: number;
  /** The plugin's own configuration keys (merged with the common serving keys). */
  configSchema: S;
  /** Environment variables the plugin reads → dotted config keys (e.g. TSOCKS → tsocks). */
  env?: Record<string, string>;
  /** Older names of keys → dotted canonical keys. */
  aliases?: Record<string, string>;
  create(config: z.output<S>, logger: Logger): Promise<Plugin>;
}
