import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { decodeCertificate, decodeCsr, pemToDer, type DecodedCertificate, type DecodedCsr } from '../../../src/x509/decode.js';

/** Reads test/fixtures/x509/NAME (made by test/fixtures/x509/make-fixtures.sh). */
export function fixtureText(name: string): string {
  return readFileSync(new URL(`../../fixtures/x509/${name}`, import.meta.url), 'utf8');
}

export function certificateDer(name: string): Buffer {
  return pemToDer(fixtureText(name), 'CERTIFICATE', name);
}

export function csrDer(name: string): Buffer {
  return pemToDer(fixtureText(name), 'CERTIFICATE REQUEST', name);
}

export function certificate(name: string): DecodedCertificate {
  return decodeCertificate(certificateDer(name));
}

export function csr(name: string): DecodedCsr {
  return decodeCsr(csrDer(name));
}

export function publicKeyDer(name: string): Buffer {
  return pemToDer(fixtureText(name), 'PUBLIC KEY', name);
}

/** Deterministic pseudo-random bytes (xorshift32), so a "random bytes" test is the same on every run. */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey BIT STRING's bits, hex. */
export function keyIdOf(spkiDer: Buffer): string {
  const header = (offset: number): { contentStart: number; end: number } => {
    let length = spkiDer[offset + 1]!;
    let contentStart = offset + 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      length = spkiDer.readUIntBE(contentStart, count);
      contentStart += count;
    }
    return { contentStart, end: contentStart + length };
  };
  const outer = header(0);
  const algorithm = header(outer.contentStart);
  const bits = header(algorithm.end);
  // skip the unused-bits count byte
  return createHash('sha1').update(spkiDer.subarray(bits.contentStart + 1, bits.end)).digest('hex');
}
