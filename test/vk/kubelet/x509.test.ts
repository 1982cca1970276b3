import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificatePem, createCsrPem } from '../../../src/vk/kubelet/x509.ts';

/** Minimal DER walk for the test: the children of the SEQUENCE at `at`. */
function children(der: Buffer, at = 0): Buffer[] {
  const header = (pos: number) => {
    let len = der[pos + 1]!;
    let start = pos + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
      start += n;
    }
    return { start, end: start + len };
  };
  const outer = header(at);
  const out: Buffer[] = [];
  for (let pos = outer.start; pos < outer.end; ) {
    const h = header(pos);
    out.push(der.subarray(pos, h.end));
    pos = h.end;
  }
  return out;
}

const derOf = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');

/** TBSCertificate fields 3 and 5 (after version, serial, signature algorithm): issuer and subject. */
function names(certDer: Buffer): { issuer: Buffer; subject: Buffer } {
  const [tbs] = children(certDer);
  const fields = children(tbs!);
  return { issuer: fields[3]!, subject: fields[5]! };
}

describe('x509 writer', () => {
  it.each(['ec', 'rsa'] as const)(
    'writes a CSR whose self-signature verifies (%s key) and carries the SANs',
    async (type) => {
      const { privateKey, publicKey } =
        type === 'ec'
          ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = await createCsrPem({
        subject: { commonName: 'system:node:vk-1', organizations: ['system:nodes'] },
        altNames: { dnsNames: ['vk-1'], ipAddresses: ['10.1.2.3', 'fd00::1'] },
        privateKey,
      });
      expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
      const [info, , sig] = children(derOf(pem));
      // BIT STRING: tag, length (short or long form), then the unused-bits byte.
      const lenBytes = sig![1]! & 0x80 ? 1 + (sig![1]! & 0x7f) : 1;
      const signature = sig!.subarray(1 + lenBytes + 1);
      expect(verify('sha256', info!, publicKey, signature)).toBe(true);
      const text = info!.toString('latin1');
      expect(text).toContain('system:node:vk-1');
      expect(text).toContain('system:nodes');
      expect(info!.includes(Buffer.from([10, 1, 2, 3]))).toBe(true);
      expect(info!.includes(Buffer.from('fd000000000000000000000000000001', 'hex'))).toBe(true);
      // An independent reader: OpenSSL checks the self-signature and decodes every field.
      const openssl = spawnSync(
        'openssl',
        ['req', '-noout', '-verify', '-text', '-nameopt', 'sep_multiline'],
        {
          input: pem,
          encoding: 'utf8',
        },
      );
      expect(openssl.stderr).toContain('self-signature verify OK');
      expect(openssl.status).toBe(0);
      const decoded = openssl.stdout;
      expect(decoded).toMatch(/O=system:nodes\n\s*CN=system:node:vk-1\n/);
      expect(decoded).toContain('DNS:vk-1, IP Address:10.1.2.3, IP Address:FD00:0:0:0:0:0:0:1');
    },
  );

  it('writes a CA and a leaf that node:crypto accepts as a chain', async () => {
    const ca = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const now = new Date();
    const later = new Date(now.getTime() + 3_600_000);
    const caPem = await createCertificatePem({
      subject: { commonName: 'ca' },
      altNames: {},
      publicKey: ca.publicKey,
      issuerKey: ca.privateKey,
      notBefore: now,
      notAfter: later,
      isCa: true,
    });
    const caCert = new X509Certificate(caPem);
    expect(caCert.ca).toBe(true);
    const leafKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const leafPem = await createCertificatePem({
      subject: { commonName: 'system:node:vk-1', organizations: ['system:nodes'] },
      altNames: { dnsNames: ['vk-1'], ipAddresses: ['127.0.0.1'] },
      publicKey: leafKey.publicKey,
      issuerKey: ca.privateKey,
      issuerCert: caCert,
      notBefore: now,
      notAfter: later,
    });
    const leaf = new X509Certificate(leafPem);
    expect(leaf.checkIssued(caCert)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkPrivateKey(leafKey.privateKey)).toBe(true);
    expect(leaf.subject).toBe('O=system:nodes\nCN=system:node:vk-1');
    expect(leaf.subjectAltName).toBe('DNS:vk-1, IP Address:127.0.0.1');
    expect(leaf.ca).toBe(false);
    // Chain builders that compare names byte for byte (Go's crypto/x509) need the issuer
    // written exactly as the CA's subject.
    expect(names(leaf.raw).issuer.equals(names(caCert.raw).subject)).toBe(true);
    expect(names(caCert.raw).issuer.equals(names(caCert.raw).subject)).toBe(true);
  });

  it('uses GeneralizedTime after 2049', async () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = await createCertificatePem({
      subject: { commonName: 'x' },
      altNames: { dnsNames: ['x'] },
      publicKey: k.publicKey,
      issuerKey: k.privateKey,
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2061-02-03T04:05:06Z'),
    });
    expect(new Date(new X509Certificate(pem).validTo).toISOString()).toBe('2061-02-03T04:05:06.000Z');
  });
});
