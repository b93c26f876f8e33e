import { describe, it, expect } from '@jest/globals';
import { UsageError } from '../../../src/errors.js';
import { caDigest, caKeyType, DEFAULT_MODULE, digestFits, digestFor, KEY_TYPES, parseDigest, parseKeyType, requireConfigSafe, validateSettings, type Settings } from '../../../src/ca/directory/settings.js';

const VALID: Settings = {
  version: 1,
  module: DEFAULT_MODULE,
  token: 'example-ca',
  subject: { country: 'US', state: 'California', organization: 'Example Org', organizationalUnit: 'Example Org Certificate Authority' },
  rootCommonName: 'Example Org Root CA',
  intermediateCommonName: 'Example Org Intermediate CA',
  keyType: 'EC:secp384r1',
  digest: 'sha512',
};

function withSubject(subject: Partial<Settings['subject']>): Settings {
  return { ...VALID, subject: { ...VALID.subject, ...subject } };
}

describe('parseKeyType', () => {
  it.each(KEY_TYPES.map((t) => [t]))('accepts %s', (type) => {
    expect(parseKeyType(type)).toBe(type);
  });

  it.each([
    ['ec:secp384r1', 'EC:secp384r1'],
    ['EC:SECP384R1', 'EC:secp384r1'],
    ['RSA:4096', 'rsa:4096'],
    ['Rsa:2048', 'rsa:2048'],
    ['EC:prime256v1', 'EC:secp256r1'],
    ['ec:PRIME256V1', 'EC:secp256r1'],
  ])('accepts %s as %s', (input, type) => {
    expect(parseKeyType(input)).toBe(type);
  });

  it.each(['EC:edwards25519', 'rsa:1024', 'rsa:8192', 'EC:secp256k1', 'EC:', 'ec', 'secp384r1', '', ' EC:secp384r1', 'ed25519'])('refuses %j', (input) => {
    expect(() => parseKeyType(input)).toThrow(UsageError);
    expect(() => parseKeyType(input)).toThrow(/^--key-type .* is not supported; choose one of EC:secp256r1, /);
  });
});

describe('parseDigest', () => {
  it.each([
    ['sha256', 'sha256'],
    ['sha384', 'sha384'],
    ['sha512', 'sha512'],
    ['SHA384', 'sha384'],
    ['Sha512', 'sha512'],
    ['-sha256', 'sha256'],
  ])('accepts %s as %s', (input, digest) => {
    expect(parseDigest(input)).toBe(digest);
  });

  it.each(['sha1', 'SHA1', 'md5', 'sha224', 'sha3-256', 'sha512-256', '', 'sha-256'])('refuses %j', (input) => {
    expect(() => parseDigest(input)).toThrow(UsageError);
    expect(() => parseDigest(input)).toThrow(/--digest .* is not allowed; choose one of sha256, sha384, sha512/);
  });
});

describe('validateSettings', () => {
  it('accepts realistic settings, with and without country and state', () => {
    expect(() => validateSettings(VALID)).not.toThrow();
    expect(() => validateSettings({ ...VALID, subject: { organization: 'Example Org', organizationalUnit: 'PKI' } })).not.toThrow();
    expect(() => validateSettings(withSubject({ organization: 'Müller GmbH' }))).not.toThrow();
    expect(() => validateSettings(withSubject({ organization: 'A $HOME # "quoted" \\ org' }))).not.toThrow();
  });

  it.each(['us', 'USA', 'U', 'U1', 'ÜS', ' US', ''])('refuses the country %j', (country) => {
    expect(() => validateSettings(withSubject({ country }))).toThrow(UsageError);
    expect(() => validateSettings(withSubject({ country }))).toThrow(/--country/);
  });

  it.each([
    ['a newline', 'Example\nOrg'],
    ['a carriage return', 'Example\rOrg'],
    ['a NUL', 'Example\0Org'],
    ['a tab', 'Example\tOrg'],
    ['a leading space', ' Example Org'],
    ['a trailing space', 'Example Org '],
    ['nothing', ''],
    ['65 characters', 'O'.repeat(65)],
  ])('refuses an organisation with %s, naming --org', (_what, organization) => {
    expect(() => validateSettings(withSubject({ organization }))).toThrow(UsageError);
    expect(() => validateSettings(withSubject({ organization }))).toThrow(/--org\b(?!-)/);
  });

  it('accepts 64 characters, counted as characters not bytes', () => {
    expect(() => validateSettings(withSubject({ organization: 'O'.repeat(64) }))).not.toThrow();
    expect(() => validateSettings(withSubject({ organization: 'ü'.repeat(64) }))).not.toThrow();
    expect(() => validateSettings({ ...VALID, rootCommonName: 'C'.repeat(64) })).not.toThrow();
  });

  it('refuses a 65-character common name', () => {
    expect(() => validateSettings({ ...VALID, rootCommonName: 'C'.repeat(65) })).toThrow(/--root-cn .* is longer than 64 characters/);
    expect(() => validateSettings({ ...VALID, intermediateCommonName: 'C'.repeat(65) })).toThrow(/--intermediate-cn/);
  });

  it('names the field of other unsafe values', () => {
    expect(() => validateSettings(withSubject({ organizationalUnit: 'PKI\n' }))).toThrow(/--org-unit/);
    expect(() => validateSettings(withSubject({ state: 'Cali\nfornia' }))).toThrow(/--state/);
    expect(() => validateSettings({ ...VALID, rootCommonName: 'Root\0CA' })).toThrow(/--root-cn/);
    expect(() => validateSettings({ ...VALID, token: 'T'.repeat(33) })).toThrow(/--token/);
    expect(() => validateSettings({ ...VALID, module: '/usr/lib/x.so\n' })).toThrow(/--module/);
  });

  it.each(['libsofthsm2.so', './libsofthsm2.so', 'lib/softhsm/libsofthsm2.so', '~/lib.so'])('refuses the relative module path %j', (module) => {
    expect(() => validateSettings({ ...VALID, module })).toThrow(UsageError);
    expect(() => validateSettings({ ...VALID, module })).toThrow(/--module .* must be an absolute path/);
  });

  it('gives usage errors exit code 2', () => {
    try {
      validateSettings(withSubject({ organization: 'a\nb' }));
    } catch (error) {
      expect((error as UsageError).exitCode).toBe(2);
      return;
    }
    throw new Error('expected a UsageError');
  });
});

describe('requireConfigSafe', () => {
  it('names the option', () => {
    expect(() => requireConfigSafe('--org', 'x\ny')).toThrow(/^--org contains a control character/);
    expect(() => requireConfigSafe('--org', ' x')).toThrow(/^--org " x" starts or ends with a space/);
    expect(() => requireConfigSafe('--org', 'x $y')).not.toThrow();
  });
});

describe('key types and digests per CA', () => {
  const base = { keyType: 'EC:secp384r1' } as Settings;

  it('signs with the digest that fits each key: P-256 sha256, P-384 sha384, P-521 sha512, RSA sha256', () => {
    expect(KEY_TYPES.map((type) => [type, digestFor(type)])).toEqual([
      ['EC:secp256r1', 'sha256'],
      ['EC:secp384r1', 'sha384'],
      ['EC:secp521r1', 'sha512'],
      ['rsa:2048', 'sha256'],
      ['rsa:3072', 'sha256'],
      ['rsa:4096', 'sha256'],
    ]);
  });

  it('gives each CA its own key type, defaulting to --key-type', () => {
    const mixed = { ...base, rootKeyType: 'rsa:4096', intermediateKeyType: 'EC:secp256r1' } as Settings;
    expect([caKeyType(mixed, 'root'), caDigest(mixed, 'root'), caKeyType(mixed, 'intermediate'), caDigest(mixed, 'intermediate')]).toEqual(['rsa:4096', 'sha256', 'EC:secp256r1', 'sha256']);
    expect([caKeyType(base, 'root'), caDigest(base, 'intermediate')]).toEqual(['EC:secp384r1', 'sha384']);
  });

  it('keeps an explicit digest for both CAs (a CA directory made before per-key digests keeps its sha512)', () => {
    expect(caDigest({ ...base, digest: 'sha512' }, 'root')).toBe('sha512');
  });

  it('says an EC key fits only its own hash, and RSA any SHA-2', () => {
    expect(digestFits('sha512', 'EC:secp384r1')).toBe(false);
    expect(digestFits('sha384', 'EC:secp384r1')).toBe(true);
    expect(digestFits('sha512', 'rsa:2048')).toBe(true);
  });

  it('names the option in a bad key type', () => {
    expect(() => parseKeyType('ed25519', '--root-key-type')).toThrow(/^--root-key-type ed25519 is not supported/);
  });
});
