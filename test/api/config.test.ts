import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiConfig, defaultSidecarPort, loadApiConfig, resolveApiConfig } from '../../src/api/config.ts';
import { formatEndpoint } from '../../src/core/endpoint.ts';
import { captureLogger, tempDir } from './harness.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(() => cleanup());

let n = 0;
const yamlFile = (text: string) => {
  const f = join(dir, `cfg-${++n}.yaml`);
  writeFileSync(f, text);
  return f;
};
const noAuth = { 'auth.disabled': true };
const resolve = (cfg: ApiConfig) => resolveApiConfig(cfg);
const endpoints = (cfg: ApiConfig) => {
  const r = resolve(cfg);
  return { listen: formatEndpoint(r.listen), plugin: formatEndpoint(r.plugin) };
};

describe('API configuration', () => {
  it('defaults: API on 127.0.0.1:3000, plugin on 127.0.0.1:4000', () => {
    expect(endpoints(loadApiConfig({ env: {}, overrides: noAuth }))).toEqual({
      listen: 'http://127.0.0.1:3000',
      plugin: 'http://127.0.0.1:4000',
    });
  });

  it.each([
    [undefined, 4000],
    ['docker', 4000],
    ['slurm', 4001],
    ['SLURM', 4001],
    ['htcondor', 4000],
  ])('SIDECARSERVICE=%s → default plugin port %i', (service, port) => {
    expect(defaultSidecarPort(service)).toBe(port);
    const env = service ? { SIDECARSERVICE: service } : {};
    expect(resolve(loadApiConfig({ env, overrides: noAuth })).plugin).toMatchObject({ port });
  });

  it('the interLink 0.6 environment variables', () => {
    const file = yamlFile('interlinkPort: 1111\nauth: {disabled: true}\n');
    const env = {
      INTERLINKCONFIGPATH: file,
      INTERLINKURL: 'http://0.0.0.0',
      INTERLINKPORT: '3500',
      SIDECARURL: 'http://plugin.local',
      SIDECARPORT: '4500',
      SIDECARSERVICE: 'slurm',
    };
    // env over file: INTERLINKPORT wins over the file's 1111; the file (via INTERLINKCONFIGPATH) supplied auth.
    expect(endpoints(loadApiConfig({ env }))).toEqual({
      listen: 'http://0.0.0.0:3500',
      plugin: 'http://plugin.local:4500',
    });
  });

  it('YAML with the predecessor CamelCase keys, lower-case forms and our names', () => {
    const camel = yamlFile(
      [
        'InterlinkURL: "http://0.0.0.0"',
        'InterlinkPort: "3001"',
        'SidecarURL: "unix:///var/run/interlink/plugin.sock"',
        'SidecarPort: "4000"',
        'VerboseLogging: true',
        'ErrorsOnlyLogging: false',
        'DataRootFolder: "/home/user/.interlink/"',
        'auth:',
        '  disabled: true',
      ].join('\n'),
    );
    const logs = captureLogger();
    const cfg = loadApiConfig({ file: camel, env: {}, logger: logs.logger });
    expect(endpoints(cfg)).toEqual({
      listen: 'http://0.0.0.0:3001',
      plugin: 'unix:///var/run/interlink/plugin.sock',
    });
    expect(resolve(cfg).logLevel).toBe('debug');
    // Every key was known: no warning.
    expect(logs.lines().filter((l) => l.level === 40)).toEqual([]);

    const address = loadApiConfig({
      file: yamlFile(
        'InterlinkAddress: "http://10.0.0.1"\ninterlinkport: 3002\nsidecarurl: http://p\nErrorsOnlyLogging: true\n',
      ),
      env: {},
      overrides: noAuth,
    });
    expect(endpoints(address).listen).toBe('http://10.0.0.1:3002');
    expect(resolve(address).logLevel).toBe('error');
    expect(
      resolve(loadApiConfig({ env: {}, overrides: { ...noAuth, logLevel: 'warn', verboseLogging: true } }))
        .logLevel,
    ).toBe('warn');
  });

  it('the interLink 0.6 TLS block', () => {
    const cfg = loadApiConfig({
      file: yamlFile(
        'TLS:\n  Enabled: true\n  CertFile: /c.crt\n  KeyFile: /c.key\n  CACertFile: /ca.crt\nauth: {disabled: true}\n',
      ),
      env: {},
    });
    expect(cfg.tls).toEqual({
      enabled: true,
      certFile: '/c.crt',
      keyFile: '/c.key',
      clientCaFile: '/ca.crt',
    });
  });

  it('unix:///path selects a socket for either side and ignores the port', () => {
    const cfg = loadApiConfig({
      env: { INTERLINKURL: 'unix:///tmp/api.sock', INTERLINKPORT: '3000', SIDECARURL: 'unix:///tmp/p.sock' },
      overrides: noAuth,
    });
    expect(endpoints(cfg)).toEqual({ listen: 'unix:///tmp/api.sock', plugin: 'unix:///tmp/p.sock' });
  });

  it('an unknown key warns and is ignored', () => {
    const logs = captureLogger();
    loadApiConfig({
      file: yamlFile('interlinkPort: 3000\nSidecarPrt: 4000\nauth:\n  disabled: true\n  tokenfil: /x\n'),
      env: {},
      logger: logs.logger,
    });
    const warn = logs.lines().find((l) => l.level === 40);
    expect(warn?.msg).toBe('unknown configuration keys ignored: SidecarPrt, auth.tokenfil');
  });

  it.each([
    ['interlinkPort: abc', /interlinkPort .*accepted: a number/],
    ['interlinkPort: 70000', /interlinkPort .*accepted: <= 65535/],
    ['logLevel: loud', /logLevel .*accepted: fatal, error, warn, info, debug, trace, silent/],
    ['bodyLimit: -5', /bodyLimit .*accepted: > 0/],
    ['auth:\n  disabled: maybe', /auth\.disabled/],
    ['auth:\n  oidc:\n    issuer: not a url\n    audience: x', /auth\.oidc\.issuer/],
    ['auth:\n  oidc:\n    issuer: https://idp.example', /auth\.oidc\.audience/],
    ['interlinkUrl: "ftp://x"', /interlinkUrl: scheme "ftp" is not supported/],
    ['sidecarUrl: "unix://relative.sock"', /sidecarUrl: a unix socket URL needs an absolute path/],
  ])('invalid value %j fails naming the key', (text, message) => {
    const file = yamlFile(text);
    expect(() =>
      resolve(loadApiConfig({ file, env: {}, overrides: text.startsWith('auth') ? {} : noAuth })),
    ).toThrow(message);
  });

  it('an invalid environment value names the variable it came from', () => {
    expect(() => loadApiConfig({ env: { SIDECARPORT: 'four' }, overrides: noAuth })).toThrow(
      /sidecarPort \(from environment variable SIDECARPORT\)/,
    );
  });

  it('a missing configuration file is an error naming it', () => {
    expect(() => loadApiConfig({ env: { INTERLINKCONFIGPATH: join(dir, 'absent.yaml') } })).toThrow(
      /cannot read configuration file .*absent\.yaml/,
    );
  });
});

describe('ports', () => {
  it.each([
    [{ sidecarUrl: 'http://p:4321' }, 'http://p:4321'],
    [{ sidecarUrl: 'http://p:4321', sidecarPort: 5000 }, 'http://p:5000'],
    [{ sidecarUrl: 'http://p' }, 'http://p:4000'],
    [{ sidecarUrl: 'https://p' }, 'https://p:4000'],
    [{ sidecarUrl: 'p:80' }, 'http://p:80'],
    [{ sidecarUrl: 'http://[::1]:4444' }, 'http://[::1]:4444'],
    [{ sidecarUrl: 'http://[::1]' }, 'http://[::1]:4000'],
    [{ sidecarUrl: 'http://p:4321/', sidecarService: 'slurm' }, 'http://p:4321'],
    [{ sidecarUrl: 'http://p/', sidecarService: 'slurm' }, 'http://p:4001'],
  ])('%j → %s (explicit port, then the URL, then the default)', (overrides, want) => {
    expect(
      formatEndpoint(
        resolveApiConfig(loadApiConfig({ env: {}, overrides: { ...noAuth, ...overrides } })).plugin,
      ),
    ).toBe(want);
  });
});
