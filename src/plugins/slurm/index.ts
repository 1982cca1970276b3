/**
 * `interlink plugin slurm`: pods as Slurm batch jobs (DESIGN.md §4). Configuration in
 * config.ts; the plugin in plugin.ts; the job script in job.ts (with job-spec.ts,
 * job-options.ts, job-containers.ts) → script.ts.
 */
import type { PluginModule } from '../sdk/module.ts';
import { SLURM_CONFIG_SPEC, SlurmConfig } from './config.ts';
import { createSlurmPlugin } from './plugin.ts';

const slurmModule: PluginModule<typeof SlurmConfig> = {
  defaultPort: 4001,
  configSchema: SlurmConfig,
  ...SLURM_CONFIG_SPEC,
  async create(config, logger) {
    return createSlurmPlugin({ config, logger });
  },
};

export default slurmModule;
