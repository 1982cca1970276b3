/**
 * The plugins `interlink plugin <name>` can run. Modules load lazily so that running one
 * plugin never imports another's dependencies.
 */
import type { PluginModule } from './sdk/module.ts';

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
