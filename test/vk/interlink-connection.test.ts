import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { loadVkConfig } from '../../src/vk/config.ts';
import { interlinkConnection } from '../../src/vk/interlink-connection.ts';

const dir = mkdtempSync(join(tmpdir(), 'il-conn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pem = (name: string, body: string) => {
  const f = join(dir, name);
  writeFileSync(f, body);
  return f;
};
const ca = pem('ca.pem', 'CA');
const cert = pem('cert.pem', 'CERT');
const key = pem('key.pem', 'KEY');
const missing = join(dir, 'absent.pem');

describe('interlinkConnection: the one TLS builder of the VK HTTP and stream clients', () => {
  const cases: Array<[string, Record<string, unknown>, Record<string, string | boolean>]> = [
    ['nothing set', {}, {}],
    ['http.caCert', { http: { caCert: ca } }, { ca: 'CA' }],
    [
      'tls.caCertFile wins over http.caCert',
      { http: { caCert: missing }, tls: { caCertFile: ca } },
      { ca: 'CA' },
    ],
    ['client pair only when tls.enabled', { tls: { certFile: cert, keyFile: key } }, {}],
    ['client pair', { tls: { enabled: true, certFile: cert, keyFile: key } }, { cert: 'CERT', key: 'KEY' }],
    ['http.insecure', { http: { insecure: true } }, { insecureSkipVerify: true }],
  ];
  it.each(cases)('%s', (_, overrides, want) => {
    const conn = interlinkConnection(loadVkConfig({ env: {}, overrides }));
    const got = Object.fromEntries(
      Object.entries(conn.tls).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : v]),
    );
    expect(got).toEqual(want);
    expect(conn.endpoint).toEqual({ kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: 3000 });
  });

  it('an unreadable file is INVALID_INPUT naming the config key', () => {
    const config = loadVkConfig({
      env: {},
      overrides: { tls: { enabled: true, certFile: missing, keyFile: key } },
    });
    expect(() => interlinkConnection(config)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_INPUT, field: 'tls.certFile' }),
    );
  });
});
