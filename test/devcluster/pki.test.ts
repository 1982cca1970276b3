import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderKubeconfig } from '../../src/devcluster/kubeconfig.ts';
import {
  type ClusterPki,
  createClusterPki,
  issueCert,
  leafExtensions,
  subject,
} from '../../src/devcluster/pki.ts';

describe('subject and extensions (pure)', () => {
  it.each<[string, string[], string]>([
    ['kubernetes-admin', ['system:masters'], '/O=system:masters/CN=kubernetes-admin'],
    ['system:node:vk-1', ['system:nodes'], '/O=system:nodes/CN=system:node:vk-1'],
    ['x', [], '/CN=x'],
  ])('subject(%s, %j) = %s', (cn, orgs, want) => {
    expect(subject(cn, orgs)).toBe(want);
  });

  it.each(['a/CN=evil', 'a=b', 'a+b', 'a\\b', 'a\nb', ''])('rejects subject value %j', (v) => {
    expect(() => subject(v)).toThrow(/unsupported character/);
  });

  it('lists SANs and usages', () => {
    expect(
      leafExtensions({ dnsNames: ['localhost'], ips: ['127.0.0.1', '::1'], usages: ['server', 'client'] }),
    ).toContain('subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1');
    expect(leafExtensions({ usages: ['client'] })).toContain('extendedKeyUsage = clientAuth\n');
  });

  it.each([
    [{ dnsNames: ['a,DNS:evil'], usages: ['server'] as const }, /invalid DNS name/],
    [{ ips: ['300.1.1.1'], usages: ['server'] as const }, /invalid IP/],
    [{ usages: [] as const }, /at least one usage/],
  ])('rejects %j', (opts, err) => {
    expect(() => leafExtensions({ ...opts, usages: [...opts.usages] })).toThrow(err);
  });
});

describe('cluster PKI (openssl)', () => {
  let dir: string;
  let pki: ClusterPki;
  let ca: X509Certificate;
  const load = async (p: string) => new X509Certificate(await readFile(p));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pki-test-'));
    pki = await createClusterPki(dir);
    ca = await load(pki.ca.cert);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('makes a CA', () => {
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
  });

  it('makes an apiserver serving cert for every name clients use', async () => {
    const c = await load(pki.apiserver.cert);
    expect(c.checkIssued(ca) && c.verify(ca.publicKey)).toBe(true);
    expect(c.ca).toBe(false);
    for (const n of ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'])
      expect(c.checkHost(n)).toBe(n);
    expect(c.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(c.checkIP('10.0.0.1')).toBe('10.0.0.1');
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth only
  });

  it.each<[keyof ClusterPki, string]>([
    ['admin', 'O=system:masters\nCN=kubernetes-admin'],
    ['controllerManager', 'CN=system:kube-controller-manager'],
    ['scheduler', 'CN=system:kube-scheduler'],
    ['kubeletClient', 'O=system:masters\nCN=kube-apiserver-kubelet-client'],
  ])('makes the %s client cert', async (which, subj) => {
    const pair = pki[which] as { cert: string };
    const c = await load(pair.cert);
    expect(c.subject).toBe(subj);
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only
    expect(c.verify(ca.publicKey)).toBe(true);
  });

  it('makes the front-proxy client cert from a CA of its own', async () => {
    const fp = await load(pki.frontProxyCa.cert);
    const c = await load(pki.frontProxyClient.cert);
    expect(c.subject).toBe('CN=front-proxy-client');
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(c.verify(fp.publicKey)).toBe(true);
    expect(c.verify(ca.publicKey)).toBe(false);
  });

  it('issues a kubelet serving cert a test can use', async () => {
    const out = await issueCert({
      ca: pki.ca,
      out: { cert: join(dir, 'vk.crt'), key: join(dir, 'vk.key') },
      cn: 'system:node:vk',
      orgs: ['system:nodes'],
      ips: ['127.0.0.1'],
      usages: ['server'],
    });
    const c = await load(out.cert);
    expect(c.subjectAltName).toBe('IP Address:127.0.0.1');
    expect(c.verify(ca.publicKey)).toBe(true);
    expect(await readFile(out.key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('makes a service-account key pair', async () => {
    expect(await readFile(pki.saKey, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(await readFile(pki.saPub, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });
});

describe('renderKubeconfig', () => {
  it('embeds the credentials and selects its one context', () => {
    const doc = parse(
      renderKubeconfig({
        server: 'https://127.0.0.1:1',
        caPem: 'CA',
        certPem: 'CERT',
        keyPem: 'KEY',
        user: 'admin',
      }),
    );
    expect(doc['current-context']).toBe('admin@devcluster');
    expect(doc.clusters[0].cluster).toEqual({
      server: 'https://127.0.0.1:1',
      'certificate-authority-data': Buffer.from('CA').toString('base64'),
    });
    expect(doc.users[0].user).toEqual({
      'client-certificate-data': Buffer.from('CERT').toString('base64'),
      'client-key-data': Buffer.from('KEY').toString('base64'),
    });
  });
});
