import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseObjects, parseTokens, parseUrls } from '../../../../src/tools/parse/p11tool.js';
import { ParseError } from '../../../../src/errors.js';
import { formatPkcs11Uri, parsePkcs11Uri, uriIdHex, uriText } from '../../../../src/pkcs11/uri.js';

function fixture(path: string): string {
  return readFileSync(new URL(`../../../fixtures/tool-output/p11tool/${path}`, import.meta.url), 'utf8');
}

const ROOT_ID = 'e0161cc8b6f5d66ac6835ecdecb623fc0506a675';
const INTERMEDIATE_ID = 'bcb48fe9b566ae61891aabbfde6a23d4ff3ab639';
const SOFTHSM_TOKEN = 'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=bdbaa403ac117fc8;token=CA%20Token';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parseTokens', () => {
  it('parses the SoftHSM token list', () => {
    expect(parseTokens(fixture('3.7.9/list-tokens.txt'))).toEqual([
      { url: SOFTHSM_TOKEN, label: 'CA Token', serial: 'bdbaa403ac117fc8', flags: ['RNG', 'Requires login'] },
    ]);
  });

  it('parses several tokens and a token without flags or serial', () => {
    const text = `${fixture('3.7.9/list-tokens.txt')}Token 1:\n\tURL: pkcs11:token=Other\n\tLabel: Other\n\n`;
    const tokens = parseTokens(text);
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).toEqual({ url: 'pkcs11:token=Other', label: 'Other', serial: undefined, flags: [] });
  });

  it('returns [] for empty output', () => {
    expect(parseTokens('')).toEqual([]);
  });

  it('throws ParseError when a token has no URL', () => {
    const error = thrown(() => parseTokens('Token 0:\n\tLabel: X\n'));
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toContain('URL');
  });

  it('throws ParseError containing an unexpected line', () => {
    const error = thrown(() => parseTokens(`Warning: could not load module\n${fixture('3.7.9/list-tokens.txt')}`));
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toContain('p11tool --list-tokens output (unexpected line "Warning: could not load module")');
  });

  it('reads a tenth token, an empty field and whitespace-only lines between tokens', () => {
    const tokens = parseTokens('Token 10:\n\tURL: pkcs11:token=A\n\tLabel: A\n\tSerial:\n   \nToken 11:\n\tURL: pkcs11:token=B\n\tLabel: B\n');
    expect(tokens.map((t) => [t.label, t.serial])).toEqual([['A', ''], ['B', undefined]]);
  });

  it.each([
    ['a heading with more after it', 'Token 1: (slot 2)\n\tURL: pkcs11:token=A\n\tLabel: A\n'],
    ['a prefixed heading', 'xToken 1:\n\tURL: pkcs11:token=A\n\tLabel: A\n'],
    ['an unindented field', 'Token 1:\nURL: pkcs11:token=A\n\tLabel: A\n'],
    ['an unindented line with a field-like tail', 'Token 1:\n\tURL: pkcs11:token=A\n\tLabel: A\nnote: see: x\n'],
  ])('refuses %s as an unexpected line', (_what, text) => {
    expect(() => parseTokens(text)).toThrow(/unexpected line/);
  });
});

describe('parseObjects', () => {
  it('parses the SoftHSM object list', () => {
    const objects = parseObjects(fixture('3.7.9/list-all-login.txt'));
    expect(objects.map((o) => [o.type, o.label, o.idHex])).toEqual([
      ['Public key (RSA-4096)', 'Root CA;2024/ä "q"', '03'],
      ['Private key (RSA-4096)', 'Root CA;2024/ä "q"', '03'],
      ['Public key (EC/ECDSA-SECP384R1)', 'root', ROOT_ID],
      ['Public key (EC/ECDSA-SECP256R1)', 'p256', '02'],
      ['Private key (EC/ECDSA-SECP384R1)', 'root', ROOT_ID],
      ['Private key (EC/ECDSA-SECP256R1)', 'p256', '02'],
    ]);
    expect(objects[4]!.url).toBe(
      `${SOFTHSM_TOKEN};id=%E0%16%1C%C8%B6%F5%D6%6A%C6%83%5E%CD%EC%B6%23%FC%05%06%A6%75;object=root;type=private`,
    );
  });

  it('gives every object an idHex equal to the id in its URL', () => {
    for (const file of ['3.7.9/list-all-login.txt', 'article-nitrokey/list-all-login.txt']) {
      for (const object of parseObjects(fixture(file))) {
        expect(uriIdHex(parsePkcs11Uri(object.url))).toBe(object.idHex);
      }
    }
  });

  it("parses the article's Nitrokey list (space-indented) with idHex without colons", () => {
    const objects = parseObjects(fixture('article-nitrokey/list-all-login.txt'));
    expect(objects.map((o) => [o.type, o.label, o.idHex])).toEqual([
      ['Private key (EC/ECDSA-SECP384R1)', 'root', ROOT_ID],
      ['Public key (EC/ECDSA-SECP384R1)', 'root', ROOT_ID],
      ['Private key (EC/ECDSA-SECP384R1)', 'intermediate', INTERMEDIATE_ID],
      ['Public key (EC/ECDSA-SECP384R1)', 'intermediate', INTERMEDIATE_ID],
    ]);
    // The URL is kept verbatim, padding and empty attribute included.
    expect(objects[0]!.url).toContain(';;serial=DENK0104068;token=SmartCard-HSM%20%28UserPIN%29%00');
    expect(objects[0]!.url.endsWith(';object=root;type=private')).toBe(true);
  });

  it('leaves idHex and label undefined when p11tool prints none', () => {
    const [object] = parseObjects('Object 0:\n\tURL: pkcs11:token=T;type=cert\n\tType: X.509 Certificate (EC/ECDSA-SECP384R1)\n');
    expect(object!.idHex).toBeUndefined();
    expect(object!.label).toBeUndefined();
  });

  it('returns [] for "No matching objects found"', () => {
    expect(parseObjects('No matching objects found\n')).toEqual([]);
    expect(parseObjects('No matching objects found')).toEqual([]);
    expect(parseObjects('No matching objects found  \n')).toEqual([]);
    expect(parseObjects('')).toEqual([]);
  });

  it('reads a tenth object, and refuses a line that only contains or begins with "No matching objects found"', () => {
    expect(parseObjects('Object 10:\n\tURL: pkcs11:token=T;id=%01\n\tType: Private key\n')).toHaveLength(1);
    for (const text of ['xNo matching objects found\n', 'No matching objects foundx\n', 'xObject 1:\n\tURL: pkcs11:token=T\n\tType: Private key\n', 'Object 1: x\n\tURL: pkcs11:token=T\n\tType: Private key\n']) {
      expect(() => parseObjects(text)).toThrow(/p11tool object list \(unexpected line/);
    }
  });

  it('throws ParseError when an object has no Type', () => {
    expect(() => parseObjects('Object 0:\n\tURL: pkcs11:token=T\n')).toThrow(ParseError);
  });

  it('throws ParseError containing an unexpected line', () => {
    const text = fixture('3.7.9/list-all-login.txt').replace('Object 3:', 'Object three');
    const error = thrown(() => parseObjects(text));
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toContain('unexpected line "Object three"');
  });
});

describe('parseUrls', () => {
  it('parses --only-urls output', () => {
    const urls = parseUrls(fixture('3.7.9/list-privkeys-only-urls.txt'));
    expect(urls).toHaveLength(3);
    expect(urls.every((url) => url.startsWith(`${SOFTHSM_TOKEN};id=`) && url.endsWith(';type=private'))).toBe(true);
    expect(urls.map((url) => uriIdHex(parsePkcs11Uri(url)))).toEqual(['03', ROOT_ID, '02']);
    expect(urls.map((url) => formatPkcs11Uri(parsePkcs11Uri(url)))).toEqual(urls);
  });

  it('returns [] for "No matching objects found"', () => {
    expect(parseUrls('No matching objects found\n')).toEqual([]);
    expect(parseUrls('No matching objects found')).toEqual([]);
    expect(parseUrls('')).toEqual([]);
  });

  it('refuses "No matching objects found" beside URLs, or with more on its line', () => {
    expect(() => parseUrls('No matching objects found\npkcs11:token=A\n')).toThrow(/unexpected line "No matching objects found"/);
    expect(() => parseUrls('xNo matching objects found\n')).toThrow(ParseError);
    expect(() => parseUrls('No matching objects found!\n')).toThrow(ParseError);
  });

  it('trims whitespace and CR around URLs', () => {
    expect(parseUrls('  pkcs11:token=A\r\n\npkcs11:token=B  \n')).toEqual(['pkcs11:token=A', 'pkcs11:token=B']);
  });

  it('throws ParseError containing a stray line', () => {
    const error = thrown(() => parseUrls(`${fixture('3.7.9/list-privkeys-only-urls.txt')}p11tool: error in PIN\n`));
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toContain('unexpected line "p11tool: error in PIN"');
  });
});

describe.each(['3.7.9', '3.8.9', '3.8.13'])('p11tool output of GnuTLS %s', (release) => {
  it('lists the SoftHSM token with its URL, label and flags', () => {
    const [token, ...others] = parseTokens(fixture(`${release}/list-tokens.txt`));
    expect(others).toEqual([]);
    expect(uriText(parsePkcs11Uri(token!.url), 'token')).toBe('CA Token');
    expect(token!.label).toBe('CA Token');
    expect(token!.flags).toEqual(expect.arrayContaining(['RNG', 'Requires login']));
  });

  it('lists private key URLs that name the root key by id and label', () => {
    const urls = parseUrls(fixture(`${release}/list-privkeys-only-urls.txt`)).map(parsePkcs11Uri);
    const root = urls.filter((uri) => uriIdHex(uri) === ROOT_ID);
    expect(root.map((uri) => uriText(uri, 'object'))).toEqual(['root']);
    expect(urls.every((uri) => uriText(uri, 'type') === 'private')).toBe(true);
  });

  it('lists objects with a URL, a type and the id without colons', () => {
    const objects = parseObjects(fixture(`${release}/list-all-login.txt`));
    const root = objects.find((o) => o.idHex === ROOT_ID && /^Private key/.test(o.type));
    expect(root?.label).toBe('root');
    expect(root?.type).toMatch(/SECP384R1/);
  });
});
