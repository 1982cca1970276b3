/**
 * Just enough DER to write a PKCS#10 certificate request and an X.509 v3 certificate
 * with node:crypto keys. node:crypto parses certificates (X509Certificate) but cannot
 * create either, and the two structures are small and fixed: a few dozen lines here
 * spare the VK a certificate library. Pure functions; no I/O.
 *
 * Supported signing keys: EC P-256/P-384 (ecdsa-with-SHA256/384) and RSA (sha256WithRSAEncryption),
 * which covers the keys we generate (P-256, as the kubelet does) and the CAs clusters use.
 */
import { createPublicKey, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

// ---- DER primitives -------------------------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const nullValue = () => Buffer.from([0x05, 0x00]);
const octets = (b: Buffer) => tlv(0x04, b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
/** BIT STRING with no unused bits. */
const bits = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = b.subarray(i);
  // A set high bit would make the number negative.
  if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = parts;
  const out: number[] = [a * 40 + b];
  for (const p of rest) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDhhmmss
  const year = d.getUTCFullYear();
  if (year < 2050) return tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'));
  return tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

// ---- X.509 pieces -----------------------------------------------------------------------

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  extensionRequest: '1.2.840.113549.1.9.14',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  rsaSha256: '1.2.840.113549.1.1.11',
} as const;

export interface DistinguishedName {
  commonName: string;
  organizations?: string[];
}

function name(dn: DistinguishedName): Buffer {
  const rdns = (dn.organizations ?? []).map((o) => set(seq(oid(OID.organization), utf8(o))));
  rdns.push(set(seq(oid(OID.commonName), utf8(dn.commonName))));
  return seq(...rdns);
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // Expand :: and write eight 16-bit groups.
  const [head = '', tail] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}

export interface AltNames {
  dnsNames?: string[];
  ipAddresses?: string[];
}

function extension(id: string, value: Buffer, critical = false): Buffer {
  return critical
    ? seq(oid(id), Buffer.from([0x01, 0x01, 0xff]), octets(value))
    : seq(oid(id), octets(value));
}

function sanExtension(alt: AltNames): Buffer | undefined {
  const names = [
    ...(alt.dnsNames ?? []).map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
    ...(alt.ipAddresses ?? []).map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  return names.length === 0 ? undefined : extension(OID.subjectAltName, seq(...names));
}

function signatureAlgorithm(key: KeyObject): { alg: Buffer; hash: string } {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1') return { alg: seq(oid(OID.ecdsaSha384)), hash: 'sha384' };
    return { alg: seq(oid(OID.ecdsaSha256)), hash: 'sha256' };
  }
  if (type === 'rsa') return { alg: seq(oid(OID.rsaSha256), nullValue()), hash: 'sha256' };
  throw new Error(`unsupported signing key type ${String(type)} (EC or RSA expected)`);
}

const publicOf = (key: KeyObject) => (key.type === 'public' ? key : createPublicKey(key));

function signed(tbs: Buffer, key: KeyObject): Buffer {
  const { alg, hash } = signatureAlgorithm(key);
  return seq(tbs, alg, bits(sign(hash, tbs, key)));
}

const pem = (label: string, der: Buffer) =>
  `-----BEGIN ${label}-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;

// ---- public builders --------------------------------------------------------------------

export interface CsrOptions {
  subject: DistinguishedName;
  altNames: AltNames;
  privateKey: KeyObject;
}

/** A PEM PKCS#10 request carrying the SANs as an extensionRequest attribute. */
export function createCsrPem(opts: CsrOptions): string {
  const spki = publicOf(opts.privateKey).export({ type: 'spki', format: 'der' });
  const san = sanExtension(opts.altNames);
  const attrs = san ? seq(oid(OID.extensionRequest), set(seq(san))) : Buffer.alloc(0);
  const info = seq(integer(Buffer.from([0])), name(opts.subject), spki, tlv(0xa0, attrs));
  return pem('CERTIFICATE REQUEST', signed(info, opts.privateKey));
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

/** A PEM X.509 v3 certificate. */
export function createCertificatePem(opts: CertificateOptions): string {
  const spki = publicOf(opts.publicKey).export({ type: 'spki', format: 'der' });
  const { alg } = signatureAlgorithm(opts.issuerKey);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const exts: Buffer[] = [];
  const san = sanExtension(opts.altNames);
  if (san) exts.push(san);
  if (opts.isCa) {
    exts.push(extension(OID.basicConstraints, seq(Buffer.from([0x01, 0x01, 0xff])), true));
    // keyCertSign + cRLSign + digitalSignature: bits 0, 5, 6 → 0b1000_0110, 1 unused bit.
    exts.push(extension(OID.keyUsage, tlv(0x03, Buffer.from([0x01, 0x86])), true));
  } else {
    exts.push(extension(OID.basicConstraints, seq(), true));
    // digitalSignature + keyEncipherment: bits 0, 2 → 0b1010_0000, 5 unused bits.
    exts.push(extension(OID.keyUsage, tlv(0x03, Buffer.from([0x05, 0xa0])), true));
    const usage = opts.usage ?? 'server';
    const ekus = [
      ...(usage !== 'client' ? [oid(OID.serverAuth)] : []),
      ...(usage !== 'server' ? [oid(OID.clientAuth)] : []),
    ];
    exts.push(extension(OID.extKeyUsage, seq(...ekus)));
  }
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    alg,
    opts.issuerCert ? subjectOf(opts.issuerCert.raw) : name(opts.subject),
    seq(time(opts.notBefore), time(opts.notAfter)),
    name(opts.subject),
    spki,
    explicit(3, seq(...exts)),
  );
  return pem('CERTIFICATE', signed(tbs, opts.issuerKey));
}

/** One TLV at `at`: where its content starts and where the element ends. */
function readTlv(der: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = der[at] ?? 0;
  let len = der[at + 1] ?? 0;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  return { tag, start, end: start + len };
}

/**
 * The subject Name of a DER certificate, byte for byte, to serve as the issuer of the
 * certificates it signs (chain building compares these names).
 */
export function subjectOf(certDer: Buffer): Buffer {
  const cert = readTlv(certDer, 0);
  const tbs = readTlv(certDer, cert.start);
  let at = tbs.start;
  const fields: Array<{ start: number; end: number; tag: number }> = [];
  while (at < tbs.end && fields.length < 7) {
    const f = readTlv(certDer, at);
    fields.push({ ...f, start: at });
    at = f.end;
  }
  // version [0] is optional: subject is the 6th field with it, the 5th without.
  const subject = fields[fields[0]?.tag === 0xa0 ? 5 : 4];
  if (!subject) throw new Error('not an X.509 certificate');
  return certDer.subarray(subject.start, subject.end);
}
