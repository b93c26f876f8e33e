/**
 * Hand-made certificates, CSRs and CRLs for the verification tests: a well-formed chain by default, and
 * one option per thing that can be wrong, so each test breaks exactly one property. Certificates and CSRs
 * are built with node-forge (RSA, which its pki layer signs); CRLs, which node-forge cannot make, are
 * assembled with forge.asn1 and signed with node:crypto. Everything goes through the real decoders.
 */
import forge from 'node-forge';
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { decodeCertificate, decodeCrl, decodeCsr, type DecodedCertificate, type DecodedCrl, type DecodedCsr } from '../../../src/x509/decode.js';

const { asn1 } = forge;
const DAY = 86_400_000;

export interface TestKey {
  readonly forge: forge.pki.rsa.PrivateKey;
  readonly publicKey: forge.pki.rsa.PublicKey;
  readonly node: KeyObject;
}

/** A throwaway RSA key (node:crypto generates it: node-forge's pure-JS generation is slow). */
export function throwawayKey(): TestKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { forge: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), node: createPrivateKey(pem) };
}

export type Digest = 'sha256' | 'sha384' | 'sha512';

function digestFor(digest: Digest): forge.md.MessageDigest {
  return forge.md[digest].create();
}

export interface Issued {
  readonly cert: forge.pki.Certificate;
  readonly key: TestKey;
  readonly decoded: DecodedCertificate;
}

export interface CertificateOptions {
  readonly commonName: string;
  readonly key: TestKey;
  /** The signing CA; absent: self-signed. */
  readonly issuer?: Issued;
  /** Sign with this key instead of the issuer's (a wrong signer). */
  readonly signWith?: TestKey;
  /** Put this issuer name in the certificate instead of the issuer's subject. */
  readonly issuerName?: string;
  readonly digest?: Digest;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** basicConstraints as node-forge takes it; null: no basicConstraints. */
  readonly basicConstraints?: Record<string, unknown> | null;
  readonly keyUsage?: Record<string, unknown> | null;
  readonly extKeyUsage?: Record<string, unknown> | null;
  readonly altNames?: ReadonlyArray<Record<string, unknown>>;
  /** false: no subjectKeyIdentifier. */
  readonly subjectKeyId?: boolean;
  /** The AKI's keyIdentifier (bytes); default: the issuer's SKI; null: no AKI. */
  readonly authorityKeyId?: string | null;
}

const CA_EXTENSIONS = {
  basicConstraints: { cA: true, critical: true },
  keyUsage: { keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
};

/** Builds, signs and decodes one certificate. */
export function makeCertificate(options: CertificateOptions): Issued {
  const cert = forge.pki.createCertificate();
  cert.publicKey = options.key.publicKey;
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(8));
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - DAY);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 365 * DAY);
  cert.setSubject([{ shortName: 'CN', value: options.commonName }]);
  cert.setIssuer(options.issuerName ? [{ shortName: 'CN', value: options.issuerName }] : (options.issuer?.cert.subject.attributes ?? cert.subject.attributes));
  const authorityKeyId = options.authorityKeyId === undefined ? options.issuer?.cert.generateSubjectKeyIdentifier().getBytes() : options.authorityKeyId;
  const extensions: Array<Record<string, unknown>> = [];
  const add = (name: string, value: Record<string, unknown> | null | undefined): void => {
    if (value) extensions.push({ name, ...value });
  };
  add('basicConstraints', options.basicConstraints);
  add('keyUsage', options.keyUsage);
  add('extKeyUsage', options.extKeyUsage);
  if (options.altNames) extensions.push({ name: 'subjectAltName', altNames: options.altNames });
  if (options.subjectKeyId !== false) extensions.push({ name: 'subjectKeyIdentifier' });
  if (authorityKeyId) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyId });
  cert.setExtensions(extensions);
  cert.sign((options.signWith ?? options.issuer?.key ?? options.key).forge, digestFor(options.digest ?? 'sha256'));
  return { cert, key: options.key, decoded: decodeCertificate(derOf(forge.pki.certificateToAsn1(cert))) };
}

/** A CA certificate: CA:TRUE and the CA key usages unless `options` says otherwise. */
export function makeCa(options: CertificateOptions): Issued {
  return makeCertificate({ ...CA_EXTENSIONS, ...options });
}

/** A TLS server leaf for www.example.com and 10.0.0.1, unless `options` says otherwise. */
export function makeLeaf(options: Omit<CertificateOptions, 'commonName'> & { commonName?: string }): Issued {
  return makeCertificate({
    commonName: 'www.example.com',
    basicConstraints: { cA: false },
    keyUsage: { digitalSignature: true, keyEncipherment: true, critical: true },
    extKeyUsage: { serverAuth: true },
    altNames: [{ type: 2, value: 'www.example.com' }, { type: 7, ip: '10.0.0.1' }],
    ...options,
  });
}

/** A CSR for `key`, signed by `signWith` (default: the same key). */
export function makeCsr(key: TestKey, options: { commonName?: string; signWith?: TestKey } = {}): DecodedCsr {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = key.publicKey;
  csr.setSubject([{ shortName: 'CN', value: options.commonName ?? 'www.example.com' }]);
  csr.sign((options.signWith ?? key).forge, forge.md.sha256.create());
  return decodeCsr(derOf(forge.pki.certificationRequestToAsn1(csr)));
}

export interface CrlOptions {
  readonly issuer: Issued;
  /** Sign with this key instead of the issuer's. */
  readonly signWith?: TestKey;
  /** Put this issuer name in the CRL instead of the issuer's subject. */
  readonly issuerName?: string;
  readonly digest?: Digest;
  readonly thisUpdate?: Date;
  /** Days from thisUpdate to nextUpdate; null: no nextUpdate. */
  readonly days?: number | null;
  /** undefined: no cRLNumber. */
  readonly number?: bigint;
  /** Revoked serials, hex. */
  readonly revoked?: readonly string[];
  /** The AKI's keyIdentifier (bytes); default: the issuer's SKI; null: no AKI. */
  readonly authorityKeyId?: string | null;
}

const SIGNATURE_OIDS: Record<Digest, string> = { sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12', sha512: '1.2.840.113549.1.1.13' };

/** Builds, signs and decodes a v2 CRL (RFC 5280 5.1). */
export function makeCrl(options: CrlOptions): DecodedCrl {
  const digest = options.digest ?? 'sha256';
  const thisUpdate = options.thisUpdate ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const algorithm = seq([asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(SIGNATURE_OIDS[digest]).getBytes()), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]);
  const issuer = options.issuerName ? nameOf(options.issuerName) : asn1.fromDer(forge.util.createBuffer(options.issuer.decoded.subjectDer.toString('binary')));
  const days = options.days === undefined ? 30 : options.days;
  const authorityKeyId = options.authorityKeyId === undefined ? options.issuer.cert.generateSubjectKeyIdentifier().getBytes() : options.authorityKeyId;
  const extensions = [
    ...(authorityKeyId ? [extension('2.5.29.35', seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, authorityKeyId)]))] : []),
    ...(options.number !== undefined ? [extension('2.5.29.20', integer(options.number.toString(16)))] : []),
  ];
  const revoked = options.revoked ?? [];
  const tbs = seq([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, '\x01'),
    algorithm,
    issuer,
    utcTime(thisUpdate),
    ...(days === null ? [] : [utcTime(new Date(thisUpdate.getTime() + days * DAY))]),
    ...(revoked.length ? [seq(revoked.map((serial) => seq([integer(serial), utcTime(thisUpdate)])))] : []),
    ...(extensions.length ? [asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [seq(extensions)])] : []),
  ]);
  const tbsDer = derOf(tbs);
  const signature = sign(digest, tbsDer, (options.signWith ?? options.issuer.key).node);
  const crl = seq([tbs, algorithm, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + signature.toString('binary'))]);
  return decodeCrl(derOf(crl));
}

function nameOf(commonName: string): forge.asn1.Asn1 {
  const holder = forge.pki.createCertificate();
  holder.setSubject([{ shortName: 'CN', value: commonName }]);
  return forge.pki.distinguishedNameToAsn1(holder.subject);
}

function seq(items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}

function integer(hex: string): forge.asn1.Asn1 {
  const even = hex.length % 2 ? `0${hex}` : hex;
  // A leading 1 bit would make the INTEGER negative.
  const bytes = forge.util.hexToBytes(/^[89a-f]/i.test(even) ? `00${even}` : even);
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes);
}

function utcTime(date: Date): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date));
}

function extension(oid: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return seq([asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, asn1.toDer(value).getBytes())]);
}

function derOf(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}
