import { sign, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import { CaError } from '../../errors.js';
import { decodeCertificate, type DecodedCertificate } from '../../x509/decode.js';
import { nodeForge } from '../../x509/forge.js';
import { signatureDigest } from '../../x509/verify.js';

function fromDer(der: Buffer): forge.asn1.Asn1 {
  // decodeBitStrings off: the public key and signature BIT STRINGs are kept as they are, byte for byte.
  return nodeForge().asn1.fromDer(nodeForge().util.createBuffer(der.toString('binary')), { decodeBitStrings: false } as never);
}

function toDer(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(nodeForge().asn1.toDer(node).getBytes(), 'binary');
}

/**
 * A copy of a real CA certificate for the shadow CA: every field of its TBSCertificate kept (serial,
 * subject, issuer, validity, extensions with the real key identifiers, name constraints), only the public
 * key swapped for `publicKey`, signed by `signer` under the same signature algorithm. Keeping the real
 * key identifiers makes what the shadow issues carry the same authorityKeyIdentifier as the token's.
 */
export function resignCertificate(real: DecodedCertificate, publicKey: KeyObject, signer: KeyObject): DecodedCertificate {
  const digest = signatureDigest(real.signatureAlgorithmOid);
  if (!digest) throw new CaError(`the CA certificate's signature algorithm ${real.signatureAlgorithmOid} is not one the shadow CA can sign with; nothing was signed`);
  const certificate = fromDer(real.der);
  const [tbs, algorithm] = certificate.value as forge.asn1.Asn1[];
  const fields = tbs!.value as forge.asn1.Asn1[];
  // [0] EXPLICIT version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, …
  const asn1 = nodeForge().asn1;
  const spkiIndex = fields[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 6 : 5;
  fields[spkiIndex] = fromDer(publicKey.export({ type: 'spki', format: 'der' }));
  const tbsDer = toDer(tbs!);
  const signature = sign(digest, tbsDer, signer);
  const signatureValue = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${signature.toString('binary')}`);
  return decodeCertificate(toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [fromDer(tbsDer), algorithm!, signatureValue])));
}

/** PEM of a DER certificate. */
export function certificatePem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}
