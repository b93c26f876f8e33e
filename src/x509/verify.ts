import type forge from 'node-forge';
import { nodeForge } from './forge.js';
import { createPublicKey, verify as verifySignatureBytes, type KeyObject } from 'node:crypto';
import { CaError } from '../errors.js';
import { formatName, type DecodedCertificate, type DecodedCrl, type DecodedCsr, type Extension } from './decode.js';

export type Digest = 'sha256' | 'sha384' | 'sha512';
export const DIGESTS: readonly Digest[] = ['sha256', 'sha384', 'sha512'];

const SIGNATURE_ALGORITHMS: Record<string, { key: 'ec' | 'rsa'; digest: Digest; name: string }> = {
  '1.2.840.10045.4.3.2': { key: 'ec', digest: 'sha256', name: 'ecdsa-with-SHA256' },
  '1.2.840.10045.4.3.3': { key: 'ec', digest: 'sha384', name: 'ecdsa-with-SHA384' },
  '1.2.840.10045.4.3.4': { key: 'ec', digest: 'sha512', name: 'ecdsa-with-SHA512' },
  '1.2.840.113549.1.1.11': { key: 'rsa', digest: 'sha256', name: 'sha256WithRSAEncryption' },
  '1.2.840.113549.1.1.12': { key: 'rsa', digest: 'sha384', name: 'sha384WithRSAEncryption' },
  '1.2.840.113549.1.1.13': { key: 'rsa', digest: 'sha512', name: 'sha512WithRSAEncryption' },
};

/** The failed checks of one verification, each named. */
export class VerificationError extends CaError {}

/** Collects named checks; `passed()` throws a VerificationError listing every check that failed. */
export class Verification {
  private readonly failures: string[] = [];
  private readonly successes: string[] = [];

  constructor(private readonly subject: string) {}

  check(description: string, ok: boolean, detail?: string): this {
    if (ok) this.successes.push(description);
    else this.failures.push(detail ? `${description} (${detail})` : description);
    return this;
  }

  passed(): string[] {
    if (this.failures.length > 0) {
      throw new VerificationError(`${this.subject} failed verification: ${this.failures.join('; ')}; nothing was written — report this with the tool versions (hsm-openssl-ca doctor)`);
    }
    return [...this.successes];
  }
}

/** Keys decoded lately: a batch verifies hundreds of certificates against the same few issuer keys. */
const recentKeys = new Map<string, KeyObject>();

export function publicKeyOf(spkiDer: Buffer): KeyObject {
  const id = spkiDer.toString('base64');
  const known = recentKeys.get(id);
  if (known) return known;
  const key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  // Stryker disable next-line ConditionalExpression,EqualityOperator: when the memo is emptied changes only how often a key is parsed again, never the key
  if (recentKeys.size >= 64) recentKeys.clear();
  recentKeys.set(id, key);
  return key;
}

/** "EC P-384", "RSA 4096". */
export function describeKey(spkiDer: Buffer): string {
  const key = publicKeyOf(spkiDer);
  const details = key.asymmetricKeyDetails ?? {};
  // Stryker disable next-line StringLiteral: an EC key always has a namedCurve; the fallback key is never looked up
  if (key.asymmetricKeyType === 'ec') return `EC ${CURVE_NAMES[details.namedCurve ?? ''] ?? details.namedCurve}`;
  if (key.asymmetricKeyType === 'rsa') return `RSA ${details.modulusLength}`;
  return String(key.asymmetricKeyType);
}

const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

export function signatureAlgorithmName(oid: string): string {
  return SIGNATURE_ALGORITHMS[oid]?.name ?? oid;
}

/** The digest a signature algorithm hashes with, for re-signing a TBS under the same algorithm. */
export function signatureDigest(oid: string): Digest | undefined {
  return SIGNATURE_ALGORITHMS[oid]?.digest;
}

/** Whether `signature` over `signed` verifies with the SubjectPublicKeyInfo `issuerSpki` under algorithm `oid`. */
export function signatureValid(signed: Buffer, signature: Buffer, oid: string, issuerSpki: Buffer): boolean {
  const algorithm = SIGNATURE_ALGORITHMS[oid];
  // Stryker disable next-line ConditionalExpression: without it an unknown algorithm throws inside the try below, which is false as well
  if (!algorithm) return false;
  try {
    const key = publicKeyOf(issuerSpki);
    return key.asymmetricKeyType === algorithm.key && verifySignatureBytes(algorithm.digest, signed, key, signature);
  } catch {
    return false;
  }
}

/** Whether the algorithm OID is `digest` with the key type of `spki`. */
export function signatureAlgorithmMatches(oid: string, digest: Digest, signerSpki: Buffer): boolean {
  const algorithm = SIGNATURE_ALGORITHMS[oid];
  return algorithm !== undefined && algorithm.digest === digest && publicKeyOf(signerSpki).asymmetricKeyType === algorithm.key;
}

export function extension(extensions: readonly Extension[], name: string): Extension | undefined {
  return extensions.find((e) => e.name === name);
}

/** The keyIdentifier of an authorityKeyIdentifier extension, hex; node-forge leaves it undecoded. */
export function authorityKeyId(extensions: readonly Extension[]): string | undefined {
  const aki = extension(extensions, 'authorityKeyIdentifier');
  if (!aki || typeof aki['value'] !== 'string') return undefined;
  try {
    const sequence = nodeForge().asn1.fromDer(aki['value']);
    const keyIdentifier = (sequence.value as forge.asn1.Asn1[]).find((node) => node.tagClass === nodeForge().asn1.Class.CONTEXT_SPECIFIC && node.type === 0);
    return keyIdentifier ? nodeForge().util.bytesToHex(keyIdentifier.value as string) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a certificate's authorityKeyIdentifier names its issuer's subjectKeyIdentifier (both present). */
export function keyIdentifiersLink(cert: DecodedCertificate, issuer: DecodedCertificate): boolean {
  const aki = authorityKeyId(cert.extensions);
  return aki !== undefined && aki === subjectKeyId(issuer.extensions);
}

export function subjectKeyId(extensions: readonly Extension[]): string | undefined {
  const ski = extension(extensions, 'subjectKeyIdentifier');
  return typeof ski?.['subjectKeyIdentifier'] === 'string' ? ski['subjectKeyIdentifier'] : undefined;
}

export interface CaCertificateExpectations {
  /** The issuer's certificate, or undefined for a self-signed root. */
  readonly issuer: DecodedCertificate | undefined;
  readonly digest: Digest;
  /** The public key the token holds for this CA's key. */
  readonly tokenSpki: Buffer;
  /** Expected pathLenConstraint, or undefined for none. */
  readonly pathLength: number | undefined;
}

/** Verifies a CA certificate (root or intermediate) as the article asks an operator to check by eye. */
export function verifyCaCertificate(what: string, cert: DecodedCertificate, expect: CaCertificateExpectations): string[] {
  const issuerSpki = expect.issuer?.spkiDer ?? cert.spkiDer;
  const issuerSubject = expect.issuer?.subjectDer ?? cert.subjectDer;
  const bc = extension(cert.extensions, 'basicConstraints');
  const ku = extension(cert.extensions, 'keyUsage');
  const v = new Verification(what)
    .check(expect.issuer ? 'issuer = the root\'s subject' : 'self-signed: issuer = subject', cert.issuerDer.equals(issuerSubject))
    .check(`signature valid under the ${expect.issuer ? 'root' : 'own'} key`, signatureValid(cert.tbsDer, cert.signature, cert.signatureAlgorithmOid, issuerSpki))
    .check(`signature algorithm ${signatureAlgorithmName(cert.signatureAlgorithmOid)}`, signatureAlgorithmMatches(cert.signatureAlgorithmOid, expect.digest, issuerSpki), `expected ${expect.digest} with the signing key's algorithm`)
    .check('basicConstraints critical CA:TRUE', bc?.critical === true && bc['cA'] === true)
    .check(
      expect.pathLength === undefined ? 'no path length limit' : `pathlen:${expect.pathLength}`,
      (bc?.['pathLenConstraint'] ?? undefined) === expect.pathLength,
      `found ${String(bc?.['pathLenConstraint'])}`,
    )
    .check('keyUsage critical keyCertSign, cRLSign, digitalSignature', ku?.critical === true && ku['keyCertSign'] === true && ku['cRLSign'] === true && ku['digitalSignature'] === true)
    .check('subjectKeyIdentifier present', subjectKeyId(cert.extensions) !== undefined)
    .check('public key = the token\'s key', cert.spkiDer.equals(expect.tokenSpki))
    .check('currently valid', cert.notBefore.getTime() <= Date.now() + 60_000 && Date.now() < cert.notAfter.getTime());
  if (expect.issuer) {
    v.check('authorityKeyIdentifier = root\'s subjectKeyIdentifier', keyIdentifiersLink(cert, expect.issuer));
    v.check('within the root\'s validity', cert.notAfter.getTime() <= expect.issuer.notAfter.getTime());
  }
  return v.passed();
}

/** Checks that a CSR is self-consistent: its signature verifies with its own public key. */
export function csrSignatureValid(csr: DecodedCsr): boolean {
  return signatureValid(csr.infoDer, csr.signature, csr.signatureAlgorithmOid, csr.spkiDer);
}

export interface LeafExpectations {
  readonly issuer: DecodedCertificate;
  readonly csr: DecodedCsr;
  readonly digest: Digest;
  /** The subject the CA decided, attribute by attribute, in order. */
  readonly subject: ReadonlyArray<{ readonly shortName: string; readonly value: string }>;
  /** Requested SANs as "DNS:x" / "IP:y", in order. */
  readonly sans: readonly string[];
  readonly keyUsage: readonly string[];
  readonly extendedKeyUsage: readonly string[];
}

/** Verifies an issued end-entity certificate against its issuer and the request it was made from. */
export function verifyLeafCertificate(what: string, cert: DecodedCertificate, expect: LeafExpectations, issuedSans: readonly string[]): string[] {
  const bc = extension(cert.extensions, 'basicConstraints');
  const ku = extension(cert.extensions, 'keyUsage');
  const eku = extension(cert.extensions, 'extKeyUsage');
  return new Verification(what)
    .check('issuer = the intermediate\'s subject', cert.issuerDer.equals(expect.issuer.subjectDer))
    .check('signature valid under the intermediate key', signatureValid(cert.tbsDer, cert.signature, cert.signatureAlgorithmOid, expect.issuer.spkiDer))
    .check(`signature algorithm ${signatureAlgorithmName(cert.signatureAlgorithmOid)}`, signatureAlgorithmMatches(cert.signatureAlgorithmOid, expect.digest, expect.issuer.spkiDer))
    .check('public key = the CSR\'s key', cert.spkiDer.equals(expect.csr.spkiDer))
    .check(`subject ${formatName(cert.subject)}, as decided`, JSON.stringify(cert.subject.map((a) => [a.shortName, a.value])) === JSON.stringify(expect.subject.map((a) => [a.shortName, a.value])), `expected ${formatName(expect.subject)}`)
    .check('basicConstraints CA:FALSE', bc !== undefined && bc['cA'] !== true)
    .check(`keyUsage critical ${expect.keyUsage.join(', ')}`, ku?.critical === true && expect.keyUsage.every((usage) => ku[usage] === true) && !ku['keyCertSign'] && !ku['cRLSign'])
    .check(`extendedKeyUsage ${expect.extendedKeyUsage.join(', ')}`, expect.extendedKeyUsage.every((usage) => eku?.[usage] === true) && (['serverAuth', 'clientAuth'] as const).every((usage) => expect.extendedKeyUsage.includes(usage) || !eku?.[usage]))
    .check(`subjectAltName ${expect.sans.join(', ') || '(none)'}`, issuedSans.join(',') === expect.sans.join(','), `found ${issuedSans.join(', ') || 'none'}`)
    .check('authorityKeyIdentifier = intermediate\'s subjectKeyIdentifier', keyIdentifiersLink(cert, expect.issuer))
    .check('within the intermediate\'s validity', cert.notAfter.getTime() <= expect.issuer.notAfter.getTime())
    .passed();
}

/** Verifies a CRL against the CA that signed it and the revocations its database holds. */
export function verifyCrl(what: string, crl: DecodedCrl, expect: { issuer: DecodedCertificate; digest: Digest; revokedSerials: readonly string[]; days: number; previousNumber: bigint | undefined }): string[] {
  const listed = crl.revoked.map((entry) => entry.serialHex).sort();
  const expectedNextUpdate = crl.thisUpdate.getTime() + expect.days * 86_400_000;
  return new Verification(what)
    .check('issuer = the CA\'s subject', crl.issuerDer.equals(expect.issuer.subjectDer))
    .check('signature valid under the CA key', signatureValid(crl.tbsDer, crl.signature, crl.signatureAlgorithmOid, expect.issuer.spkiDer))
    .check(`signature algorithm ${signatureAlgorithmName(crl.signatureAlgorithmOid)}`, signatureAlgorithmMatches(crl.signatureAlgorithmOid, expect.digest, expect.issuer.spkiDer))
    .check('authorityKeyIdentifier = the CA\'s subjectKeyIdentifier', crl.authorityKeyId !== undefined && crl.authorityKeyId === subjectKeyId(expect.issuer.extensions))
    .check(`CRL number ${crl.crlNumber ?? '(none)'}`, crl.crlNumber !== undefined && (expect.previousNumber === undefined || crl.crlNumber > expect.previousNumber), `previous ${expect.previousNumber}`)
    .check(`nextUpdate ${crl.nextUpdate?.toISOString().slice(0, 10) ?? '(none)'}`, crl.nextUpdate !== undefined && Math.abs(crl.nextUpdate.getTime() - expectedNextUpdate) < 3_600_000)
    .check(`${listed.length} revoked serial(s), as in the database`, listed.join(',') === [...expect.revokedSerials].sort().join(','), `CRL lists ${listed.join(', ') || 'none'}`)
    .passed();
}
