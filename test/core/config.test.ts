import { describe, expect, it } from 'vitest';
import { API_CONFIG_SPEC } from '../../src/api/config.ts';
import { configNames, loadConfig } from '../../src/core/config.ts';
import { DOCKER_CONFIG_SPEC, DockerConfig } from '../../src/plugins/docker/config.ts';
import { SERVING_CONFIG_SPEC } from '../../src/plugins/serve.ts';
import { SLURM_CONFIG_SPEC } from '../../src/plugins/slurm/config.ts';
import { VK_CONFIG_SPEC } from '../../src/vk/config.ts';

describe('configNames', () => {
  it('splits each setting row into environment variables ($NAME) and aliases', () => {
    expect(configNames({ a: ['$A', 'OldA'], 'b.c': ['$B_C'], d: ['D1', 'D2'] })).toEqual({
      env: { A: 'a', B_C: 'b.c' },
      aliases: { OldA: 'a', D1: 'd', D2: 'd' },
    });
  });

  it('gives loadConfig the environment variables it reads (an empty one counts as unset)', () => {
    const cfg = loadConfig(DockerConfig, DOCKER_CONFIG_SPEC, {
      env: { DOCKER_CLI: '/opt/docker', INTERLINK_DOCKER_INFRA_IMAGE: '' },
    });
    expect(cfg.dockerCli).toBe('/opt/docker');
    expect(cfg.infraImage).toBe(DockerConfig.parse({}).infraImage);
  });

  // The names interLink 0.6 deployments use: these tables must not lose one.
  it.each([
    [
      'vk',
      VK_CONFIG_SPEC,
      {
        NODENAME: 'nodeName',
        KUBECONFIG: 'kubeconfig',
        INTERLINKURL: 'interlinkUrl',
        INTERLINKPORT: 'interlinkPort',
        VKTOKENFILE: 'vkTokenFile',
        POD_IP: 'podIp',
        LOG_LEVEL: 'logLevel',
      },
      {
        InterlinkAddress: 'interlinkUrl',
        KubernetesApiAddr: 'kubernetesServiceHost',
        KubernetesApiPort: 'kubernetesServicePort',
        InternalIP: 'podIp',
        'KubeletHTTP.CertFile': 'kubeletHttp.certFile',
        'KubeletHTTP.KeyFile': 'kubeletHttp.keyFile',
        'KubeletHTTP.CaCert': 'kubeletHttp.clientCaFile',
        'TLS.CACertFile': 'tls.caCertFile',
        PodSyncWorkers: 'workers',
      },
    ],
    [
      'slurm',
      SLURM_CONFIG_SPEC,
      {
        TSOCKS: 'tsocks',
        TSOCKSPATH: 'tsocksPath',
        SHARED_FS: 'sharedFs',
        INTERLINK_SLURM_DATA_ROOT: 'dataRoot',
      },
      {
        DataRootFolder: 'dataRoot',
        SingularityDefaultOptions: 'apptainerOptions',
        SingularityPath: 'runtimePath',
        EnrootDefaultOptions: 'enrootOptions',
        EnrootPath: 'runtimePath',
        runtime: 'containerRuntime',
        keepJobDir: 'keepJobDirs',
      },
    ],
    [
      'docker',
      DOCKER_CONFIG_SPEC,
      {
        DOCKER_CLI: 'dockerCli',
        INTERLINK_DOCKER_DATA_ROOT: 'dataRoot',
        INTERLINK_DOCKER_INFRA_IMAGE: 'infraImage',
      },
      { DataRootFolder: 'dataRoot' },
    ],
    [
      'plugin serving',
      SERVING_CONFIG_SPEC,
      { SIDECARURL: 'sidecarUrl', SIDECARPORT: 'sidecarPort', SIDECARSOCKET: 'socket' },
      { SidecarAddress: 'sidecarUrl', socketPath: 'socket' },
    ],
    [
      'api',
      API_CONFIG_SPEC,
      {
        INTERLINKURL: 'interlinkUrl',
        INTERLINKPORT: 'interlinkPort',
        SIDECARURL: 'sidecarUrl',
        SIDECARPORT: 'sidecarPort',
        SIDECARSERVICE: 'sidecarService',
      },
      {
        InterlinkAddress: 'interlinkUrl',
        'TLS.CACertFile': 'tls.clientCaFile',
        'TLS.CAFile': 'tls.clientCaFile',
        'auth.tokensFile': 'auth.tokenFile',
        'auth.oidc.jwksUri': 'auth.oidc.jwksUrl',
        'auth.oidc.groupClaim': 'auth.oidc.groupsClaim',
        'auth.oidc.group': 'auth.oidc.requiredGroup',
      },
    ],
  ])('%s: the environment variables and older names', (_name, spec, env, aliases) => {
    expect(spec.env).toEqual(env);
    expect(spec.aliases).toEqual(aliases);
  });
});
