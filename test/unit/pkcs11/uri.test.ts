import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  formatPkcs11Uri,
  parsePkcs11Uri,
  privateKeyUri,
  uriAttribute,
  uriIdHex,
  uriText,
  withoutNulPadding,
} from '../../../src/pkcs11/uri.js';
import { ParseError } from '../../../src/errors.js';

function fixture(path: string): string {
  return readFileSync(new URL(`../../fixtures/tool-output/${path}`, import.meta.url), 'utf8');
}

/** Every `pkcs11:` URL in a fixture, whether on its own line or after `URL:`. */
function urlsIn(text: string): string[] {
  return [...text.matchAll(/pkcs11:\S+/g)].map((m) => m[0]);
}

const SOFTHSM_URLS = [
  ...urlsIn(fixture('p11tool/3.7.9/list-all-login.txt')),
  ...urlsIn(fixture('p11tool/3.7.9/list-privkeys-only-urls.txt')),
  ...urlsIn(fixture('p11tool/3.7.9/list-tokens.txt')),
];
const ARTICLE_URLS = urlsIn(fixture('p11tool/article-nitrokey/list-all-login.txt'));
const ARTICLE_ROOT_PRIVATE = ARTICLE_URLS[0]!;
const ROOT_ID = 'e0161cc8b6f5d66ac6835ecdecb623fc0506a675';

describe('fixtures', () => {
  it('contain the URLs the tests below rely on', () => {
    expect(SOFTHSM_URLS).toHaveLength(6 + 3 + 1);
    expect(ARTICLE_URLS).toHaveLength(4);
    expect(ARTICLE_ROOT_PRIVATE).toContain(';;');
    expect(ARTICLE_ROOT_PRIVATE).toContain('%00');
  });
});

describe('parsePkcs11Uri / formatPkcs11Uri', () => {
  it.each(SOFTHSM_URLS)('round-trips the SoftHSM p11tool URL %s exactly', (url) => {
    expect(formatPkcs11Uri(parsePkcs11Uri(url))).toBe(url);
  });

  it('keeps path attributes in order and decodes their bytes', () => {
    const uri = parsePkcs11Uri(SOFTHSM_URLS[1]!);
    expect(uri.path.map(([name]) => name)).toEqual(['model', 'manufacturer', 'serial', 'token', 'id', 'object', 'type']);
    expect(uriText(uri, 'model')).toBe('SoftHSM v2');
    expect(uriText(uri, 'token')).toBe('CA Token');
    expect(uriText(uri, 'object')).toBe('Root CA;2024/ä "q"');
    expect(uriText(uri, 'type')).toBe('private');
    expect(uriAttribute(uri, 'id')).toEqual(Buffer.from([0x03]));
    expect(uri.query).toEqual([]);
  });

  it('encodes a label with ; / ä and quotes so it parses back to the same label', () => {
    const label = 'Root CA;2024/ä "q"';
    const formatted = formatPkcs11Uri({ path: [['object', Buffer.from(label, 'utf8')]], query: [] });
    expect(formatted).toBe('pkcs11:object=Root%20CA%3B2024%2F%C3%A4%20%22q%22');
    expect(uriText(parsePkcs11Uri(formatted), 'object')).toBe(label);
  });

  it('percent-encodes every byte of id, even printable ones, with upper-case hex', () => {
    const formatted = formatPkcs11Uri({ path: [['id', Buffer.from('0a41ff', 'hex')], ['object', Buffer.from('A')]], query: [] });
    expect(formatted).toBe('pkcs11:id=%0A%41%FF;object=A');
  });

  it('parses and formats query attributes', () => {
    const uri = parsePkcs11Uri('pkcs11:token=CA%20Token?pin-source=file%3A%2Ftmp%2Fpin&module-name=softhsm2');
    expect(uri.query.map(([name, value]) => [name, value.toString('utf8')])).toEqual([
      ['pin-source', 'file:/tmp/pin'],
      ['module-name', 'softhsm2'],
    ]);
    expect(formatPkcs11Uri(uri)).toBe('pkcs11:token=CA%20Token?pin-source=file%3A%2Ftmp%2Fpin&module-name=softhsm2');
  });

  it('accepts surrounding whitespace and an upper-case scheme', () => {
    expect(uriText(parsePkcs11Uri('  PKCS11:token=CA%20Token\n'), 'token')).toBe('CA Token');
  });

  it('decodes raw (unencoded) UTF-8 characters, including ones outside the BMP', () => {
    expect(uriText(parsePkcs11Uri('pkcs11:object=Schlüssel'), 'object')).toBe('Schlüssel');
    expect(uriText(parsePkcs11Uri('pkcs11:object=🔑root'), 'object')).toBe('🔑root');
  });

  it("parses the article's Nitrokey URL despite the empty ;; attribute", () => {
    const uri = parsePkcs11Uri(ARTICLE_ROOT_PRIVATE);
    expect(uri.path.map(([name]) => name)).toEqual(['model', 'serial', 'token', 'id', 'object', 'type']);
    expect(uriText(uri, 'model')).toBe('PKCS#15 emulated');
    expect(uriText(uri, 'serial')).toBe('DENK0104068');
    expect(uriIdHex(uri)).toBe(ROOT_ID);
    expect(uriText(uri, 'object')).toBe('root');
    // Formatting drops only the empty attribute; the NUL padding is still there.
    expect(formatPkcs11Uri(uri)).toBe(ARTICLE_ROOT_PRIVATE.replace(';;', ';'));
  });

  it.each(ARTICLE_URLS)('parses every article URL and reformats it without the empty attribute: %s', (url) => {
    expect(formatPkcs11Uri(parsePkcs11Uri(url))).toBe(url.replace(';;', ';'));
  });

  it.each([
    ['bad percent-encoding', 'pkcs11:token=%ZZ', 'bad percent-encoding'],
    ['a truncated escape at the end', 'pkcs11:token=abc%4', 'bad percent-encoding'],
    ['a lone %', 'pkcs11:object=100%', 'bad percent-encoding'],
    ['a bad escape in the query', 'pkcs11:token=a?pin-value=%G1', 'bad percent-encoding'],
    ['no scheme', 'token=CA%20Token;id=%03', 'no pkcs11: scheme'],
    ['another scheme', 'https://example.org/', 'no pkcs11: scheme'],
    ['an empty string', '', 'no pkcs11: scheme'],
    ['an attribute without =', 'pkcs11:token', 'attribute "token" has no name=value'],
    ['an attribute with an empty name', 'pkcs11:=abc', 'attribute "=abc" has no name=value'],
  ])('throws ParseError on %s, saying so', (_what, text, message) => {
    expect(() => parsePkcs11Uri(text)).toThrow(ParseError);
    expect(() => parsePkcs11Uri(text)).toThrow(`a PKCS#11 URI (${message})`);
  });

  it('puts the offending URI into the ParseError message', () => {
    expect(() => parsePkcs11Uri('pkcs11:token=%ZZ')).toThrow(/pkcs11:token=%ZZ/);
  });
});

describe('uriText / uriAttribute / uriIdHex', () => {
  it('strips the NUL padding from the article token label', () => {
    const uri = parsePkcs11Uri(ARTICLE_ROOT_PRIVATE);
    expect(uriAttribute(uri, 'token')!.subarray(-9)).toEqual(Buffer.alloc(9));
    expect(uriText(uri, 'token')).toBe('SmartCard-HSM (UserPIN)');
  });

  it('strips trailing space padding but keeps inner spaces', () => {
    expect(uriText(parsePkcs11Uri('pkcs11:token=CA%20Token%20%20%20'), 'token')).toBe('CA Token');
  });

  it('returns undefined for a missing attribute and does not look into the query', () => {
    const uri = parsePkcs11Uri('pkcs11:token=T?object=q');
    expect(uriText(uri, 'object')).toBeUndefined();
    expect(uriAttribute(uri, 'object')).toBeUndefined();
    expect(uriIdHex(uri)).toBeUndefined();
  });

  it('gives the id as lower-case hex like pkcs11-tool prints it', () => {
    expect(uriIdHex(parsePkcs11Uri(SOFTHSM_URLS[2]!))).toBe(ROOT_ID);
    expect(uriIdHex(parsePkcs11Uri(SOFTHSM_URLS[0]!))).toBe('03');
    expect(uriIdHex(parsePkcs11Uri('pkcs11:id=%AB%00%00'))).toBe('ab0000');
  });
});

describe('withoutNulPadding', () => {
  it('removes %00 from the formatted article URL but keeps the id', () => {
    const formatted = formatPkcs11Uri(withoutNulPadding(parsePkcs11Uri(ARTICLE_ROOT_PRIVATE)));
    expect(formatted).not.toContain('%00');
    expect(formatted).toBe(
      'pkcs11:model=PKCS%2315%20emulated;serial=DENK0104068;token=SmartCard-HSM%20%28UserPIN%29;' +
        'id=%E0%16%1C%C8%B6%F5%D6%6A%C6%83%5E%CD%EC%B6%23%FC%05%06%A6%75;object=root;type=private',
    );
  });

  it('keeps id bytes intact even when the id ends with 00 bytes', () => {
    const uri = withoutNulPadding(parsePkcs11Uri('pkcs11:token=T%00%00;id=%01%00%00;object=k%00'));
    expect(uriIdHex(uri)).toBe('010000');
    expect(uriAttribute(uri, 'token')).toEqual(Buffer.from('T'));
    expect(uriAttribute(uri, 'object')).toEqual(Buffer.from('k'));
    expect(formatPkcs11Uri(uri)).toBe('pkcs11:token=T;id=%01%00%00;object=k');
  });

  it('keeps an all-zero id and inner NUL bytes of other values', () => {
    const uri = withoutNulPadding(parsePkcs11Uri('pkcs11:id=%00;object=a%00b%00'));
    expect(uriIdHex(uri)).toBe('00');
    expect(uriAttribute(uri, 'object')).toEqual(Buffer.from([0x61, 0x00, 0x62]));
  });

  it('does not modify the URI it was given', () => {
    const uri = parsePkcs11Uri(ARTICLE_ROOT_PRIVATE);
    withoutNulPadding(uri);
    expect(formatPkcs11Uri(uri)).toContain('%00');
  });
});

describe('privateKeyUri', () => {
  it('names the key by token attributes, id=, object= and type=private', () => {
    const token = parsePkcs11Uri(SOFTHSM_URLS[SOFTHSM_URLS.length - 1]!); // list-tokens URL
    const uri = privateKeyUri(token, ROOT_ID, 'root');
    expect(formatPkcs11Uri(uri)).toBe(
      'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=bdbaa403ac117fc8;token=CA%20Token;' +
        'id=%E0%16%1C%C8%B6%F5%D6%6A%C6%83%5E%CD%EC%B6%23%FC%05%06%A6%75;object=root;type=private',
    );
    // This is exactly what p11tool prints for the same private key.
    expect(formatPkcs11Uri(uri)).toBe(SOFTHSM_URLS[4]);
  });

  it('drops a previous id, object and type instead of repeating them', () => {
    const pub = parsePkcs11Uri(SOFTHSM_URLS[0]!); // Root CA public key, id 03
    const uri = privateKeyUri(pub, 'bcb48fe9b566ae61891aabbfde6a23d4ff3ab639', 'intermediate');
    const names = uri.path.map(([name]) => name);
    expect(names.filter((n) => n === 'id')).toHaveLength(1);
    expect(names.filter((n) => n === 'object')).toHaveLength(1);
    expect(names.filter((n) => n === 'type')).toHaveLength(1);
    expect(uriIdHex(uri)).toBe('bcb48fe9b566ae61891aabbfde6a23d4ff3ab639');
    expect(uriText(uri, 'object')).toBe('intermediate');
    expect(uriText(uri, 'type')).toBe('private');
    expect(uriText(uri, 'token')).toBe('CA Token');
    expect(uri.query).toEqual([]);
  });

  it.each(['030', '0g', 'zz03', '03zz', ''])('refuses the key id %j, which is not whole hex bytes', (idHex) => {
    expect(() => privateKeyUri(parsePkcs11Uri('pkcs11:token=T'), idHex, 'root')).toThrow('could not parse a key id (expected hex bytes)');
  });

  it('round-trips a label that needs escaping', () => {
    const label = 'Root CA;2024/ä "q"';
    const uri = privateKeyUri(parsePkcs11Uri('pkcs11:token=CA%20Token'), '03', label);
    const reparsed = parsePkcs11Uri(formatPkcs11Uri(uri));
    expect(uriText(reparsed, 'object')).toBe(label);
    expect(uriIdHex(reparsed)).toBe('03');
    expect(formatPkcs11Uri(uri)).toBe(SOFTHSM_URLS[1]!.replace(/^pkcs11:.*?token=/, 'pkcs11:token='));
  });

  it('builds a usable URI from the NUL-stripped article token', () => {
    const token = withoutNulPadding(parsePkcs11Uri(ARTICLE_URLS[2]!));
    const formatted = formatPkcs11Uri(privateKeyUri(token, ROOT_ID, 'root'));
    expect(formatted).not.toContain('%00');
    expect(formatted).toContain(';token=SmartCard-HSM%20%28UserPIN%29;');
    expect(formatted.endsWith(';object=root;type=private')).toBe(true);
    expect(uriIdHex(parsePkcs11Uri(formatted))).toBe(ROOT_ID);
  });
});
