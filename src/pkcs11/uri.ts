import { ParseError } from '../errors.js';

/**
 * An RFC 7512 PKCS#11 URI: ordered path attributes (`token`, `id`, `object`, `type`…) and query
 * attributes, each value kept as the raw bytes it percent-encodes, because `id` is binary and labels
 * may be NUL-padded by a token (the article's Nitrokey prints `token=SmartCard-HSM%20%28UserPIN%29%00…`).
 */
export interface Pkcs11Uri {
  readonly path: ReadonlyArray<readonly [string, Buffer]>;
  readonly query: ReadonlyArray<readonly [string, Buffer]>;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

function percentDecode(value: string, whole: string): Buffer {
  if (/%(?![0-9A-Fa-f]{2})/.test(value)) throw new ParseError('a PKCS#11 URI (bad percent-encoding)', whole);
  const bytes: number[] = [];
  for (let i = 0; i < value.length; ) {
    if (value[i] === '%') {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const char = String.fromCodePoint(value.codePointAt(i)!);
      bytes.push(...Buffer.from(char, 'utf8'));
      i += char.length;
    }
  }
  return Buffer.from(bytes);
}

function parseAttributes(part: string, separator: string, whole: string): Array<[string, Buffer]> {
  return part
    .split(separator)
    .filter((attribute) => attribute.length > 0) // the article's Nitrokey URI has an empty `;;` attribute
    .map((attribute) => {
      const eq = attribute.indexOf('=');
      if (eq <= 0) throw new ParseError(`a PKCS#11 URI (attribute "${attribute}" has no name=value)`, whole);
      return [attribute.slice(0, eq), percentDecode(attribute.slice(eq + 1), whole)];
    });
}

/** Parses `pkcs11:…` text; throws ParseError on anything that is not an RFC 7512 URI. */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  const trimmed = text.trim();
  if (!trimmed.toLowerCase().startsWith('pkcs11:')) throw new ParseError('a PKCS#11 URI (no pkcs11: scheme)', text);
  const body = trimmed.slice('pkcs11:'.length);
  const q = body.indexOf('?');
  const pathPart = q === -1 ? body : body.slice(0, q);
  const queryPart = q === -1 ? '' : body.slice(q + 1);
  return { path: parseAttributes(pathPart, ';', text), query: parseAttributes(queryPart, '&', text) };
}

function percentEncode(value: Buffer, everyByte: boolean): string {
  return [...value]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return !everyByte && UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** Formats a URI the way p11tool does: `id` fully percent-encoded, other values encoded where needed. */
export function formatPkcs11Uri(uri: Pkcs11Uri): string {
  const path = uri.path.map(([name, value]) => `${name}=${percentEncode(value, name === 'id')}`).join(';');
  const query = uri.query.map(([name, value]) => `${name}=${percentEncode(value, false)}`).join('&');
  return `pkcs11:${path}${query ? `?${query}` : ''}`;
}

/** The raw bytes of a path attribute, or undefined. */
export function uriAttribute(uri: Pkcs11Uri, name: string): Buffer | undefined {
  return uri.path.find(([n]) => n === name)?.[1];
}

/** A text attribute (token, object, …) decoded as UTF-8 with trailing NUL or space padding removed. */
export function uriText(uri: Pkcs11Uri, name: string): string | undefined {
  return uriAttribute(uri, name)?.toString('utf8').replace(/[\0 ]+$/, '');
}

/** The `id` attribute as lower-case hex, as pkcs11-tool prints it. */
export function uriIdHex(uri: Pkcs11Uri): string | undefined {
  return uriAttribute(uri, 'id')?.toString('hex');
}

/**
 * Drops trailing NUL padding from every value. p11tool finds no token for a NUL-padded label against
 * a space-padded token, and pkcs11-provider rejects `%00` outright, so padded URIs are normalised before reuse.
 */
export function withoutNulPadding(uri: Pkcs11Uri): Pkcs11Uri {
  const strip = (value: Buffer): Buffer => {
    let end = value.length;
    while (value[end - 1] === 0) end -= 1;
    return value.subarray(0, end);
  };
  return {
    path: uri.path.map(([name, value]) => [name, name === 'id' ? value : strip(value)] as const),
    query: uri.query,
  };
}

/** A private-key URI naming the key by both `id=` and `object=`: libp11 picks either of two keys sharing an id. */
export function privateKeyUri(tokenUri: Pkcs11Uri, idHex: string, label: string): Pkcs11Uri {
  if (!/^(?:[0-9a-f]{2})+$/i.test(idHex)) throw new ParseError('a key id (expected hex bytes)', idHex);
  const tokenAttributes = tokenUri.path.filter(([name]) => !['id', 'object', 'type'].includes(name));
  return {
    path: [
      ...tokenAttributes,
      ['id', Buffer.from(idHex, 'hex')],
      ['object', Buffer.from(label, 'utf8')],
      ['type', Buffer.from('private')],
    ],
    query: [],
  };
}
