import { rawName, type RawNameAttribute } from '../../x509/decode.js';

/**
 * OpenSSL's short names for the attributes `openssl ca` writes into index.txt (OBJ_nid2sn). An attribute
 * outside this table matches any name, so an OID OpenSSL knows and we do not is no false alarm.
 */
const OPENSSL_SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
};

/** The universal tag of UTF8String. */
const UTF8_STRING = 0x0c;
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const hexEscape = (bytes: Uint8Array): string => [...bytes].map((b) => `\\\\x${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** One byte or character of a value, as the pattern for its rendering(s) in index.txt. */
function valueCharPattern(char: string, bytes: Uint8Array, utf8: boolean): string {
  const code = bytes[0]!;
  // A character of more than one UTF-8 byte starts with a byte above 0xC1, so this is printable ASCII only.
  if (code >= 0x20 && code <= 0x7e) {
    return char === '/' || char === '+' ? `\\\\?${escapeRegExp(char)}` : escapeRegExp(char);
  }
  // Control characters, DEL and bytes above '~' are written as \xHH; newer releases in a UTF-8 locale keep UTF-8 as is.
  return utf8 && code > 0x7f ? `(?:${hexEscape(bytes)}|${escapeRegExp(char)})` : hexEscape(bytes);
}

/**
 * Whether index.txt's subject field is this certificate's subject. Compared exactly, not loosely: the
 * certificate's subject is rendered the way `openssl ca` writes it (X509_NAME_oneline — "/C=US/O=X/CN=Y", each
 * attribute in DER order, '/' and '+' in a value escaped as "\/" and "\+", bytes outside printable ASCII as
 * "\xHH", verified against openssl 3.0), and the renderings other OpenSSL releases produce are accepted too:
 * unescaped '/' and '+' (1.1.1), '+' between the members of a multi-valued RDN and raw UTF-8 in UTF8String
 * values (newer releases). Attributes outside OPENSSL_SHORT_NAMES match any attribute name.
 */
export function subjectMatchesIndex(subjectDer: Buffer, indexSubject: string): boolean {
  let name: RawNameAttribute[][];
  try {
    name = rawName(subjectDer);
  } catch {
    return false;
  }
  // Stryker disable next-line ConditionalExpression: a shortcut only — the pattern accepts every plain rendering (index-subject.test.ts)
  if (plainRendering(name) === indexSubject) return true;
  return subjectPattern(name).test(indexSubject);
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * openssl ca 3.0's rendering of the usual subject — single-valued RDNs of attributes in OPENSSL_SHORT_NAMES,
 * printable ASCII values — compared as a string first: `check` compares every certificate a CA issued, and
 * building the pattern for each is most of that time at 100,000. Undefined for any other subject.
 */
export function plainRendering(name: RawNameAttribute[][]): string | undefined {
  let text = '';
  for (const rdn of name) {
    const shortName = rdn.length === 1 ? OPENSSL_SHORT_NAMES[rdn[0]!.oid] : undefined;
    if (!shortName) return undefined;
    const value = rdn[0]!.value.toString('latin1');
    if (!PRINTABLE_ASCII.test(value)) return undefined;
    text += `/${shortName}=${value.replace(/[/+]/g, '\\$&')}`;
  }
  return text;
}

/** Every rendering of the subject some OpenSSL release writes into index.txt, as one pattern. */
export function subjectPattern(name: RawNameAttribute[][]): RegExp {
  let pattern = '';
  for (const rdn of name) {
    rdn.forEach(({ oid, tag, value }, member) => {
      const utf8 = tag === UTF8_STRING && Buffer.from(value.toString('utf8'), 'utf8').equals(value);
      const shortName = OPENSSL_SHORT_NAMES[oid];
      pattern += member === 0 ? '/' : '[/+]';
      pattern += shortName ? escapeRegExp(shortName) : '[A-Za-z0-9.-]+';
      pattern += '=';
      if (utf8) for (const char of value.toString('utf8')) pattern += valueCharPattern(char, Buffer.from(char, 'utf8'), true);
      else for (const byte of value) pattern += valueCharPattern(String.fromCharCode(byte), Uint8Array.of(byte), false);
    });
  }
  return new RegExp(`^${pattern}$`);
}
