/**
 * PKCS#10 certificate requests and X.509 v3 certificates from node:crypto keys, written by
 * @peculiar/x509 (node:crypto parses certificates but cannot create either). The library
 * signs through WebCrypto, so both builders are async; node:crypto KeyObjects are turned
 * into CryptoKeys here and callers never see WebCrypto. No I/O.
 *
 * Supported signing keys: EC P-256/P-384/P-521 (ECDSA with SHA-256/384/512) and RSA
 * (sha256WithRSAEncryption), which covers the keys we generate (P-256, as the kubelet does)
 * and the CAs clusters use.
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata
// API before the library loads: this import must stay above it.
import 'reflect-metadata';
import { createPublicKey, type KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// The one place the library is told which WebCrypto to use (Node's own).
x509.cryptoProvider.set(webcrypto);

export interface DistinguishedName {
  commonName: string;
  organizations?: string[];
}

export interface AltNames {
  dnsNames?: string[];
  ipAddresses?: string[];
}

/** O=… then CN=…, every value a UTF8String (taken literally: no RFC 4514 escapes or `#hex`). */
function name(dn: DistinguishedName): x509.Name {
  return new x509.Name([
    ...(dn.organizations ?? []).map((o) => ({ O: [{ utf8String: o }] })),
    { CN: [{ utf8String: dn.commonName }] },
  ]);
}

function sanExtension(alt: AltNames): x509.Extension[] {
  const names: x509.JsonGeneralNames = [
    ...(alt.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(alt.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  return names.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(names)];
}

const CURVES: Record<string, { namedCurve: string; hash: string }> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512' },
};

/** The WebCrypto view of a node:crypto key and the signature algorithm it signs with. */
function webAlgorithm(key: KeyObject): {
  importAs: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  signWith: webcrypto.EcdsaParams | webcrypto.Algorithm;
} {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const c = CURVES[curve];
    if (!c) throw new Error(`unsupported EC curve ${curve} (P-256, P-384 or P-521 expected)`);
    return {
      importAs: { name: 'ECDSA', namedCurve: c.namedCurve },
      signWith: { name: 'ECDSA', hash: c.hash },
    };
  }
  if (type === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { importAs: alg, signWith: alg };
  }
  throw new Error(`unsupported signing key type ${String(type)} (EC or RSA expected)`);
}

const publicOf = (key: KeyObject) => (key.type === 'public' ? key : createPublicKey(key));

function signingKey(privateKey: KeyObject): { key: webcrypto.CryptoKey; algorithm: webcrypto.Algorithm } {
  const { importAs, signWith } = webAlgorithm(privateKey);
  return { key: privateKey.toCryptoKey(importAs, false, ['sign']), algorithm: signWith };
}

/** PEM with the trailing newline PEM files conventionally end with. */
const pem = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);

export interface CsrOptions {
  subject: DistinguishedName;
  altNames: AltNames;
  privateKey: KeyObject;
}

/** A PEM PKCS#10 request carrying the SANs as an extensionRequest attribute. */
export async function createCsrPem(opts: CsrOptions): Promise<string> {
  const signer = signingKey(opts.privateKey);
  const publicKey = publicOf(opts.privateKey).toCryptoKey(webAlgorithm(opts.privateKey).importAs, true, [
    'verify',
  ]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: name(opts.subject),
    keys: { privateKey: signer.key, publicKey },
    signingAlgorithm: signer.algorithm,
    extensions: sanExtension(opts.altNames),
  });
  return pem(csr.toString('pem'));
}

export interface CertificateOptions {
  subject: DistinguishedName;
  altNames: AltNames;
  /** The certified key (public or private; only its public half is written). */
  publicKey: KeyObject;
  /** Signs the certificate: the subject's own private key for a self-signed one. */
  issuerKey: KeyObject;
  /** The issuing CA's certificate; without it the certificate is self-signed. */
  issuerCert?: { raw: Buffer };
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate (for tests that need a throwaway CA). */
  isCa?: boolean;
  usage?: 'server' | 'client' | 'both';
}

/** A PEM X.509 v3 certificate with a random positive 128-bit serial. */
export async function createCertificatePem(opts: CertificateOptions): Promise<string> {
  const signer = signingKey(opts.issuerKey);
  const F = x509.KeyUsageFlags;
  const extensions = [...sanExtension(opts.altNames)];
  if (opts.isCa) {
    extensions.push(
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(F.keyCertSign | F.cRLSign | F.digitalSignature, true),
    );
  } else {
    const usage = opts.usage ?? 'server';
    extensions.push(
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(F.digitalSignature | F.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([
        ...(usage !== 'client' ? [x509.ExtendedKeyUsage.serverAuth] : []),
        ...(usage !== 'server' ? [x509.ExtendedKeyUsage.clientAuth] : []),
      ]),
    );
  }
  const subject = name(opts.subject);
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    // The issuer's subject as that certificate encodes it: chain building compares names.
    issuer: opts.issuerCert ? new x509.X509Certificate(opts.issuerCert.raw).subjectName : subject,
    publicKey: publicOf(opts.publicKey).export({ type: 'spki', format: 'der' }),
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    extensions,
  });
  return pem(cert.toString('pem'));
}
