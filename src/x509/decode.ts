import type forge from 'node-forge';
import { nodeForge } from './forge.js';
import { CaError, printable } from '../errors.js';

/**
 * Certificate and CSR decoding on `forge.asn1`: node-forge's `pki` layer rejects EC keys
 * ("OID is not RSA"), so only its ASN.1 and extension decoders are used. Signed bytes are cut out of
 * the original DER (never re-encoded), so signatures are checked over exactly what was signed.
 */

export interface NameAttribute {
  readonly oid: string;
  readonly shortName: string;
  readonly value: string;
}

/** A decoded extension as node-forge describes it (`name`, `critical`, and per-type fields). */
export type Extension = { id: string; name?: string; critical?: boolean; [field: string]: unknown };

export interface DecodedCertificate {
  readonly der: Buffer;
  readonly tbsDer: Buffer;
  readonly signatureAlgorithmOid: string;
  readonly signature: Buffer;
  readonly serialHex: string;
  readonly issuerDer: Buffer;
  readonly subjectDer: Buffer;
  readonly issuer: readonly NameAttribute[];
  readonly subject: readonly NameAttribute[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spkiDer: Buffer;
  readonly extensions: readonly Extension[];
}

export interface DecodedCsr {
  readonly der: Buffer;
  readonly infoDer: Buffer;
  readonly signatureAlgorithmOid: string;
  readonly signature: Buffer;
  readonly subject: readonly NameAttribute[];
  readonly spkiDer: Buffer;
  readonly requestedExtensions: readonly Extension[];
}

export class DecodeError extends CaError {}

interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

function readTlv(der: Buffer, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new DecodeError('truncated DER');
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DecodeError('unsupported multi-byte DER tag');
  let length = der[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || contentStart + count > limit) throw new DecodeError('bad DER length');
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + der[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) throw new DecodeError('DER length runs past the end of the data');
  return { tag, start: offset, contentStart, end };
}

/** The children of a constructed TLV, exactly as they sit in the buffer. */
function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readTlv(der, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

const slice = (der: Buffer, tlv: Tlv): Buffer => der.subarray(tlv.start, tlv.end);

/** An OBJECT IDENTIFIER's content bytes as dotted decimal, without node-forge (hot in `check`). */
function decodeOid(bytes: Buffer): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  if (arcs.length === 0 || (bytes.at(-1)! & 0x80) !== 0) throw new DecodeError('bad OBJECT IDENTIFIER');
  const first = arcs[0]!;
  // Stryker disable next-line EqualityOperator: at first = 80 both branches give 2.0 (80 = 2 × 40 + 0)
  return [first < 80 ? Math.floor(first / 40) : 2, first < 80 ? first % 40 : first - 80, ...arcs.slice(1)].join('.');
}

/** One attribute of a Name as it sits in the DER: its OID, the string type's tag and the value's bytes. */
export interface RawNameAttribute {
  readonly oid: string;
  readonly tag: number;
  readonly value: Buffer;
}

/** A DER Name as its RDNs, each the list of its attributes (more than one for a multi-valued RDN). */
export function rawName(nameDer: Buffer): RawNameAttribute[][] {
  const name = readTlv(nameDer, 0, nameDer.length);
  if (name.tag !== 0x30 || name.end !== nameDer.length) throw new DecodeError('a name is not a single DER SEQUENCE');
  return children(nameDer, name).map((rdn) =>
    children(nameDer, rdn).map((pair) => {
      // Children are positional: with a value there is a type before it.
      const [type, value] = children(nameDer, pair);
      if (!value || type!.tag !== 0x06) throw new DecodeError('a name attribute lacks its type or value');
      return { oid: decodeOid(nameDer.subarray(type!.contentStart, type!.end)), tag: value.tag, value: nameDer.subarray(value.contentStart, value.end) };
    }),
  );
}

function toAsn1(bytes: Buffer): forge.asn1.Asn1 {
  const options = { strict: true, parseAllBytes: true } as unknown as boolean; // the typings predate the options object
  return nodeForge().asn1.fromDer(nodeForge().util.createBuffer(bytes.toString('binary')), options);
}

function oidOf(bytes: Buffer): string {
  return nodeForge().asn1.derToOid(nodeForge().util.createBuffer(toAsn1(bytes).value as string));
}

/** The outer SEQUENCE { signed, algorithm, signature } shared by certificates and CSRs. */
function splitSigned(der: Buffer, what: string): { signed: Tlv; algorithmOid: Tlv; signature: Buffer } {
  const outer = readTlv(der, 0, der.length);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new DecodeError(`${what} is not a single DER SEQUENCE`);
  // Children are positional: with a signature there are the signed part and the algorithm before it.
  const [signed, algorithm, signatureBits] = children(der, outer);
  if (!signatureBits || signatureBits.tag !== 0x03) throw new DecodeError(`${what} lacks its signature`);
  const [algorithmOid] = children(der, algorithm!);
  if (!algorithmOid || algorithmOid.tag !== 0x06) throw new DecodeError(`${what} has no signature algorithm`);
  // BIT STRING: first content byte counts unused bits, always 0 for signatures.
  const signature = der.subarray(signatureBits.contentStart + 1, signatureBits.end);
  return { signed: signed!, algorithmOid, signature };
}

const STRING_TYPES = new Set([12, 19, 20, 22, 26, 28, 30]);

function decodeString(node: forge.asn1.Asn1): string {
  const raw = Buffer.from(node.value as string, 'binary');
  const type = node.type as number;
  if (type === 30) return raw.swap16().toString('utf16le'); // BMPString is UTF-16BE
  if (type === 28) throw new DecodeError('UniversalString names are not supported');
  const text = raw.toString('utf8');
  if (Buffer.from(text, 'utf8').compare(raw) !== 0) throw new DecodeError('a name contains bytes that are not valid UTF-8');
  return text;
}

/** The attributes of a DER Name, in order. */
export function decodeName(bytes: Buffer): NameAttribute[] {
  const attributes: NameAttribute[] = [];
  for (const rdn of toAsn1(bytes).value as forge.asn1.Asn1[]) {
    for (const pair of rdn.value as forge.asn1.Asn1[]) {
      const [oidNode, valueNode] = pair.value as forge.asn1.Asn1[];
      if (!valueNode || !STRING_TYPES.has(valueNode.type)) throw new DecodeError('a name attribute is not a string');
      const oid = nodeForge().asn1.derToOid(nodeForge().util.createBuffer(oidNode!.value as string));
      const shortName = (nodeForge().pki.oids[oid] && SHORT_NAMES[nodeForge().pki.oids[oid] as string]) ?? oid;
      attributes.push({ oid, shortName, value: decodeString(valueNode) });
    }
  }
  return attributes;
}

const SHORT_NAMES: Record<string, string> = {
  commonName: 'CN',
  countryName: 'C',
  stateOrProvinceName: 'ST',
  localityName: 'L',
  organizationName: 'O',
  organizationalUnitName: 'OU',
  emailAddress: 'emailAddress',
  serialNumber: 'serialNumber',
};

/** YYMMDDHHMMSSZ (UTCTime, years 1950–2049) or YYYYMMDDHHMMSSZ (GeneralizedTime), as X.509 and index.txt write them. */
export function parseAsn1Time(text: string): Date | undefined {
  const match = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) return undefined;
  const year = match[1]!.length === 4 ? Number(match[1]) : (Number(match[1]) >= 50 ? 1900 : 2000) + Number(match[1]);
  return new Date(Date.UTC(year, Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])));
}

/** Whole days from now until `date` (negative once it has passed). */
export function daysUntil(date: Date): number {
  return Math.floor((date.getTime() - Date.now()) / 86_400_000);
}

function decodeTime(der: Buffer, tlv: Tlv): Date {
  const text = der.subarray(tlv.contentStart, tlv.end).toString('latin1');
  const date = text.length === (tlv.tag === 0x17 ? 13 : 15) ? parseAsn1Time(text) : undefined;
  if (!date) throw new DecodeError(`bad validity time "${text}"`);
  return date;
}

function decodeExtensions(sequenceOfExtensions: Buffer): Extension[] {
  const wrapper = { value: [toAsn1(sequenceOfExtensions)] };
  try {
    return (nodeForge().pki as unknown as { certificateExtensionsFromAsn1(node: unknown): Extension[] }).certificateExtensionsFromAsn1(wrapper);
  } catch (error) {
    throw new DecodeError(`unreadable extensions (${(error as Error).message})`);
  }
}

/** A certificate's fields located in its DER, nothing decoded yet. */
function certificateFrame(der: Buffer) {
  const { signed, algorithmOid, signature } = splitSigned(der, 'the certificate');
  const fields = children(der, signed);
  const hasVersion = fields[0]?.tag === 0xa0;
  // Positional: with a key there are serial, issuer, validity and subject before it.
  const [serial, , issuer, validity, subject, spki, ...rest] = hasVersion ? fields.slice(1) : fields;
  if (!spki) throw new DecodeError('the certificate is missing fields');
  const [notBefore, notAfter] = children(der, validity!);
  if (!notBefore || !notAfter) throw new DecodeError('the certificate has no validity');
  return { signed, algorithmOid, signature, serial: serial!, issuer: issuer!, subject: subject!, notBefore, notAfter, spki, rest };
}

/** What `check` compares with index.txt for each issued certificate. */
export interface CertificateEssentials {
  readonly serialHex: string;
  readonly issuerDer: Buffer;
  readonly subjectDer: Buffer;
  readonly notAfter: Date;
}

/**
 * Serial, issuer, subject and expiry without decoding names or extensions: `check` compares them for every
 * certificate a CA issued, and at 100,000 certificates the full decode would be most of its time.
 */
export function decodeCertificateEssentials(der: Buffer): CertificateEssentials {
  try {
    const frame = certificateFrame(der);
    return { serialHex: serialOf(der, frame.serial), issuerDer: slice(der, frame.issuer), subjectDer: slice(der, frame.subject), notAfter: decodeTime(der, frame.notAfter) };
  } catch (error) {
    throw asDecodeError(error, 'certificate');
  }
}

/** Decodes a DER X.509 certificate. Throws DecodeError with what is wrong. */
export function decodeCertificate(der: Buffer): DecodedCertificate {
  try {
    const frame = certificateFrame(der);
    const extensionsWrapper = frame.rest.find((tlv) => tlv.tag === 0xa3);
    const extensionsSequence = extensionsWrapper ? children(der, extensionsWrapper)[0] : undefined;
    return {
      der,
      tbsDer: slice(der, frame.signed),
      signatureAlgorithmOid: oidOf(slice(der, frame.algorithmOid)),
      signature: frame.signature,
      serialHex: serialOf(der, frame.serial),
      issuerDer: slice(der, frame.issuer),
      subjectDer: slice(der, frame.subject),
      issuer: decodeName(slice(der, frame.issuer)),
      subject: decodeName(slice(der, frame.subject)),
      notBefore: decodeTime(der, frame.notBefore),
      notAfter: decodeTime(der, frame.notAfter),
      spkiDer: slice(der, frame.spki),
      extensions: extensionsSequence ? decodeExtensions(slice(der, extensionsSequence)) : [],
    };
  } catch (error) {
    throw asDecodeError(error, 'certificate');
  }
}

const EXTENSION_REQUEST_OID = '1.2.840.113549.1.9.14';

/** Decodes a DER PKCS#10 certificate signing request. Throws DecodeError with what is wrong. */
export function decodeCsr(der: Buffer): DecodedCsr {
  try {
    const { signed, algorithmOid, signature } = splitSigned(der, 'the CSR');
    // Positional: with a key there are version and subject before it.
    const [, subject, spki, attributes] = children(der, signed);
    if (!spki) throw new DecodeError('the CSR is missing fields');
    const requestedExtensions: Extension[] = [];
    for (const attribute of attributes ? children(der, attributes) : []) {
      const [type, values] = children(der, attribute);
      if (!values || oidOf(slice(der, type!)) !== EXTENSION_REQUEST_OID) continue;
      for (const value of children(der, values)) requestedExtensions.push(...decodeExtensions(slice(der, value)));
    }
    return {
      der,
      infoDer: slice(der, signed),
      signatureAlgorithmOid: oidOf(slice(der, algorithmOid)),
      signature,
      subject: decodeName(slice(der, subject)),
      spkiDer: slice(der, spki),
      requestedExtensions,
    };
  } catch (error) {
    throw asDecodeError(error, 'CSR');
  }
}

function asDecodeError(error: unknown, what: string): DecodeError {
  if (error instanceof DecodeError) return new DecodeError(`malformed ${what}: ${error.message}`);
  return new DecodeError(`malformed ${what}: ${(error as Error).message ?? String(error)}`);
}

/** Extracts the single PEM block of the given label; refuses anything else. */
export function pemToDer(text: string, label: 'CERTIFICATE' | 'CERTIFICATE REQUEST' | 'PUBLIC KEY' | 'X509 CRL', source: string): Buffer {
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g)];
  if (blocks.length === 0) throw new DecodeError(`${source} holds no PEM block; expected one "${label}"`);
  if (blocks.length > 1) throw new DecodeError(`${source} holds ${blocks.length} PEM blocks; expected exactly one "${label}"`);
  const [, found, body] = blocks[0]!;
  const accepted = label === 'CERTIFICATE REQUEST' ? ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'] : [label];
  if (!accepted.includes(found!)) throw new DecodeError(`${source} holds a "${found}" PEM block; expected "${label}"`);
  // Stryker disable next-line Regex: removing white space one character at a time removes the same
  const der = Buffer.from(body!.replace(/\s+/g, ''), 'base64');
  if (der.length === 0) throw new DecodeError(`${source}'s PEM block is empty`);
  return der;
}

/** "C=US, O=My Co, CN=Root" for messages. */
export function formatName(name: ReadonlyArray<Pick<NameAttribute, 'shortName' | 'value'>>): string {
  return printable(name.map((a) => `${a.shortName}=${a.value}`).join(', '));
}

export interface RevokedEntry {
  readonly serialHex: string;
  readonly revokedAt: Date;
  /** CRLReason code (1 keyCompromise, 4 superseded, …), when the entry carries one. */
  readonly reasonCode: number | undefined;
}

export interface DecodedCrl {
  readonly der: Buffer;
  readonly tbsDer: Buffer;
  readonly signatureAlgorithmOid: string;
  readonly signature: Buffer;
  readonly issuerDer: Buffer;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly crlNumber: bigint | undefined;
  readonly authorityKeyId: string | undefined;
  readonly revoked: readonly RevokedEntry[];
}

const OID_CRL_NUMBER = '2.5.29.20';
const OID_CRL_REASON = '2.5.29.21';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';

function serialOf(der: Buffer, tlv: Tlv): string {
  return der.subarray(tlv.contentStart, tlv.end).toString('hex').replace(/^00(?=[0-9a-f])/, '').toUpperCase();
}

/** Each extension of a SEQUENCE OF Extension as [oid, the OCTET STRING's content]. */
function rawExtensions(der: Buffer, sequence: Tlv): Array<[string, Buffer]> {
  return children(der, sequence).map((extension) => {
    const parts = children(der, extension);
    const value = parts.at(-1)!;
    return [oidOf(slice(der, parts[0]!)), der.subarray(value.contentStart, value.end)];
  });
}

/** Decodes a DER X.509 CRL (RFC 5280 5.1). Throws DecodeError with what is wrong. */
export function decodeCrl(der: Buffer): DecodedCrl {
  try {
    const { signed, algorithmOid, signature } = splitSigned(der, 'the CRL');
    const fields = children(der, signed);
    let i = fields[0]?.tag === 0x02 ? 1 : 0;
    const issuer = fields[i + 1];
    const thisUpdate = fields[i + 2];
    if (!issuer || !thisUpdate) throw new DecodeError('the CRL is missing fields');
    i += 3;
    const nextUpdate = fields[i] && (fields[i]!.tag === 0x17 || fields[i]!.tag === 0x18) ? fields[i++] : undefined;
    const revokedList = fields[i]?.tag === 0x30 ? fields[i++] : undefined;
    const extensionsWrapper = fields[i]?.tag === 0xa0 ? fields[i] : undefined;
    const extensions = extensionsWrapper ? rawExtensions(der, children(der, extensionsWrapper)[0]!) : [];
    const number = extensions.find(([oid]) => oid === OID_CRL_NUMBER)?.[1];
    const aki = extensions.find(([oid]) => oid === OID_AUTHORITY_KEY_ID)?.[1];
    const akiKeyId = aki ? children(aki, readTlv(aki, 0, aki.length)).find((tlv) => tlv.tag === 0x80) : undefined;
    return {
      der,
      tbsDer: slice(der, signed),
      signatureAlgorithmOid: oidOf(slice(der, algorithmOid)),
      signature,
      issuerDer: slice(der, issuer),
      thisUpdate: decodeTime(der, thisUpdate),
      nextUpdate: nextUpdate ? decodeTime(der, nextUpdate) : undefined,
      crlNumber: number ? BigInt(`0x${number.subarray(readTlv(number, 0, number.length).contentStart).toString('hex') || '0'}`) : undefined,
      authorityKeyId: aki && akiKeyId ? aki.subarray(akiKeyId.contentStart, akiKeyId.end).toString('hex') : undefined,
      revoked: (revokedList ? children(der, revokedList) : []).map((entry) => {
        const [serial, date, entryExtensions] = children(der, entry);
        if (!serial || !date) throw new DecodeError('a revoked entry is missing fields');
        const reason = entryExtensions ? rawExtensions(der, entryExtensions).find(([oid]) => oid === OID_CRL_REASON)?.[1] : undefined;
        return { serialHex: serialOf(der, serial), revokedAt: decodeTime(der, date), reasonCode: reason ? reason[reason.length - 1] : undefined };
      }),
    };
  } catch (error) {
    throw asDecodeError(error, 'CRL');
  }
}
