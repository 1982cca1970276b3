/**
 * The plugins `interlink plugin <name>` can run. Modules load lazily so that running one
 * plugin never imports another's dependencies.
 */
import type { z } from 'zod';
import type { Logger } from '../core/logger.ts';
import type { Plugin } from './sdk/types.ts';

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

export const PLUGIN_NAMES = ['mock', 'docker', 'slurm'] as const;
export type PluginName = (typeof PLUGIN_NAMES)[number];

export async function loadPluginModule(name: PluginName): Promise<PluginModule> {
  switch (name) {
    case 'mock':
      return (await import('./mock/index.ts')).default as unknown as PluginModule;
    case 'docker':
      return (await import('./docker/index.ts')).default as unknown as PluginModule;
    case 'slurm':
      return (await import('./slurm/index.ts')).default as unknown as PluginModule;
  }
}
