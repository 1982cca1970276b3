import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CertificatesV1Api, CoreV1Api, V1CertificateSigningRequest } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { VkConfigSchema } from '../../../src/vk/config.ts';
import { createServingCerts, renewalTime, type TlsMaterial } from '../../../src/vk/kubelet/certs.ts';
import { createCertificatePem } from '../../../src/vk/kubelet/x509.ts';
import { type Ca, makeCa } from './tls-fixtures.ts';

const NODE = 'vk-certs';

/** Wait (real time, bounded) for a condition that file I/O or promise chains make true. */
async function until<T>(fn: () => T | undefined | false, what: string): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never: ${what}`);
}

const noConfigMap = {
  readNamespacedConfigMap: async () => Promise.reject(Object.assign(new Error('forbidden'), { code: 403 })),
} as unknown as Pick<CoreV1Api, 'readNamespacedConfigMap'>;

/**
 * A CSR API that behaves like the apiserver + signing controller: stores requests, records
 * approvals, and once approved signs the request's public key with a test CA.
 */
function fakeCsrApi(
  ca: Ca,
  opts: { deny?: boolean; approveAllowed?: boolean; lifetimeMs: number; clock: FakeClock },
) {
  const store = new Map<string, V1CertificateSigningRequest>();
  let seq = 0;
  const api = {
    async createCertificateSigningRequest({ body }: { body: V1CertificateSigningRequest }) {
      const name = `${body.metadata?.generateName ?? 'csr-'}${++seq}`;
      const obj: V1CertificateSigningRequest = { ...body, metadata: { ...body.metadata, name }, status: {} };
      store.set(name, obj);
      return structuredClone(obj);
    },
    async replaceCertificateSigningRequestApproval({
      name,
      body,
    }: {
      name: string;
      body: V1CertificateSigningRequest;
    }) {
      if (!opts.approveAllowed) throw Object.assign(new Error('forbidden: cannot approve'), { code: 403 });
      store.get(name)!.status = { conditions: body.status?.conditions ?? [] };
      return structuredClone(store.get(name)!);
    },
    async readCertificateSigningRequest({ name }: { name: string }) {
      const obj = store.get(name)!;
      if (opts.deny) {
        obj.status = {
          conditions: [{ type: 'Denied', status: 'True', reason: 'Policy', message: 'not on my watch' }],
        };
      } else if (obj.status?.conditions?.some((c) => c.type === 'Approved') && !obj.status.certificate) {
        obj.status.certificate = Buffer.from(
          await signCsr(ca, obj.spec.request, opts.clock.now(), opts.lifetimeMs),
        ).toString('base64');
      }
      return structuredClone(obj);
    },
  };
  return { api: api as unknown as CertificatesV1Api, store };
}

/** Sign the public key of a base64 PEM CSR (DER walk: request → info → [version, subject, spki]). */
async function signCsr(ca: Ca, requestB64: string, now: number, lifetimeMs: number): Promise<string> {
  const der = Buffer.from(
    Buffer.from(requestB64, 'base64')
      .toString('utf8')
      .replace(/-----[^-]+-----|\s/g, ''),
    'base64',
  );
  const elems = (buf: Buffer, at: number) => {
    const out: Array<{ start: number; end: number }> = [];
    const hdr = (pos: number) => {
      let len = buf[pos + 1]!;
      let start = pos + 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
        start += n;
      }
      return { start, end: start + len };
    };
    const outer = hdr(at);
    for (let pos = outer.start; pos < outer.end; ) {
      const h = hdr(pos);
      out.push({ start: pos, end: h.end });
      pos = h.end;
    }
    return out;
  };
  const info = elems(der, 0)[0]!;
  const spki = elems(der, info.start)[2]!;
  const publicKey = createPublicKey({ key: der.subarray(spki.start, spki.end), format: 'der', type: 'spki' });
  return createCertificatePem({
    subject: { commonName: `system:node:${NODE}`, organizations: ['system:nodes'] },
    altNames: { dnsNames: [NODE], ipAddresses: ['10.9.8.7'] },
    publicKey,
    issuerKey: ca.privateKey,
    issuerCert: ca.x509,
    notBefore: new Date(now),
    notAfter: new Date(now + lifetimeMs),
  });
}

describe('serving certificates', () => {
  let dir: string;
  let clock: FakeClock;
  let stop = new AbortController();
  const runs: Promise<unknown>[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vk-certs-'));
    clock = new FakeClock(Date.now());
    stop = new AbortController();
  });
  afterEach(async () => {
    stop.abort();
    await Promise.all(runs.splice(0));
    await rm(dir, { recursive: true, force: true });
  });

  function start(
    kubeletHttp: Record<string, unknown>,
    certificates?: CertificatesV1Api,
    extra: Record<string, unknown> = {},
  ) {
    const config = VkConfigSchema.parse({ nodeName: NODE, podIp: '10.9.8.7', kubeletHttp });
    const certs = createServingCerts({
      config,
      kube: { certificates: certificates ?? ({} as CertificatesV1Api), core: noConfigMap },
      logger: silentLogger(),
      clock,
      ...extra,
    });
    const changes: TlsMaterial[] = [];
    certs.onChange((m) => changes.push(m));
    runs.push(certs.run(stop.signal).catch((e) => e));
    return { certs, changes };
  }

  it('renewalTime lies in 70–90 % of the validity', () => {
    const a = new Date(0);
    const b = new Date(1000);
    expect(renewalTime(a, b, () => 0)).toBe(700);
    expect(renewalTime(a, b, () => 1)).toBeCloseTo(900);
  });

  it('loads files, serves the client CA, and reloads both when they change', async () => {
    const ca = await makeCa();
    const a = await ca.issue({ cn: 'a', dns: [NODE], usage: 'server' });
    const b = await ca.issue({ cn: 'b', dns: [NODE], usage: 'server' });
    const files = {
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
      clientCaFile: join(dir, 'ca.crt'),
    };
    await writeFile(files.certFile, a.cert);
    await writeFile(files.keyFile, a.key);
    await writeFile(files.clientCaFile, ca.cert);
    const { certs, changes } = start(files, undefined, { reloadIntervalMs: 1000 });
    await certs.ready;
    expect(certs.current()).toMatchObject({ cert: a.cert, key: a.key, clientCa: ca.cert, source: 'files' });

    // Mid-rotation (new cert, old key) the pair does not match: keep serving the old one.
    await writeFile(files.certFile, b.cert);
    await clock.advance(1000);
    await new Promise((r) => setTimeout(r, 50));
    expect(certs.current()?.cert).toBe(a.cert);
    await writeFile(files.keyFile, b.key);
    await clock.advance(1000);
    await until(() => changes.length === 1, 'a reload');
    expect(certs.current()).toMatchObject({ cert: b.cert, key: b.key });
  });

  it('self-signs loudly when nothing else is configured, naming the node and its IP', async () => {
    const { certs } = start({});
    await certs.ready;
    const m = certs.current()!;
    expect(m.source).toBe('self-signed');
    const x = new X509Certificate(m.cert);
    expect(x.subjectAltName).toBe(`DNS:${NODE}, IP Address:10.9.8.7`);
    expect(x.verify(x.publicKey)).toBe(true);
  });

  it('CSR with self-approval: gets a CA-signed certificate, stores it, and renews it before expiry', async () => {
    const ca = await makeCa();
    const fake = fakeCsrApi(ca, { approveAllowed: true, lifetimeMs: 10 * 86_400_000, clock });
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    const { certs, changes } = start({ csr: true, selfApprove: true, ...files }, fake.api);
    await until(() => certs.current(), 'a certificate');
    await certs.ready;
    const first = certs.current()!;
    expect(first.source).toBe('csr');
    expect(new X509Certificate(first.cert).checkIssued(ca.x509)).toBe(true);
    const [csr] = [...fake.store.values()];
    expect(csr?.spec).toMatchObject({
      signerName: 'kubernetes.io/kubelet-serving',
      usages: ['digital signature', 'server auth'],
    });
    expect(csr?.status?.conditions?.[0]).toMatchObject({ type: 'Approved', reason: 'InterlinkSelfApproved' });
    expect(await readFile(files.certFile, 'utf8')).toBe(first.cert);

    // At 90 % of ten days at the latest, a second CSR replaces it.
    await clock.advance(9 * 86_400_000);
    await until(() => fake.store.size === 2 && changes.length > 0, 'a renewal');
    expect(certs.current()?.cert).not.toBe(first.cert);
  });

  it('CSR without approval rights: serves a self-signed stand-in until an operator approves', async () => {
    const ca = await makeCa();
    const fake = fakeCsrApi(ca, { approveAllowed: false, lifetimeMs: 86_400_000, clock });
    const { certs, changes } = start({ csr: true, selfApprove: true }, fake.api, { csrInitialWaitMs: 1000 });
    await until(() => fake.store.size === 1, 'the CSR');
    await clock.advance(1000);
    await certs.ready;
    expect(certs.current()?.source).toBe('self-signed');
    // The operator approves (kubectl certificate approve).
    const [csr] = [...fake.store.values()];
    csr!.status = {
      conditions: [{ type: 'Approved', status: 'True', reason: 'KubectlApprove', message: '' }],
    };
    for (let i = 0; i < 20 && changes.length === 0; i++) await clock.advance(30_000);
    await until(() => changes.length === 1, 'the signed certificate');
    expect(certs.current()?.source).toBe('csr');
  });
});
