import type forge from 'node-forge';
import { nodeForge } from '../../x509/forge.js';
import { CaError } from '../../errors.js';

/** RFC 5280 §4.1.2.2 caps a serial at 20 octets; CA/Browser Forum BR 7.1 asks for 64 bits from a CSPRNG. */
const MAX_SERIAL_OCTETS = 20;
const MIN_SERIAL_BITS = 64;

/** A serial as openssl writes it in index.txt, `serial` and `crlnumber`: upper-case hex, whole bytes, no sign octet. */
export function opensslHex(value: bigint): string {
  const hex = value.toString(16).toUpperCase();
  return hex.length % 2 === 0 ? hex : `0${hex}`;
}

/** A serial's value from hex in any of the forms openssl and DER give it (with or without a sign octet, either case). */
export function serialValue(hex: string): bigint {
  return BigInt(`0x${hex}`);
}

/** The content octets of a certificate's serialNumber INTEGER (two's complement, as signed). */
export function serialOctets(certificateDer: Buffer): Buffer {
  const certificate = nodeForge().asn1.fromDer(nodeForge().util.createBuffer(certificateDer.toString('binary')));
  const tbs = (certificate.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  // [0] EXPLICIT version comes first in a v2/v3 certificate; the serial follows it.
  const serial = tbs[0]!.tagClass === nodeForge().asn1.Class.CONTEXT_SPECIFIC ? tbs[1]! : tbs[0]!;
  return Buffer.from(serial.value as string, 'binary');
}

/**
 * Refuses a freshly signed certificate whose serial is not what a CA may hand out: negative or zero, longer
 * than 20 octets, narrower than 64 bits (so it cannot hold 64 random bits: a counter, or a bad draw), or
 * already in the database it was signed against. openssl ca draws 159 random bits and checks index.txt
 * itself (rand_serial); this is the independent check before anything is committed.
 */
export function requireFreshSerial(certificateDer: Buffer, issuedBefore: ReadonlySet<bigint>): bigint {
  const octets = serialOctets(certificateDer);
  const hex = octets.toString('hex').toUpperCase();
  if (octets.length === 0 || (octets[0]! & 0x80) !== 0) throw new CaError(`openssl signed a certificate with a negative serial (${hex}); nothing was changed — report this, it is an openssl fault`);
  const value = serialValue(hex);
  if (value === 0n) throw new CaError('openssl signed a certificate with serial 0; nothing was changed — report this, it is an openssl fault');
  if (octets.length > MAX_SERIAL_OCTETS) throw new CaError(`openssl signed a certificate with a ${octets.length}-octet serial (RFC 5280 allows ${MAX_SERIAL_OCTETS}); nothing was changed`);
  if (value.toString(2).length < MIN_SERIAL_BITS) throw new CaError(`openssl signed a certificate with serial ${hex}, narrower than ${MIN_SERIAL_BITS} bits, so not random; nothing was changed — check that the config in use has rand_serial = yes`);
  if (issuedBefore.has(value)) throw new CaError(`openssl signed serial ${opensslHex(value)}, which index.txt already holds; nothing was changed — run \`hsm-openssl-ca check\``);
  return value;
}
