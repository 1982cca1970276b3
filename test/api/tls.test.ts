/**
 * The API on https (TLS) and with client-certificate verification (mTLS). Certificates are
 * made per run with the openssl CLI.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig, resolveApiConfig } from '../../src/api/config.ts';
import {
  type ApiUnderTest,
  captureLogger,
  RawClient,
  startApi,
  startMock,
  TOKEN,
  tempDir,
  writeTokenFile,
} from './harness.ts';

const run = promisify(execFile);

async function makeCa(dir: string, name: string) {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    crt,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
  return { key, crt };
}

async function makeCert(dir: string, ca: { key: string; crt: string }, name: string, ext: string) {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const crt = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  await writeFile(extFile, `${ext}\n`);
  await run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    `/CN=${name}`,
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.crt,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    crt,
    '-days',
    '2',
    '-extfile',
    extFile,
  ]);
  return { key, crt };
}

describe('API over TLS', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let pluginSocket: string;
  let mock: Awaited<ReturnType<typeof startMock>>;
  let ca: { key: string; crt: string };
  let server: { key: string; crt: string };
  let client: { key: string; crt: string };
  let stranger: { key: string; crt: string };
  const { logger } = captureLogger();
  const apis: ApiUnderTest[] = [];
  const clients: RawClient[] = [];

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    pluginSocket = join(dir, 'plugin.sock');
    mock = await startMock(pluginSocket, logger);
    ca = await makeCa(dir, 'test-ca');
    server = await makeCert(
      dir,
      ca,
      'server',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth',
    );
    client = await makeCert(dir, ca, 'vk', 'extendedKeyUsage=clientAuth');
    const otherCa = await makeCa(dir, 'other-ca');
    stranger = await makeCert(dir, otherCa, 'stranger', 'extendedKeyUsage=clientAuth');
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    for (const a of apis) await a.close();
    await mock?.close();
    await cleanup?.();
  });

  const tlsClient = async (url: string, cert?: { key: string; crt: string }) => {
    const c = new RawClient(url, {
      ca: await readFile(ca.crt),
      ...(cert ? { cert: await readFile(cert.crt), key: await readFile(cert.key) } : {}),
    });
    clients.push(c);
    return c;
  };

  it('https with a bearer token', async () => {
    const api = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger,
      overrides: {
        interlinkUrl: 'https://127.0.0.1',
        'tls.certFile': server.crt,
        'tls.keyFile': server.key,
        'auth.tokenFile': await writeTokenFile(dir),
      },
    });
    apis.push(api);
    expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const c = await tlsClient(api.url);
    const res = await c.request('POST', '/pinglink');
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok' });
    c.token = undefined;
    expect((await c.request('POST', '/pinglink')).status).toBe(401);
    // Plain http to the TLS port gets nowhere.
    const plain = new RawClient(api.url.replace('https:', 'http:'));
    clients.push(plain);
    await expect(plain.request('POST', '/pinglink')).rejects.toThrow();
  });

  it('mTLS: a certificate from the client CA is the credential; none, or a stranger, is refused at the handshake', async () => {
    const api = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger,
      // TLS.Enabled + TLS.CACertFile, the interLink 0.6 names.
      overrides: {
        'tls.enabled': true,
        'tls.certFile': server.crt,
        'tls.keyFile': server.key,
        'tls.clientCaFile': ca.crt,
      },
    });
    apis.push(api);
    expect(api.url).toMatch(/^https:/);
    const good = await tlsClient(api.url, client);
    good.token = undefined;
    const res = await good.request('POST', '/pinglink');
    expect(res.status, res.text).toBe(200);
    const anonymous = await tlsClient(api.url);
    await expect(anonymous.request('POST', '/pinglink')).rejects.toThrow();
    const foreign = await tlsClient(api.url, stranger);
    await expect(foreign.request('POST', '/pinglink')).rejects.toThrow();
    // The server survives refused handshakes.
    expect((await good.request('GET', '/healthz')).status).toBe(200);
  });

  it('configuration mistakes name the key', () => {
    const load = (file: Record<string, unknown>) => () =>
      resolveApiConfig(loadApiConfig({ env: {}, overrides: { 'auth.disabled': true, ...file } }));
    expect(load({ interlinkUrl: 'https://0.0.0.0' })).toThrow(/tls\.certFile: required/);
    expect(load({ interlinkUrl: 'https://0.0.0.0', 'tls.certFile': server.crt })).toThrow(
      /tls\.keyFile: required/,
    );
    expect(
      load({ 'tls.enabled': true, 'tls.certFile': join(dir, 'nope.crt'), 'tls.keyFile': server.key }),
    ).toThrow(/tls\.certFile: cannot read/);
    expect(load({ 'tls.clientCaFile': ca.crt })).toThrow(/tls\.clientCaFile: client certificates need TLS/);
    expect(load({ interlinkUrl: 'unix:///tmp/x.sock', 'tls.enabled': true })).toThrow(
      /tls\.enabled: TLS is not supported on a unix socket/,
    );
    expect(load({ 'pluginTls.insecureSkipVerify': true })).toThrow(
      /pluginTls: set, but sidecarUrl is plain http/,
    );
  });

  it('mTLS alone satisfies the "some authentication" rule; tokens still apply on top when configured', async () => {
    const cfg = resolveApiConfig(
      loadApiConfig({
        env: {},
        overrides: {
          'tls.enabled': true,
          'tls.certFile': server.crt,
          'tls.keyFile': server.key,
          'tls.clientCaFile': ca.crt,
        },
      }),
    );
    expect(cfg.https?.requestCert).toBe(true);
    const api = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger,
      overrides: {
        'tls.enabled': true,
        'tls.certFile': server.crt,
        'tls.keyFile': server.key,
        'tls.clientCaFile': ca.crt,
        'auth.tokenFile': await writeTokenFile(dir),
      },
    });
    apis.push(api);
    const c = await tlsClient(api.url, client);
    c.token = undefined;
    expect((await c.request('POST', '/pinglink')).status).toBe(401);
    c.token = TOKEN;
    expect((await c.request('POST', '/pinglink')).status).toBe(200);
  });
});
