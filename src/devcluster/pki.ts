/**
 * PKI of a throw-away control plane: one CA signs every certificate (apiserver serving,
 * client certs, and — through the controller-manager — kubelet-serving CSRs), so a client
 * that trusts the CA trusts the whole cluster. X.509 work goes through the `openssl` CLI
 * (node:crypto cannot issue certificates) with argument arrays; key pairs that need no
 * certificate come from node:crypto.
 */
import { execFile } from 'node:child_process';
import { generateKeyPair, randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FRONT_PROXY_CLIENT, KUBERNETES_SERVICE_IP } from './args.ts';

const execFileP = promisify(execFile);

export interface KeyPair {
  cert: string;
  key: string;
}

export type Usage = 'server' | 'client';

export interface IssueOptions {
  ca: KeyPair;
  /** Paths to write; the key is a fresh EC P-256 key (PKCS#8 PEM). */
  out: KeyPair;
  cn: string;
  orgs?: string[];
  dnsNames?: string[];
  ips?: string[];
  usages: Usage[];
  days?: number;
}

// Subject values and SANs end up in -subj and in an openssl config file: accept only
// characters that cannot change the meaning of either.
const subjectValue = /^[A-Za-z0-9:._@ -]+$/;
const dnsName = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** The -subj argument for a CN and organisations; throws on characters openssl would interpret. */
export function subject(cn: string, orgs: string[] = []): string {
  for (const v of [cn, ...orgs]) {
    if (!subjectValue.test(v))
      throw new Error(`pki: unsupported character in subject value ${JSON.stringify(v)}`);
  }
  return [...orgs.map((o) => `/O=${o}`), `/CN=${cn}`].join('');
}

/** The openssl extension section of a leaf certificate. Pure; throws on an invalid SAN. */
export function leafExtensions(opts: Pick<IssueOptions, 'dnsNames' | 'ips' | 'usages'>): string {
  const sans: string[] = [];
  for (const d of opts.dnsNames ?? []) {
    if (!dnsName.test(d)) throw new Error(`pki: invalid DNS name ${JSON.stringify(d)}`);
    sans.push(`DNS:${d}`);
  }
  for (const ip of opts.ips ?? []) {
    if (isIP(ip) === 0) throw new Error(`pki: invalid IP address ${JSON.stringify(ip)}`);
    sans.push(`IP:${ip}`);
  }
  if (opts.usages.length === 0) throw new Error('pki: a certificate needs at least one usage');
  const eku = opts.usages.map((u) => (u === 'server' ? 'serverAuth' : 'clientAuth'));
  const lines = [
    '[ext]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    `extendedKeyUsage = ${eku.join(', ')}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
  ];
  if (sans.length > 0) lines.push(`subjectAltName = ${sans.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args, { maxBuffer: 1 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA valid for ten years. Overwrites `out`. */
export async function createCa(out: KeyPair, cn = 'interlink-devcluster-ca'): Promise<KeyPair> {
  const cfg = `${out.cert}.cnf`;
  // Our own config file, so the system openssl.cnf cannot add or duplicate extensions.
  await writeFile(
    cfg,
    [
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[ca]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  try {
    await openssl([
      'req',
      '-x509',
      '-new',
      ...ecKey,
      '-keyout',
      out.key,
      '-out',
      out.cert,
      '-days',
      '3650',
      '-subj',
      subject(cn),
      '-config',
      cfg,
      '-extensions',
      'ca',
    ]);
  } finally {
    await rm(cfg, { force: true });
  }
  return out;
}

/**
 * Issue a leaf certificate signed by `ca` (used for the cluster's own certs, and by tests
 * that need, say, a kubelet serving cert the apiserver trusts). Overwrites `out`.
 */
export async function issueCert(opts: IssueOptions): Promise<KeyPair> {
  const { out } = opts;
  const cfg = `${out.cert}.cnf`;
  const csr = `${out.cert}.csr`;
  await writeFile(cfg, `[req]\ndistinguished_name = dn\n[dn]\n${leafExtensions(opts)}`);
  try {
    await openssl([
      'req',
      '-new',
      ...ecKey,
      '-keyout',
      out.key,
      '-out',
      csr,
      '-subj',
      subject(opts.cn, opts.orgs),
      '-config',
      cfg,
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      opts.ca.cert,
      '-CAkey',
      opts.ca.key,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      String(opts.days ?? 365),
      '-extfile',
      cfg,
      '-extensions',
      'ext',
      '-out',
      out.cert,
    ]);
  } finally {
    await rm(cfg, { force: true });
    await rm(csr, { force: true });
  }
  return out;
}

/** An RSA key pair (PKCS#8 private, SPKI public, PEM) for signing service-account tokens. */
export async function createServiceAccountKeys(out: { key: string; pub: string }): Promise<void> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  await writeFile(out.key, privateKey, { mode: 0o600 });
  await writeFile(out.pub, publicKey);
}

export interface ClusterPki {
  ca: KeyPair;
  apiserver: KeyPair;
  admin: KeyPair;
  controllerManager: KeyPair;
  scheduler: KeyPair;
  kubeletClient: KeyPair;
  /** The aggregation layer: a CA of its own for request-header clients, and the apiserver's proxy client cert. */
  frontProxyCa: KeyPair;
  frontProxyClient: KeyPair;
  saKey: string;
  saPub: string;
}

/** Every credential a one-node control plane needs, written into `dir` (which must exist). */
export async function createClusterPki(dir: string): Promise<ClusterPki> {
  const pair = (name: string): KeyPair => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
  const ca = await createCa(pair('ca'));
  const client = (name: string, cn: string, orgs: string[] = []) =>
    issueCert({ ca, out: pair(name), cn, orgs, usages: ['client'] });
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  // A second CA: a client cert of the cluster CA must not be able to assert request headers.
  const frontProxyCa = await createCa(pair('front-proxy-ca'));
  const [apiserver, admin, controllerManager, scheduler, kubeletClient, frontProxyClient] = await Promise.all(
    [
      issueCert({
        ca,
        out: pair('apiserver'),
        cn: 'kube-apiserver',
        dnsNames: [
          'localhost',
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
        ],
        ips: ['127.0.0.1', KUBERNETES_SERVICE_IP],
        usages: ['server'],
      }),
      client('admin', 'kubernetes-admin', ['system:masters']),
      client('controller-manager', 'system:kube-controller-manager'),
      client('scheduler', 'system:kube-scheduler'),
      // system:masters so the virtual kubelet's SubjectAccessReview on nodes/proxy|log allows
      // the apiserver without a binding of its own to create at start.
      client('kubelet-client', 'kube-apiserver-kubelet-client', ['system:masters']),
      issueCert({
        ca: frontProxyCa,
        out: pair('front-proxy-client'),
        cn: FRONT_PROXY_CLIENT,
        usages: ['client'],
      }),
      createServiceAccountKeys({ key: saKey, pub: saPub }),
    ],
  );
  return {
    ca,
    apiserver,
    admin,
    controllerManager,
    scheduler,
    kubeletClient,
    frontProxyCa,
    frontProxyClient,
    saKey,
    saPub,
  };
}
