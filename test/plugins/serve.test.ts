import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost, servePlugin } from '../../src/plugins/serve.ts';
import { captureLogger, pod, RawClient, startApi, tempDir, writeTokenFile } from '../api/harness.ts';

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

  it('SIDECARPORT and the module configuration from <NAME>CONFIGPATH (TCP without a token: insecureTcp)', async () => {
    const file = join(dir, 'mock.yaml');
    writeFileSync(file, 'SidecarURL: http://127.0.0.1\ninsecureTcp: true\ncapacity:\n  cpu: "7"\n');
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

  it.each([
    ['the default address (127.0.0.1)', {}, '127\\.0\\.0\\.1', false],
    ['localhost', { SIDECARURL: 'http://localhost' }, 'localhost', false],
    ['0.0.0.0', { SIDECARURL: 'http://0.0.0.0' }, '0\\.0\\.0\\.0', true],
  ])(
    'a plugin on TCP at %s needs auth.tokenFile or insecureTcp: true',
    async (_what, env, host, offLoopback) => {
      const logger = captureLogger().logger;
      const err = await servePlugin('mock', { env: { ...env, SIDECARPORT: '0' }, logger }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(
        new RegExp(
          `sidecarUrl: a plugin on TCP \\(${host}\\) without auth\\.tokenFile would run pods for every local user.*socket: /path.*auth\\.tokenFile.*insecureTcp: true`,
        ),
      );
      expect(/anyone who reaches it/.test(err?.message ?? '')).toBe(offLoopback);
      const logs = captureLogger();
      const served = await servePlugin('mock', {
        env: { ...env, SIDECARPORT: '0' },
        overrides: { insecureTcp: true },
        logger: logs.logger,
      });
      try {
        expect(served.url).toMatch(/^http:\/\/[^/]+:\d+$/);
        expect(logs.lines().some((l) => /plugin on TCP without auth\.tokenFile/.test(String(l.msg)))).toBe(
          true,
        );
      } finally {
        await served.close();
      }
    },
  );

  it('the attack: an unauthenticated local caller on TCP is refused by the real plugin server and runs nothing', async () => {
    const tokens = await writeTokenFile(dir, 'loopback-secret api\n', 'loopback-tokens');
    // The default address (loopback), as on a login node shared by every user.
    const served = await servePlugin('mock', {
      env: { SIDECARPORT: '0' },
      overrides: { 'auth.tokenFile': tokens },
      logger: captureLogger().logger,
    });
    const caller = new RawClient(served.url);
    try {
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      caller.token = undefined;
      const attack = { pod: pod('t', 'u-attack'), container: [] };
      expect((await caller.request('POST', '/create', attack)).status).toBe(401);
      expect((await caller.request('POST', '/create', [attack])).status).toBe(401);
      expect((await caller.request('POST', '/delete', pod('t', 'u-attack'))).status).toBe(401);
      expect((await caller.request('GET', '/status', [])).status).toBe(401);
      expect((await caller.request('GET', '/mock/calls')).status).toBe(401);
      caller.token = 'wrong-token';
      expect((await caller.request('POST', '/create', attack)).status).toBe(401);
      caller.token = 'loopback-secret';
      expect((await caller.request('GET', '/mock/calls')).json()).toMatchObject({ create: {}, delete: {} });
    } finally {
      await caller.close();
      await served.close();
    }
  });

  it('with auth.tokenFile the plugin wants the token (probes excepted); the API sends it from pluginTokenFile', async () => {
    const tokens = await writeTokenFile(dir, 'plugin-secret api\n', 'plugin-tokens');
    const logger = captureLogger().logger;
    const served = await servePlugin('mock', {
      env: { SIDECARURL: 'http://0.0.0.0', SIDECARPORT: '0' },
      overrides: { 'auth.tokenFile': tokens },
      logger,
    });
    const port = new URL(served.url).port;
    const direct = new RawClient(`http://127.0.0.1:${port}`);
    try {
      direct.token = undefined;
      expect((await direct.request('GET', '/readyz')).status).toBe(200);
      for (const path of ['/ping', '/mock/calls', '/metrics'])
        expect((await direct.request('GET', path)).status, path).toBe(401);
      expect((await direct.request('GET', '/status', [])).status).toBe(401);
      direct.token = 'plugin-secret';
      expect((await direct.request('GET', '/ping')).status).toBe(200);

      const apiTokens = await writeTokenFile(dir, 'api-token vk\n', 'api-tokens');
      const sidecar = { sidecarUrl: `http://127.0.0.1:${port}` };
      const withToken = await startApi({
        listen: 'tcp',
        pluginSocket: '/nonexistent',
        logger,
        overrides: { ...sidecar, 'auth.tokenFile': apiTokens, pluginTokenFile: tokens },
      });
      const without = await startApi({
        listen: 'tcp',
        pluginSocket: '/nonexistent',
        logger,
        overrides: { ...sidecar, 'auth.tokenFile': apiTokens },
      });
      try {
        withToken.client.token = 'api-token';
        without.client.token = 'api-token';
        expect((await withToken.client.request('POST', '/create', { pod: pod('t', 'u-tok') })).status).toBe(
          200,
        );
        // The plugin refusing the API is the API's problem, not the VK's token: 503, not 401.
        const refused = await without.client.request('GET', '/status', [pod('t', 'u-tok')]);
        expect(refused.status).toBe(503);
        expect(refused.json()).toEqual({ code: 'UNAVAILABLE', message: 'status: the plugin is unreachable' });
      } finally {
        await withToken.close();
        await without.close();
      }
    } finally {
      await direct.close();
      await served.close();
    }
  });

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['127.example.org', false],
  ])('isLoopbackHost(%s) → %s', (host, want) => {
    expect(isLoopbackHost(host)).toBe(want);
  });
});
