import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseKeyPairGenerated, parseObjects } from '../../../../src/tools/parse/pkcs11-tool.js';
import { ParseError } from '../../../../src/errors.js';

function fixture(path: string): string {
  return readFileSync(new URL(`../../../fixtures/tool-output/pkcs11-tool/${path}`, import.meta.url), 'utf8');
}

const ROOT_ID = 'e0161cc8b6f5d66ac6835ecdecb623fc0506a675';
const RSA_LABEL = 'Root CA;2024/ä "q"';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parseKeyPairGenerated', () => {
  it("captures the key ID and label from the article's Nitrokey output", () => {
    const { privateKey, publicKey } = parseKeyPairGenerated(fixture('article-nitrokey/keypairgen-ec-secp384r1-root.txt'));
    expect(privateKey.kind).toBe('Private Key');
    expect(privateKey.detail).toBe('EC');
    expect(privateKey.idHex).toBe(ROOT_ID);
    expect(privateKey.label).toBe('root');
    expect(privateKey.attributes['Usage']).toBe('sign, derive');
    expect(privateKey.attributes['Access']).toBe('none');
    expect(publicKey.kind).toBe('Public Key');
    expect(publicKey.detail).toBe('EC  EC_POINT 384 bits');
    expect(publicKey.idHex).toBe(ROOT_ID);
    expect(publicKey.label).toBe('root');
    expect(publicKey.attributes['EC_PARAMS']).toBe('06052b81040022');
    expect(publicKey.attributes['EC_POINT']).toMatch(/^046104c1e7b40e1e[0-9a-f]+090a3e7$/);
  });

  it('captures the SoftHSM secp384r1 key', () => {
    const { privateKey, publicKey } = parseKeyPairGenerated(fixture('0.23.0/keypairgen-ec-secp384r1.txt'));
    expect(privateKey.idHex).toBe(ROOT_ID);
    expect(publicKey.idHex).toBe(ROOT_ID);
    expect(privateKey.attributes['Access']).toBe('sensitive, always sensitive, never extractable, local');
  });

  it('captures the SoftHSM secp256r1 key with a one-byte id', () => {
    const { privateKey, publicKey } = parseKeyPairGenerated(fixture('0.23.0/keypairgen-ec-secp256r1.txt'));
    expect(privateKey.idHex).toBe('02');
    expect(privateKey.label).toBe('p256');
    expect(publicKey.detail).toBe('EC  EC_POINT 256 bits');
    expect(publicKey.attributes['EC_PARAMS']).toBe('06082a8648ce3d030107');
  });

  it('round-trips the RSA label with ; / ä and quotes, and trims the trailing space of "RSA "', () => {
    const { privateKey, publicKey } = parseKeyPairGenerated(fixture('0.23.0/keypairgen-rsa-4096.txt'));
    expect(privateKey.label).toBe(RSA_LABEL);
    expect(publicKey.label).toBe(RSA_LABEL);
    expect(privateKey.idHex).toBe('03');
    expect(privateKey.detail).toBe('RSA');
    expect(publicKey.detail).toBe('RSA 4096 bits');
  });

  it('finds the objects whichever comes first', () => {
    const text = fixture('0.23.0/keypairgen-ec-secp256r1.txt');
    const [head, priv, pub] = text.split(/^(?=Private Key Object|Public Key Object)/m);
    const { privateKey, publicKey } = parseKeyPairGenerated(`${head}${pub}${priv}`);
    expect(privateKey.kind).toBe('Private Key');
    expect(publicKey.kind).toBe('Public Key');
  });

  it('ignores stderr chatter captured with stdout', () => {
    const text = `Using slot 0 with a present token (0x2c117fc8)\nLogging in to "CA Token".\nPlease enter User PIN: \n${fixture('0.23.0/keypairgen-ec-secp256r1.txt')}`;
    expect(parseKeyPairGenerated(text).privateKey.idHex).toBe('02');
  });

  it('accepts CRLF line endings', () => {
    const text = fixture('article-nitrokey/keypairgen-ec-secp384r1-root.txt').replace(/\n/g, '\r\n');
    const { privateKey } = parseKeyPairGenerated(text);
    expect(privateKey.idHex).toBe(ROOT_ID);
    expect(privateKey.label).toBe('root');
  });

  it('leaves idHex undefined when the key has no ID', () => {
    const text = 'Key pair generated:\nPrivate Key Object; EC\n  label:      k\n  Usage:      sign\nPublic Key Object; EC  EC_POINT 256 bits\n  label:      k\n';
    const { privateKey, publicKey } = parseKeyPairGenerated(text);
    expect(privateKey.idHex).toBeUndefined();
    expect(publicKey.idHex).toBeUndefined();
  });

  it('throws ParseError without "Key pair generated:"', () => {
    const text = fixture('0.23.0/keypairgen-ec-secp256r1.txt').replace('Key pair generated:\n', '');
    const error = thrown(() => parseKeyPairGenerated(text));
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toContain('Key pair generated:');
    // The tool's text travels beside the one-line message, line breaks intact, for the CLI to show.
    expect((error as ParseError).detail).toBe(text.trimEnd());
    expect((error as ParseError).detail!.split('\n')).toContain('  label:      p256');
  });

  it('throws ParseError on empty output, and when "Key pair generated:" does not begin its line', () => {
    expect(() => parseKeyPairGenerated('')).toThrow(ParseError);
    const prefixed = fixture('0.23.0/keypairgen-ec-secp256r1.txt').replace('Key pair generated:', 'Not: Key pair generated:');
    expect(() => parseKeyPairGenerated(prefixed)).toThrow(/no "Key pair generated:"/);
  });

  it('skips whitespace-only lines between objects', () => {
    const text = fixture('0.23.0/keypairgen-ec-secp256r1.txt').replace('Public Key Object', '   \nPublic Key Object');
    expect(parseKeyPairGenerated(text).publicKey.label).toBe('p256');
  });

  it('throws ParseError when only one object was printed', () => {
    const text = fixture('0.23.0/keypairgen-ec-secp256r1.txt').split('Public Key Object')[0]!;
    expect(text).toContain('Private Key Object');
    expect(() => parseKeyPairGenerated(text)).toThrow(ParseError);
    const onlyPublic = `Key pair generated:\nPublic Key Object${fixture('0.23.0/keypairgen-ec-secp256r1.txt').split('Public Key Object')[1]}`;
    expect(() => parseKeyPairGenerated(onlyPublic)).toThrow(/expected one private and one public key object/);
  });

  it('throws ParseError on two private keys or a third object', () => {
    const twoPrivate = 'Key pair generated:\nPrivate Key Object; EC\n  ID:         01\nPrivate Key Object; EC\n  ID:         02\n';
    expect(() => parseKeyPairGenerated(twoPrivate)).toThrow(ParseError);
    const three = `${fixture('0.23.0/keypairgen-ec-secp256r1.txt')}Certificate Object; type = X.509 cert\n  label:      x\n`;
    expect(() => parseKeyPairGenerated(three)).toThrow(ParseError);
  });

  it('throws ParseError naming an unexpected line', () => {
    const text = `${fixture('0.23.0/keypairgen-ec-secp256r1.txt')}error: PKCS11 function C_GenerateKeyPair failed\n`;
    const error = thrown(() => parseKeyPairGenerated(text));
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toContain('unexpected line "error: PKCS11 function C_GenerateKeyPair failed"');
  });
});

describe('parseObjects', () => {
  it('parses the SoftHSM --list-objects output', () => {
    const objects = parseObjects(fixture('0.23.0/list-objects-login.txt'));
    expect(objects.map((o) => [o.kind, o.label, o.idHex])).toEqual([
      ['Public Key', RSA_LABEL, '03'],
      ['Private Key', RSA_LABEL, '03'],
      ['Public Key', 'root', ROOT_ID],
      ['Public Key', 'p256', '02'],
      ['Private Key', 'root', ROOT_ID],
      ['Private Key', 'p256', '02'],
    ]);
    expect(objects[0]!.detail).toBe('RSA 4096 bits');
    expect(objects[2]!.detail).toBe('EC  EC_POINT 384 bits');
    expect(objects[5]!.attributes['Usage']).toBe('decrypt, sign, unwrap, derive');
  });

  it('reads a data object, whose heading is "Data object N": kind Data, detail its number', () => {
    const text = ['Data object 1', "  label:          'backup note'", "  application:    'hsm-openssl-ca'", '  flags:          modifiable private'].join('\n');
    expect(parseObjects(text)).toEqual([{ kind: 'Data', detail: '1', label: "'backup note'", idHex: undefined, uri: undefined, attributes: { label: "'backup note'", application: "'hsm-openssl-ca'", flags: 'modifiable private' } }]);
  });

  it('returns [] for empty output', () => {
    expect(parseObjects('')).toEqual([]);
    expect(parseObjects('\n\n')).toEqual([]);
  });

  it('lower-cases the ID and removes colons', () => {
    const [object] = parseObjects('Private Key Object; EC\n  ID:         E0:16:1C\n');
    expect(object!.idHex).toBe('e0161c');
  });

  it('parses certificate and data objects, with attribute names containing spaces', () => {
    const text = [
      'Certificate Object; type = X.509 cert',
      '  label:      root',
      '  subject:    DN: CN=Root CA',
      '  serial:     01',
      '  ID:         e0161cc8b6f5d66ac6835ecdecb623fc0506a675',
      'Data object 2237890704',
      '  label:          note',
      '  Unique ID:  abc',
      '',
    ].join('\n');
    const [cert, data] = parseObjects(text);
    expect(cert!.kind).toBe('Certificate');
    expect(cert!.detail).toBe('type = X.509 cert');
    expect(cert!.idHex).toBe(ROOT_ID);
    expect(cert!.attributes['subject']).toBe('DN: CN=Root CA');
    expect(data!.kind).toBe('Data');
    expect(data!.label).toBe('note');
    expect(data!.attributes['Unique ID']).toBe('abc');
  });

  it('throws ParseError whose message contains the offending line', () => {
    const text = fixture('0.23.0/list-objects-login.txt').replace('Private Key Object; RSA ', 'Segmentation fault');
    const error = thrown(() => parseObjects(text));
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toContain('"Segmentation fault"');
  });

  it('throws ParseError on an attribute line before any object header', () => {
    expect(() => parseObjects('  label:      root\n')).toThrow(ParseError);
    expect(() => parseObjects('  label:      root\n')).toThrow(/label: {6}root/);
  });
});

/** What capture-tool-output.sh generates on every OpenSC release: key type → label and id. */
const CAPTURED_KEYS: Array<[string, string, string, RegExp]> = [
  ['keypairgen-ec-secp256r1.txt', 'p256', '02', /^EC\s+EC_POINT 256 bits$/],
  ['keypairgen-ec-secp384r1.txt', 'root', ROOT_ID, /^EC\s+EC_POINT 384 bits$/],
  ['keypairgen-ec-secp521r1.txt', 'p521', '04', /^EC\s+EC_POINT 52[18] bits$/],
  ['keypairgen-rsa-2048.txt', 'rsa2048', '05', /^RSA\s+2048 bits$/],
  ['keypairgen-rsa-4096.txt', RSA_LABEL, '03', /^RSA\s+4096 bits$/],
];
const OPENSC_RELEASES = ['0.23.0', '0.26.1', '0.27.1'];

describe.each(OPENSC_RELEASES)('pkcs11-tool output of OpenSC %s', (release) => {
  it.each(CAPTURED_KEYS)('%s: one private and one public key with the label and id we gave', (file, label, id, publicDetail) => {
    const { privateKey, publicKey } = parseKeyPairGenerated(fixture(`${release}/${file}`));
    expect([privateKey.label, privateKey.idHex, publicKey.label, publicKey.idHex]).toEqual([label, id, label, id]);
    expect(publicKey.detail).toMatch(publicDetail);
  });

  it('reads a wrapped EC point or modulus as one hex value', () => {
    const { publicKey } = parseKeyPairGenerated(fixture(`${release}/keypairgen-ec-secp384r1.txt`));
    // An uncompressed P-384 point: 04 || x || y, 97 bytes, inside a 2-byte OCTET STRING header.
    const point = publicKey.attributes['EC_POINT'] ?? publicKey.attributes['EC Point'];
    expect(point).toMatch(/^0461[0-9a-f]{194}$/);
    const { privateKey } = parseKeyPairGenerated(fixture(`${release}/keypairgen-rsa-2048.txt`));
    const modulus = privateKey.attributes['Modulus'];
    if (modulus !== undefined) expect(modulus).toMatch(/^[0-9a-f]{512}$/);
  });

  it('lists the public keys a token shows without a login, with their ids (0.27: "662316 (0x0a:1b:2c)")', () => {
    const objects = parseObjects(fixture(`${release}/list-objects-no-login.txt`));
    expect(objects.map((o) => `${o.kind}/${o.label}/${o.idHex}`)).toEqual(['Public Key/root/0a1b2c', 'Public Key/intermediate/3d4e5f']);
  });

  it('lists every object of the token after the keys were made', () => {
    const objects = parseObjects(fixture(`${release}/list-objects-login.txt`));
    const privateKeys = objects.filter((o) => o.kind === 'Private Key').map((o) => `${o.label}/${o.idHex}`).sort();
    // 0.23.0's listing was captured before the P-521 and RSA-2048 keys joined the script.
    expect(privateKeys).toEqual(expect.arrayContaining(['p256/02', `root/${ROOT_ID}`, `${RSA_LABEL}/03`]));
    expect(objects.filter((o) => o.kind === 'Public Key')).toHaveLength(privateKeys.length);
  });
});

describe('the uri: line of OpenSC 0.26 and later', () => {
  it('is kept for each object (0.27 encodes the id byte by byte)', () => {
    const { privateKey, publicKey } = parseKeyPairGenerated(fixture('0.27.1/keypairgen-ec-secp384r1.txt'));
    expect(privateKey.uri).toMatch(/;id=%e0%16%1c%c8.*;object=root;type=private$/);
    expect(publicKey.uri).toMatch(/;type=public$/);
  });

  it('is absent before 0.26', () => {
    expect(parseKeyPairGenerated(fixture('0.23.0/keypairgen-ec-secp384r1.txt')).privateKey.uri).toBeUndefined();
  });
});
