/**
 * The kubelet API's TLS material: the serving certificate and the CA that client
 * certificates must chain to.
 *
 * Serving certificate, in order of preference (kubeletHttp config):
 *  1. files (`certFile` + `keyFile`, `csr` off): read at start and re-read when they change
 *     (a cert-manager or a sidecar may rotate them);
 *  2. a CertificateSigningRequest (`csr: true`) with signer `kubernetes.io/kubelet-serving`,
 *     CN `system:node:<node>`, O `system:nodes`, SANs = the node's InternalIP and name, for
 *     a P-256 key generated here; approved by us when `selfApprove` is set and RBAC allows,
 *     else by an operator (`kubectl certificate approve`). Renewed at 70–90 % of its life.
 *     When `certFile`/`keyFile` are also set they cache the signed pair across restarts;
 *  3. self-signed, with a loud warning: the apiserver can only reach us if it does not
 *     verify kubelet certificates. Also served while a CSR waits for approval.
 *
 * Client CA: `clientCaFile` (re-read on change), else the apiserver's own client CA from
 * the ConfigMap kube-system/extension-apiserver-authentication (`client-ca-file`), which
 * is how extension apiservers learn it; without either, only bearer tokens authenticate.
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { Backoff } from '../../core/backoff.ts';
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import type { VkConfig } from '../config.ts';
import type { CertificatesApi, CoreApi } from '../kube-api.ts';
import { type Controller, controllerShell } from '../types.ts';
import { KUBELET_SERVING_SIGNER, parsePair, requestServingCertificate } from './csr.ts';
import { createCertificatePem } from './x509.ts';

export { KUBELET_SERVING_SIGNER };

export interface TlsMaterial {
  cert: string;
  key: string;
  /** PEM bundle client certificates must chain to; absent: client certificates are ignored. */
  clientCa?: string | undefined;
  source: 'files' | 'csr' | 'self-signed';
  notAfter: Date;
}

export interface ServingCertsDeps {
  config: Pick<VkConfig, 'nodeName' | 'kubeletHttp' | 'podIp'>;
  kube: { certificates: CertificatesApi; core: Pick<CoreApi, 'readNamespacedConfigMap'> };
  logger: Logger;
  clock: Clock;
  /** How often files are checked for changes (default 30 s). */
  reloadIntervalMs?: number;
  /** How long a new CSR is waited for before a self-signed stand-in is served (default 15 s). */
  csrInitialWaitMs?: number;
  /** Poll interval while a CSR waits (grows to 30 s; default 500 ms). */
  csrPollMs?: number;
  /** Lifetime asked for CSR certificates (the signer may shorten it; default: signer's). */
  csrExpirationSeconds?: number;
  /** Lifetime of a self-signed certificate (default 1 year). */
  selfSignedDays?: number;
}

export interface ServingCerts extends Controller {
  /** The material in use; defined once `ready` resolved. */
  current(): TlsMaterial | undefined;
  /** Called with new material after each rotation (never before ready). */
  onChange(fn: (m: TlsMaterial) => void): void;
}

/** When to renew: a random point in 70–90 % of the validity, as the kubelet does (spreads renewals). */
export function renewalTime(notBefore: Date, notAfter: Date, random: () => number = Math.random): number {
  const life = notAfter.getTime() - notBefore.getTime();
  return notBefore.getTime() + life * (0.7 + 0.2 * random());
}

/** The SANs of our serving certificate: the node's IP (when known) and its name. */
export function servingAltNames(
  nodeName: string,
  podIp: string | undefined,
): { dnsNames: string[]; ipAddresses: string[] } {
  const ips = podIp && isIP(podIp) ? [podIp] : [];
  return { dnsNames: [nodeName], ipAddresses: ips };
}

/** A certificate usable now and for a while yet, that names our node's address. */
function usable(
  cert: X509Certificate,
  now: number,
  alt: { dnsNames: string[]; ipAddresses: string[] },
): boolean {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (!(now >= from && now < renewalTime(new Date(from), new Date(to), () => 0.5))) return false;
  const san = cert.subjectAltName ?? '';
  return (
    alt.ipAddresses.every((ip) => san.includes(`IP Address:${ip}`)) &&
    alt.dnsNames.every((d) => san.includes(`DNS:${d}`))
  );
}

const digest = (...parts: Array<string | undefined>) =>
  createHash('sha256').update(parts.join('\u0000')).digest('hex');

/** The serving material's source and rotation loop; see the module comment for the order. */
class ServingCertSource {
  material: TlsMaterial | undefined;
  readonly listeners: Array<(m: TlsMaterial) => void> = [];
  #isReady = false;
  #markReady: () => void = () => {};
  #clientCa: string | undefined;
  readonly #deps: ServingCertsDeps;
  readonly #http: VkConfig['kubeletHttp'];
  readonly #log: Logger;
  readonly #alt: { dnsNames: string[]; ipAddresses: string[] };

  constructor(deps: ServingCertsDeps, log: Logger) {
    this.#deps = deps;
    this.#http = deps.config.kubeletHttp;
    this.#log = log;
    this.#alt = servingAltNames(deps.config.nodeName, deps.config.podIp);
  }

  #publish(next: TlsMaterial): void {
    const cur = this.material;
    const changed =
      !cur || digest(cur.cert, cur.key, cur.clientCa) !== digest(next.cert, next.key, next.clientCa);
    this.material = next;
    if (!changed || !this.#isReady) return;
    for (const fn of this.listeners) {
      try {
        fn(next);
      } catch (err) {
        this.#log.error({ err }, 'TLS material listener failed');
      }
    }
  }

  #ready(m: TlsMaterial): void {
    this.#publish(m);
    if (!this.#isReady) {
      this.#isReady = true;
      this.#markReady();
    }
  }

  async #loadClientCa(): Promise<string | undefined> {
    if (this.#http.clientCaFile) return readFile(this.#http.clientCaFile, 'utf8');
    try {
      const cm = await this.#deps.kube.core.readNamespacedConfigMap({
        namespace: 'kube-system',
        name: 'extension-apiserver-authentication',
      });
      return cm.data?.['client-ca-file'] || undefined;
    } catch (err) {
      this.#log.debug(
        { err: (err as Error).message },
        'cannot read kube-system/extension-apiserver-authentication',
      );
      return undefined;
    }
  }

  async #selfSigned(reason: string): Promise<TlsMaterial> {
    const { config, clock } = this.#deps;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const now = clock.now();
    const notAfter = new Date(now + (this.#deps.selfSignedDays ?? 365) * 86_400_000);
    const cert = await createCertificatePem({
      subject: { commonName: `${config.nodeName}@${Math.floor(now / 1000)}` },
      altNames: this.#alt,
      publicKey: privateKey,
      issuerKey: privateKey,
      notBefore: new Date(now - 60_000),
      notAfter,
    });
    this.#log.warn(
      { node: config.nodeName, reason },
      '!!! The kubelet API is serving a SELF-SIGNED certificate. An apiserver that verifies kubelet certificates ' +
        '(--kubelet-certificate-authority) will refuse `kubectl logs` on this node. Configure kubeletHttp.certFile/keyFile, ' +
        'or kubeletHttp.csr (and approve the CSR) for a certificate the cluster trusts. !!!',
    );
    return {
      cert,
      key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      clientCa: this.#clientCa,
      source: 'self-signed',
      notAfter,
    };
  }

  async #fromFiles(): Promise<TlsMaterial> {
    const [certPem, keyPem] = await Promise.all([
      readFile(this.#http.certFile!, 'utf8'),
      readFile(this.#http.keyFile!, 'utf8'),
    ]);
    const { cert } = parsePair(certPem, keyPem);
    return {
      cert: certPem,
      key: keyPem,
      clientCa: this.#clientCa,
      source: 'files',
      notAfter: new Date(cert.validTo),
    };
  }

  async #persist(cert: string, key: string): Promise<void> {
    const { certFile, keyFile } = this.#http;
    if (!certFile || !keyFile) return;
    try {
      await writeFile(`${keyFile}.tmp`, key, { mode: 0o600 });
      await chmod(`${keyFile}.tmp`, 0o600);
      await writeFile(`${certFile}.tmp`, cert);
      await rename(`${keyFile}.tmp`, keyFile);
      await rename(`${certFile}.tmp`, certFile);
    } catch (err) {
      this.#log.warn(
        { err: (err as Error).message },
        'cannot store the signed serving certificate; a restart will request a new one',
      );
    }
  }

  /** Sleep until `at` in slices (timers cannot wait longer than ~24 days), or until the signal. */
  async #sleepUntil(at: number, signal: AbortSignal): Promise<void> {
    const { clock } = this.#deps;
    for (;;) {
      const left = at - clock.now();
      if (left <= 0) return;
      await clock.sleep(Math.min(left, 86_400_000), signal);
    }
  }

  async run(signal: AbortSignal, markReady: () => void): Promise<void> {
    this.#markReady = markReady;
    this.#clientCa = await this.#loadClientCa();
    if (!this.#clientCa)
      this.#log.warn(
        'no client CA (kubeletHttp.clientCaFile, kube-system/extension-apiserver-authentication): only bearer tokens authenticate kubelet API callers',
      );
    try {
      if (this.#http.certFile && !this.#http.csr) await this.#runFiles(signal);
      else if (this.#http.csr) await this.#runCsr(signal);
      else await this.#runSelfSigned(signal);
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
  }

  /** 1. Files: poll for rotation of the pair and of the client CA. */
  async #runFiles(signal: AbortSignal): Promise<never> {
    this.#ready(await this.#fromFiles());
    this.#log.info(
      { certFile: this.#http.certFile, notAfter: this.material?.notAfter },
      'serving certificate loaded from files',
    );
    for (;;) {
      await this.#deps.clock.sleep(this.#deps.reloadIntervalMs ?? 30_000, signal);
      try {
        if (this.#http.clientCaFile) this.#clientCa = await this.#loadClientCa();
        const next = await this.#fromFiles();
        const cur = this.material;
        if (cur && digest(cur.cert, cur.key, cur.clientCa) !== digest(next.cert, next.key, next.clientCa))
          this.#log.info(
            { notAfter: next.notAfter },
            'serving certificate or client CA changed on disk: reloaded',
          );
        this.#publish(next);
      } catch (err) {
        // Mid-rotation the pair may not match for a moment: keep serving the old one.
        this.#log.warn(
          { err: (err as Error).message },
          'cannot reload the serving certificate files; keeping the current ones',
        );
      }
    }
  }

  /** A pair a previous CSR signed, cached in certFile/keyFile, if still usable. */
  async #reuseCached(): Promise<void> {
    if (!this.#http.certFile) return;
    try {
      const cached = await this.#fromFiles();
      if (usable(new X509Certificate(cached.cert), this.#deps.clock.now(), this.#alt)) {
        this.#ready({ ...cached, source: 'csr' });
        this.#log.info({ notAfter: cached.notAfter }, 'serving certificate from a previous CSR reused');
      }
    } catch {
      // none cached yet
    }
  }

  /** 2. CSR, with the files (when set) as a cache across restarts. */
  async #runCsr(signal: AbortSignal): Promise<never> {
    const { clock } = this.#deps;
    await this.#reuseCached();
    const retry = new Backoff({ initialMs: 5_000, maxMs: 300_000 });
    let failures = 0;
    for (;;) {
      if (this.material?.source === 'csr') {
        const parsed = new X509Certificate(this.material.cert);
        await this.#sleepUntil(renewalTime(new Date(parsed.validFrom), new Date(parsed.validTo)), signal);
        this.#log.info('serving certificate due for renewal');
      }
      const attempt = requestServingCertificate(this.#deps, this.#alt, this.#log, signal);
      if (!this.material) await this.#standInWhile(attempt, signal);
      try {
        const got = await attempt;
        failures = 0;
        await this.#persist(got.cert, got.key);
        if (this.#http.clientCaFile || !this.#clientCa)
          this.#clientCa = (await this.#loadClientCa()) ?? this.#clientCa;
        this.#ready({ ...got, clientCa: this.#clientCa, source: 'csr' });
      } catch (err) {
        if (signal.aborted) throw err;
        failures++;
        this.#log.error({ err: (err as Error).message }, 'serving certificate request failed; retrying');
        if (!this.material) this.#ready(await this.#selfSigned('the serving certificate CSR failed'));
        await clock.sleep(retry.delay(failures), signal);
      }
    }
  }

  /** Serve a self-signed stand-in if the first CSR is not signed soon, rather than refuse every connection. */
  async #standInWhile(attempt: Promise<unknown>, signal: AbortSignal): Promise<void> {
    const waited = await Promise.race([
      attempt.then(
        () => true,
        () => true,
      ),
      this.#deps.clock.sleep(this.#deps.csrInitialWaitMs ?? 15_000, signal).then(() => false),
    ]);
    if (!waited) this.#ready(await this.#selfSigned('the serving certificate CSR is not signed yet'));
  }

  /** 3. Self-signed, renewed before it expires. */
  async #runSelfSigned(signal: AbortSignal): Promise<never> {
    for (;;) {
      const m = await this.#selfSigned('no kubeletHttp.certFile/keyFile and kubeletHttp.csr is off');
      this.#ready(m);
      await this.#sleepUntil(
        renewalTime(new Date(this.#deps.clock.now()), m.notAfter, () => 0.5),
        signal,
      );
    }
  }
}

export function createServingCerts(deps: ServingCertsDeps): ServingCerts {
  const { config, logger } = deps;
  if (!config.nodeName) throw new Error('createServingCerts: config.nodeName is required');
  const http = config.kubeletHttp;
  if (Boolean(http.certFile) !== Boolean(http.keyFile))
    throw new Error('createServingCerts: kubeletHttp.certFile and keyFile go together');
  const source = new ServingCertSource(deps, logger.child({ component: 'kubelet-certs' }));
  const shell = controllerShell((signal, markReady) => source.run(signal, markReady));
  return {
    ...shell,
    current: () => source.material,
    onChange(fn) {
      source.listeners.push(fn);
    },
  };
}
