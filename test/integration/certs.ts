import { createPublicKey, verify, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/*
 * What the integration tests read from certificates and CRLs, taken from the DER itself: never from
 * `openssl … -text`, whose layout changes between OpenSSL releases (3.5 prints `C=US, ST=…` where 3.0
 * printed `C = US, ST = …`). Node's X509Certificate gives the fields it exposes (subject, issuer,
 * extended key usage, public key, signature checks); the small DER reader below gives the rest. It is
 * deliberately separate from src/x509/decode.ts, so the CLI's own decoder never vouches for itself.
 */

// --- A minimal, strict DER reader ------------------------------------------------------------------------

interface Tlv {
  /** The identifier octet (single-byte tags only; X.509 needs no others). */
  readonly tag: number;
  /** The whole encoding, tag and length included. */
  readonly der: Buffer;
  readonly content: Buffer;
}

function readTlv(der: Buffer, offset: number): Tlv {
  if (offset + 2 > der.length) throw new Error(`DER: truncated at ${offset}`);
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error(`DER: multi-byte tag at ${offset}`);
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > der.length) throw new Error(`DER: bad length at ${offset}`);
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + der[start + i]!;
    start += count;
  }
  if (start + length > der.length) throw new Error(`DER: length at ${offset} runs past the end`);
  return { tag, der: der.subarray(offset, start + length), content: der.subarray(start, start + length) };
}

/** Exactly one TLV filling `der`. */
function parse(der: Buffer): Tlv {
  const tlv = readTlv(der, 0);
  if (tlv.der.length !== der.length) throw new Error('DER: trailing bytes');
  return tlv;
}

/** The children of a constructed TLV. */
function children(tlv: Tlv): Tlv[] {
  if (!(tlv.tag & 0x20)) throw new Error(`DER: tag 0x${tlv.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  for (let offset = 0; offset < tlv.content.length; ) {
    const child = readTlv(tlv.content, offset);
    out.push(child);
    offset += child.der.length;
  }
  return out;
}

function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv || tlv.tag !== tag) throw new Error(`DER: expected ${what} (tag 0x${tag.toString(16)}), found ${tlv ? `0x${tlv.tag.toString(16)}` : 'nothing'}`);
  return tlv;
}

function oid(tlv: Tlv): string {
  const bytes = expectTag(tlv, 0x06, 'OBJECT IDENTIFIER').content;
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = arcs.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

/** A positive INTEGER as `openssl x509 -serial` and index.txt write it: upper-case hex, whole bytes, no sign octet. */
function integerHex(tlv: Tlv): string {
  const bytes = expectTag(tlv, 0x02, 'INTEGER').content;
  const magnitude = bytes.length > 1 && bytes[0] === 0 ? bytes.subarray(1) : bytes;
  return magnitude.toString('hex').toUpperCase();
}

function boolean(tlv: Tlv): boolean {
  const bytes = expectTag(tlv, 0x01, 'BOOLEAN').content;
  if (bytes.length !== 1 || (bytes[0] !== 0 && bytes[0] !== 0xff)) throw new Error('DER: bad BOOLEAN');
  return bytes[0] === 0xff;
}

/** The PEM block of `label` (exactly one) or, if the file is not PEM, the file as DER. */
export function pemOrDer(data: Buffer, label: string): Buffer {
  const text = data.toString('latin1');
  if (!text.includes('-----BEGIN ')) return data;
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*?)-----END \1-----/g)];
  if (blocks.length !== 1 || blocks[0]![1] !== label) throw new Error(`expected exactly one PEM "${label}" block, found ${blocks.map((b) => `"${b[1]}"`).join(', ') || 'none'}`);
  return Buffer.from(blocks[0]![2]!.replace(/\s+/g, ''), 'base64');
}

// --- Names, addresses and general names ------------------------------------------------------------------

export const OIDS = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
  crlReason: '2.5.29.21',
  /** Netscape's arc (nsCertType, nsComment, …): prefix of every Netscape extension. */
  netscapePrefix: '2.16.840.1.113730.',
} as const;

const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** A Name as "C=US, ST=My State, …" in encoded order (one attribute per RDN in everything the CA writes). */
function nameText(name: Tlv): string {
  return children(expectTag(name, 0x30, 'Name'))
    .flatMap((rdn) => children(expectTag(rdn, 0x31, 'RDN')))
    .map((pair) => {
      const [type, value] = children(pair);
      const text = value!.tag === 0x1e ? Buffer.from(value!.content).swap16().toString('utf16le') : value!.content.toString('utf8');
      return `${ATTRIBUTE_NAMES[oid(type!)] ?? oid(type!)}=${text}`;
    })
    .join(', ');
}

/** RFC 5952 text of a 4- or 16-byte address: 10.0.0.1, 2001:db8::1. */
function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) throw new Error(`an IP address of ${bytes.length} bytes`);
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/** An address/mask pair from name constraints: CIDR when the mask is a prefix, else address/mask. */
function ipRangeText(bytes: Buffer): string {
  const half = bytes.length / 2;
  const address = ipText(bytes.subarray(0, half));
  const mask = bytes.subarray(half);
  const bits = [...mask].map((b) => b.toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? `${address}/${bits.indexOf('0') === -1 ? bits.length : bits.indexOf('0')}` : `${address}/${ipText(mask)}`;
}

/** A GeneralName as "DNS:…", "IP:…", "email:…", "URI:…", "DirName:…"; anything else as "[tag]hex". */
function generalName(name: Tlv, inConstraints = false): string {
  switch (name.tag) {
    case 0x81: return `email:${name.content.toString('latin1')}`;
    case 0x82: return `DNS:${name.content.toString('latin1')}`;
    case 0x86: return `URI:${name.content.toString('latin1')}`;
    case 0x87: return `IP:${inConstraints ? ipRangeText(name.content) : ipText(name.content)}`;
    case 0xa4: return `DirName:${nameText(children(name)[0]!)}`;
    default: return `[0x${name.tag.toString(16)}]${name.content.toString('hex')}`;
  }
}

// --- Certificates --------------------------------------------------------------------------------------

export interface ExtensionValue {
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content: the extension's own DER. */
  readonly value: Buffer;
}

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

function decodeExtensions(list: Tlv): Array<[string, ExtensionValue]> {
  return children(expectTag(list, 0x30, 'Extensions')).map((extension) => {
    const parts = children(extension);
    const critical = parts.length === 3 ? boolean(parts[1]!) : false;
    return [oid(parts[0]!), { critical, value: expectTag(parts.at(-1), 0x04, 'extnValue').content }];
  });
}

/** One certificate, decoded from its own bytes. */
export class Cert {
  readonly der: Buffer;
  /** Node's view of the same bytes: subject, issuer, keyUsage (= extended key usage OIDs), publicKey, verify, checkIssued. */
  readonly x509: X509Certificate;
  readonly signatureAlgorithm: string;
  readonly serial: string;
  /** "C=US, ST=My State, …", in the order encoded. */
  readonly subject: string;
  readonly issuer: string;
  /** The SubjectPublicKeyInfo exactly as encoded. */
  readonly spki: Buffer;
  readonly extensions: ReadonlyArray<readonly [string, ExtensionValue]>;

  constructor(der: Buffer) {
    this.der = der;
    this.x509 = new X509Certificate(der);
    const [tbs, algorithm] = children(parse(der));
    const fields = children(expectTag(tbs, 0x30, 'TBSCertificate'));
    const [serial, innerAlgorithm, issuer, , subject, spki, ...rest] = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
    this.signatureAlgorithm = oid(children(expectTag(algorithm, 0x30, 'AlgorithmIdentifier'))[0]!);
    if (oid(children(innerAlgorithm!)[0]!) !== this.signatureAlgorithm) throw new Error('the two signature algorithm fields differ');
    this.serial = integerHex(serial!);
    this.issuer = nameText(issuer!);
    this.subject = nameText(subject!);
    this.spki = expectTag(spki, 0x30, 'SubjectPublicKeyInfo').der;
    const wrapper = rest.find((tlv) => tlv.tag === 0xa3);
    this.extensions = wrapper ? decodeExtensions(children(wrapper)[0]!) : [];
  }

  static async load(path: string): Promise<Cert> {
    return new Cert(pemOrDer(await readFile(path), 'CERTIFICATE'));
  }

  /** The extension with this OID; a certificate carrying it twice is a test failure. */
  extension(id: string): ExtensionValue | undefined {
    const found = this.extensions.filter(([extensionId]) => extensionId === id);
    if (found.length > 1) throw new Error(`extension ${id} appears ${found.length} times`);
    return found[0]?.[1];
  }

  get basicConstraints(): { critical: boolean; cA: boolean; pathLength: number | undefined } | undefined {
    const extension = this.extension(OIDS.basicConstraints);
    if (!extension) return undefined;
    const parts = children(parse(extension.value));
    const cA = parts[0]?.tag === 0x01 ? boolean(parts.shift()!) : false;
    return { critical: extension.critical, cA, pathLength: parts[0] ? Number.parseInt(integerHex(parts[0]), 16) : undefined };
  }

  /** Key usage bits by name, in bit order. */
  get keyUsage(): { critical: boolean; usages: string[] } | undefined {
    const extension = this.extension(OIDS.keyUsage);
    if (!extension) return undefined;
    const bits = expectTag(parse(extension.value), 0x03, 'BIT STRING').content.subarray(1);
    const usages = KEY_USAGE_BITS.filter((_, i) => i < bits.length * 8 && bits[i >> 3]! & (0x80 >> (i & 7)));
    return { critical: extension.critical, usages };
  }

  /** Extended key usage OIDs in encoded order (read independently of Node's `x509.keyUsage`). */
  get extKeyUsage(): { critical: boolean; purposes: string[] } | undefined {
    const extension = this.extension(OIDS.extKeyUsage);
    return extension && { critical: extension.critical, purposes: children(parse(extension.value)).map(oid) };
  }

  /** ["DNS:www.example.com", "IP:10.0.0.1", "IP:2001:db8::1", "email:…", "URI:…"], in encoded order; [] without the extension. */
  get subjectAltNames(): string[] {
    const extension = this.extension(OIDS.subjectAltName);
    return extension ? children(parse(extension.value)).map((name) => generalName(name)) : [];
  }

  get nameConstraints(): { critical: boolean; permitted: string[]; excluded: string[] } | undefined {
    const extension = this.extension(OIDS.nameConstraints);
    if (!extension) return undefined;
    const out = { critical: extension.critical, permitted: [] as string[], excluded: [] as string[] };
    for (const subtrees of children(parse(extension.value))) {
      const names = children(subtrees).map((subtree) => generalName(children(subtree)[0]!, true));
      if (subtrees.tag === 0xa0) out.permitted.push(...names);
      else if (subtrees.tag === 0xa1) out.excluded.push(...names);
      else throw new Error(`name constraints: unexpected tag 0x${subtrees.tag.toString(16)}`);
    }
    return out;
  }

  /** The full names of every distribution point, as "URI:…" etc. */
  get crlDistributionPoints(): string[] {
    const extension = this.extension(OIDS.crlDistributionPoints);
    if (!extension) return [];
    return children(parse(extension.value)).flatMap((point) => {
      const name = children(point).find((part) => part.tag === 0xa0);
      const fullName = name && children(name).find((part) => part.tag === 0xa0);
      return fullName ? children(fullName).map((n) => generalName(n)) : [];
    });
  }

  /** Authority information access as [method OID, "URI:…"]. */
  get authorityInfoAccess(): Array<[string, string]> {
    const extension = this.extension(OIDS.authorityInfoAccess);
    if (!extension) return [];
    return children(parse(extension.value)).map((description) => {
      const [method, location] = children(description);
      return [oid(method!), generalName(location!)];
    });
  }

  get caIssuers(): string[] {
    return this.authorityInfoAccess.filter(([method]) => method === OIDS.caIssuers).map(([, location]) => location);
  }
}

/** The serial of a certificate file, as `openssl x509 -serial` and index.txt write it (upper-case hex). */
export async function serialOf(path: string): Promise<string> {
  return (await Cert.load(path)).serial;
}

/**
 * Everything a reader of the certificate could find a string in: its bytes as Latin-1 (every ASCII or
 * UTF-8 string in it, wherever nested) and as UTF-16BE at both alignments (BMPString).
 */
export function searchableText(cert: Cert): string {
  const utf16be = (bytes: Buffer) => Buffer.from(bytes.subarray(0, bytes.length & ~1)).swap16().toString('utf16le');
  return [cert.der.toString('latin1'), utf16be(cert.der), utf16be(cert.der.subarray(1))].join('\n');
}

// --- CSRs ----------------------------------------------------------------------------------------------

const SIGNATURE_HASHES: Record<string, string> = {
  [OIDS.ecdsaWithSHA256]: 'sha256',
  [OIDS.ecdsaWithSHA384]: 'sha384',
  [OIDS.ecdsaWithSHA512]: 'sha512',
  [OIDS.sha256WithRSAEncryption]: 'sha256',
  [OIDS.sha384WithRSAEncryption]: 'sha384',
  [OIDS.sha512WithRSAEncryption]: 'sha512',
};

/** Whether a PKCS#10 request's signature verifies with the public key it carries (checked by Node, not openssl). */
export async function csrSelfSignatureValid(path: string): Promise<boolean> {
  const [info, algorithm, signature] = children(parse(pemOrDer(await readFile(path), 'CERTIFICATE REQUEST')));
  const spki = children(expectTag(info, 0x30, 'CertificationRequestInfo'))[2]!;
  const hash = SIGNATURE_HASHES[oid(children(expectTag(algorithm, 0x30, 'AlgorithmIdentifier'))[0]!)];
  const bits = expectTag(signature, 0x03, 'BIT STRING').content;
  if (!hash || bits[0] !== 0) throw new Error('unexpected CSR signature algorithm or BIT STRING');
  return verify(hash, info!.der, createPublicKey({ key: spki.der, format: 'der', type: 'spki' }), bits.subarray(1));
}

// --- CRLs ----------------------------------------------------------------------------------------------

export interface CrlEntry {
  readonly serial: string;
  /** The CRLReason code (1 keyCompromise, 4 superseded, …), when the entry has one. */
  readonly reason: number | undefined;
}

export class Crl {
  readonly der: Buffer;
  readonly signatureAlgorithm: string;
  readonly issuer: string;
  readonly entries: readonly CrlEntry[];

  constructor(der: Buffer) {
    this.der = der;
    const [tbs, algorithm] = children(parse(der));
    const fields = children(expectTag(tbs, 0x30, 'TBSCertList'));
    if (fields[0]?.tag === 0x02) fields.shift(); // version
    const [, issuer, , ...rest] = fields;
    this.signatureAlgorithm = oid(children(expectTag(algorithm, 0x30, 'AlgorithmIdentifier'))[0]!);
    this.issuer = nameText(issuer!);
    const list = rest.find((tlv) => tlv.tag === 0x30);
    this.entries = (list ? children(list) : []).map((entry) => {
      const [serial, , extensions] = children(entry);
      const reason = extensions ? decodeExtensions(extensions).find(([id]) => id === OIDS.crlReason)?.[1] : undefined;
      return { serial: integerHex(serial!), reason: reason ? expectTag(parse(reason.value), 0x0a, 'ENUMERATED').content.readUInt8(0) : undefined };
    });
  }

  static async load(path: string): Promise<Crl> {
    return new Crl(pemOrDer(await readFile(path), 'X509 CRL'));
  }
}

export const CRL_REASON = { keyCompromise: 1, superseded: 4 } as const;
