/** Throwaway CAs and certificates for kubelet API tests, made with our own x509 writer. */
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { createCertificatePem } from '../../../src/vk/kubelet/x509.ts';

export interface Pair {
  cert: string;
  key: string;
}

export interface Ca extends Pair {
  privateKey: KeyObject;
  x509: X509Certificate;
  issue(opts: {
    cn: string;
    orgs?: string[];
    dns?: string[];
    ips?: string[];
    usage: 'server' | 'client';
    days?: number;
  }): Promise<Pair>;
}

export async function makeCa(cn = 'test-ca'): Promise<Ca> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const cert = await createCertificatePem({
    subject: { commonName: cn },
    altNames: {},
    publicKey: privateKey,
    issuerKey: privateKey,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    isCa: true,
  });
  const x509 = new X509Certificate(cert);
  return {
    cert,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    privateKey,
    x509,
    async issue(o) {
      const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      const c = await createCertificatePem({
        subject: { commonName: o.cn, organizations: o.orgs ?? [] },
        altNames: { dnsNames: o.dns ?? [], ipAddresses: o.ips ?? [] },
        publicKey: k,
        issuerKey: privateKey,
        issuerCert: x509,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + (o.days ?? 1) * 86_400_000),
        usage: o.usage,
      });
      return { cert: c, key: k.export({ type: 'pkcs8', format: 'pem' }) as string };
    },
  };
}
