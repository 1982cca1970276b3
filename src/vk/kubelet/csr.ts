/**
 * The serving certificate through a CertificateSigningRequest (signer
 * kubernetes.io/kubelet-serving): create it for a fresh P-256 key, approve it ourselves
 * when configured, poll until it is signed. certs.ts decides when to ask.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import type { V1CertificateSigningRequest } from '@kubernetes/client-node';
import { Backoff } from '../../core/backoff.ts';
import type { Logger } from '../../core/logger.ts';
import type { ServingCertsDeps } from './certs.ts';
import { createCsrPem } from './x509.ts';

export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';

/** The pair, checked to belong together. */
export function parsePair(certPem: string, keyPem: string): { cert: X509Certificate; key: KeyObject } {
  const cert = new X509Certificate(certPem);
  const key = createPrivateKey(keyPem);
  if (!cert.checkPrivateKey(key)) throw new Error('the certificate does not match the private key');
  return { cert, key };
}

/**
 * One CSR for our serving certificate (signer kubernetes.io/kubelet-serving), self-approved
 * when configured. Resolves with the signed pair; throws if denied or failed.
 */
export async function requestServingCertificate(
  deps: ServingCertsDeps,
  alt: { dnsNames: string[]; ipAddresses: string[] },
  log: Logger,
  signal: AbortSignal,
): Promise<{ cert: string; key: string; notAfter: Date }> {
  const { config } = deps;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const request = await createCsrPem({
    subject: { commonName: `system:node:${config.nodeName}`, organizations: ['system:nodes'] },
    altNames: alt,
    privateKey,
  });
  const body: V1CertificateSigningRequest = {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: {
      generateName: `${config.nodeName}-serving-`,
      labels: { 'interlink.io/node': config.nodeName },
    },
    spec: {
      request: Buffer.from(request).toString('base64'),
      signerName: KUBELET_SERVING_SIGNER,
      usages: ['digital signature', 'server auth'],
      ...(deps.csrExpirationSeconds ? { expirationSeconds: deps.csrExpirationSeconds } : {}),
    },
  };
  const created = await deps.kube.certificates.createCertificateSigningRequest({ body });
  const name = created.metadata?.name ?? '';
  log.info({ csr: name, signer: KUBELET_SERVING_SIGNER }, 'serving certificate requested');
  if (config.kubeletHttp.selfApprove) await selfApprove(deps, created, log);
  else log.warn({ csr: name }, `serving certificate waits for approval: kubectl certificate approve ${name}`);
  const pem = await waitForCertificate(deps, name, log, signal);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const { cert } = parsePair(pem, keyPem);
  log.info({ csr: name, notAfter: cert.validTo, issuer: cert.issuer }, 'serving certificate issued');
  return { cert: pem, key: keyPem, notAfter: new Date(cert.validTo) };
}

async function selfApprove(
  deps: ServingCertsDeps,
  csr: V1CertificateSigningRequest,
  log: Logger,
): Promise<void> {
  const name = csr.metadata?.name ?? '';
  try {
    csr.status = {
      ...csr.status,
      conditions: [
        ...(csr.status?.conditions ?? []),
        {
          type: 'Approved',
          status: 'True',
          reason: 'InterlinkSelfApproved',
          message: `approved by the interLink virtual kubelet of node ${deps.config.nodeName} (kubeletHttp.selfApprove)`,
        },
      ],
    };
    await deps.kube.certificates.replaceCertificateSigningRequestApproval({ name, body: csr });
    log.info({ csr: name }, 'serving certificate request self-approved');
  } catch (err) {
    log.warn(
      { csr: name, err: (err as Error).message },
      `cannot self-approve the CSR (RBAC needs "approve" on signers/${KUBELET_SERVING_SIGNER} and "update" on certificatesigningrequests/approval); waiting for an operator: kubectl certificate approve ${name}`,
    );
  }
}

/** Poll the CSR (with backoff, nagging every 5 min) until it carries a certificate. */
async function waitForCertificate(
  deps: ServingCertsDeps,
  name: string,
  log: Logger,
  signal: AbortSignal,
): Promise<string> {
  const { clock } = deps;
  const poll = new Backoff({ initialMs: deps.csrPollMs ?? 500, maxMs: 30_000, factor: 1.5 });
  let lastNag = clock.now();
  for (let attempt = 1; ; attempt++) {
    const csr = await deps.kube.certificates.readCertificateSigningRequest({ name });
    const conds = csr.status?.conditions ?? [];
    const bad = conds.find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status === 'True');
    if (bad)
      throw new Error(
        `CSR ${name} ${bad.type.toLowerCase()}: ${bad.reason ?? ''} ${bad.message ?? ''}`.trim(),
      );
    if (csr.status?.certificate) return Buffer.from(csr.status.certificate, 'base64').toString('utf8');
    if (clock.now() - lastNag > 300_000) {
      lastNag = clock.now();
      log.warn(
        { csr: name },
        `serving certificate still waits for approval: kubectl certificate approve ${name}`,
      );
    }
    await clock.sleep(poll.delay(attempt), signal);
  }
}
