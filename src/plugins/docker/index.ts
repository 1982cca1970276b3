/**
 * `interlink plugin docker`: runs each Pod on a Docker host through the docker CLI
 * (plugin.ts). Default port 4000, as interLink 0.6's docker sidecar.
 */
import type { PluginModule } from '../sdk/module.ts';
import { DOCKER_CONFIG_SPEC, DockerConfig } from './config.ts';
import { createDockerPlugin } from './plugin.ts';

const dockerModule: PluginModule<typeof DockerConfig> = {
  defaultPort: 4000,
  configSchema: DockerConfig,
  ...DOCKER_CONFIG_SPEC,
  create: (config, logger) => createDockerPlugin(config, logger),
};

export default dockerModule;
