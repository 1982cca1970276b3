import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/config.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import mockModule, { MockConfig } from '../../../src/plugins/mock/index.ts';
import { isMockPlugin } from '../../../src/plugins/mock/plugin.ts';
import { loadPluginModule } from '../../../src/plugins/registry.ts';

const spec = { env: mockModule.env ?? {} };

describe('mock plugin configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mock-config-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('has defaults for everything', () => {
    expect(MockConfig.parse({})).toEqual({
      startDelay: 1000,
      runTime: undefined,
      initRunTime: 1000,
      exitCode: 0,
      logLines: 10,
      logInterval: 1000,
      capacity: { cpu: '100', memory: '256Gi', pods: '10000', accelerators: [] },
    });
  });

  it('reads YAML, with env over file', async () => {
    const file = join(dir, 'mock.yaml');
    await writeFile(
      file,
      'startDelay: 250ms\nrun_time: 1m\nlogLines: 3\ncapacity:\n  cpu: 8\n  accelerators:\n    - {resourceType: nvidia.com/gpu, available: 4}\n',
    );
    const cfg = loadConfig(MockConfig, spec, { file, env: { MOCK_LOG_LINES: '7', MOCK_EXIT_CODE: '2' } });
    expect(cfg).toMatchObject({
      startDelay: 250,
      runTime: 60_000,
      logLines: 7,
      exitCode: 2,
      capacity: {
        cpu: '8',
        memory: '256Gi',
        accelerators: [{ resourceType: 'nvidia.com/gpu', available: 4 }],
      },
    });
  });

  it.each([
    [{ MOCK_START_DELAY: 'soon' }, /startDelay .*"soon" is not a duration/],
    [{ MOCK_RUN_TIME: '10' }, /runTime .*has no unit/],
    [{ MOCK_EXIT_CODE: '300' }, /exitCode/],
  ])('fails on %j naming the key', (env, message) => {
    expect(() => loadConfig(MockConfig, spec, { env })).toThrow(message);
  });

  it('is found by the registry and builds a plugin with the admin extras', async () => {
    const mod = await loadPluginModule('mock');
    expect(mod.defaultPort).toBe(4000);
    const plugin = await mod.create(mod.configSchema.parse({}), silentLogger());
    expect(plugin.name).toBe('mock');
    expect(isMockPlugin(plugin)).toBe(true);
    expect(typeof plugin.routes).toBe('function');
  });
});
