import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servePlugin } from '../../src/plugins/serve.ts';
import { captureLogger, RawClient, tempDir } from '../api/harness.ts';

describe('servePlugin', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(() => cleanup());

  it('SIDECARURL=unix:///path serves on a 0600 socket; the signal closes it', async () => {
    const socket = join(dir, 'mock.sock');
    const ctl = new AbortController();
    const served = await servePlugin('mock', {
      env: { SIDECARURL: `unix://${socket}` },
      logger: captureLogger().logger,
      signal: ctl.signal,
    });
    expect(served.url).toBe(`unix://${socket}`);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const c = new RawClient(served.url);
    c.token = undefined;
    const ping = await c.request('GET', '/ping');
    expect(ping.json()).toMatchObject({ status: 'ok' });
    // The 0.6 ping shape still works on our plugins.
    expect((await c.request('GET', '/status', [])).json()).toEqual([]);
    await c.close();
    ctl.abort();
    await served.closed;
  });

  it('SIDECARPORT and the module configuration from <NAME>CONFIGPATH', async () => {
    const file = join(dir, 'mock.yaml');
    writeFileSync(file, 'SidecarURL: http://127.0.0.1\ncapacity:\n  cpu: "7"\n');
    const served = await servePlugin('mock', {
      env: { MOCKCONFIGPATH: file, SIDECARPORT: '0' },
      logger: captureLogger().logger,
    });
    try {
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const c = new RawClient(served.url);
      c.token = undefined;
      expect((await c.request('GET', '/ping')).json()).toMatchObject({ resources: { cpu: '7' } });
      await c.close();
    } finally {
      await served.close();
    }
  });

  it('configuration errors name the key before anything listens', async () => {
    const logger = captureLogger().logger;
    await expect(servePlugin('nope', { env: {}, logger })).rejects.toThrow(
      /unknown plugin "nope" \(accepted: mock, docker, slurm\)/,
    );
    await expect(servePlugin('mock', { env: { SIDECARPORT: 'x' }, logger })).rejects.toThrow(
      /sidecarPort \(from environment variable SIDECARPORT\)/,
    );
    await expect(servePlugin('mock', { env: {}, overrides: { startDelay: 'soon' }, logger })).rejects.toThrow(
      /startDelay/,
    );
    await expect(servePlugin('mock', { env: { SIDECARURL: 'https://127.0.0.1' }, logger })).rejects.toThrow(
      /sidecarUrl: plugins serve http/,
    );
  });
});
