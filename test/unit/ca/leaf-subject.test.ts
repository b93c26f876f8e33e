import { describe, expect, it } from '@jest/globals';
import { leafSubjectFor, requireCommonNameAmongSans, requireNotCaSubject } from '../../../src/ca/signing/leaf-subject.js';
import { parseLeafSubject, type Settings } from '../../../src/ca/directory/settings.js';
import type { DecodedCertificate } from '../../../src/x509/decode.js';
import type { San } from '../../../src/x509/san.js';

const subject = { country: 'US', organization: 'My Company', organizationalUnit: 'My Company CA' };
const settings = (leafSubject?: Settings['leafSubject']): Settings => ({ subject, ...(leafSubject ? { leafSubject } : {}) }) as Settings;

describe('leafSubjectFor', () => {
  it('is the CN alone when the settings name nothing (and in settings files older than leafSubject)', () => {
    const leaf = leafSubjectFor(settings(), 'www.example.com');
    expect(leaf.attributes).toEqual([{ shortName: 'CN', value: 'www.example.com' }]);
    expect(leaf.subj).toBe('/CN=www.example.com');
    expect(leaf.policy).toEqual([]);
  });

  it('puts the CA\'s chosen attributes first and escapes OpenSSL\'s separators in -subj', () => {
    const leaf = leafSubjectFor(settings(['C', 'O']), 'a/b+c\\d=e');
    expect(leaf.text).toBe('C=US, O=My Company, CN=a/b+c\\d=e');
    expect(leaf.subj).toBe('/C=US/O=My Company/CN=a\\/b\\+c\\\\d=e');
    expect(leaf.policy).toStrictEqual(['countryName', 'organizationName']);
  });
  it("gives an attribute the CA's subject lacks (a settings file edited by hand) an empty value", () => {
    const leaf = leafSubjectFor(settings(['ST', 'O']), 'x');
    expect(leaf.attributes).toEqual([{ shortName: 'ST', value: '' }, { shortName: 'O', value: 'My Company' }, { shortName: 'CN', value: 'x' }]);
  });
});

describe('parseLeafSubject', () => {
  it('puts known attributes in X.509 order, any case, each once', () => {
    expect(parseLeafSubject('ou, o,C,o', subject)).toEqual(['C', 'O', 'OU']);
  });

  it('refuses unknown attributes and ones the CA has not got', () => {
    expect(() => parseLeafSubject('O,L', subject)).toThrow(/L is not one of C, ST, O, OU/);
    expect(() => parseLeafSubject('ST', subject)).toThrow(/the CA's subject has no ST; pass --state/);
  });
});

describe('requireNotCaSubject', () => {
  const ca = { subject: [{ oid: '', shortName: 'O', value: 'My Company' }, { oid: '', shortName: 'CN', value: 'My  Company CA' }] } as unknown as DecodedCertificate;

  it('refuses a subject equal to a CA\'s as verifiers compare names (case and spaces aside)', () => {
    expect(() => requireNotCaSubject(leafSubjectFor(settings(['O']), 'my company ca'), [{ name: 'intermediate', certificate: ca }])).toThrow(/would equal the intermediate CA's own subject/);
    expect(() => requireNotCaSubject(leafSubjectFor(settings(), 'My Company CA'), [{ name: 'intermediate', certificate: ca }])).not.toThrow();
  });

  it('trims the values before comparing, but keeps a space between words apart from none', () => {
    expect(() => requireNotCaSubject(leafSubjectFor(settings(['O']), ' My Company CA '), [{ name: 'root', certificate: ca }])).toThrow(/would equal the root CA's own subject/);
    expect(() => requireNotCaSubject(leafSubjectFor(settings(['O']), 'MyCompany CA'), [{ name: 'root', certificate: ca }])).not.toThrow();
    expect(() => requireNotCaSubject(leafSubjectFor(settings(['O']), 'web.example.com'), [{ name: 'root', certificate: ca }])).not.toThrow();
  });
});

describe('requireCommonNameAmongSans', () => {
  const sans: San[] = [{ type: 'DNS', value: 'www.example.com' }, { type: 'IP', value: '2001:db8::1' }];
  const check = (cn: string, profile: 'server' | 'client' = 'server'): void => requireCommonNameAmongSans(leafSubjectFor(settings(), cn), sans, profile);

  it('accepts a CN that is a DNS SAN (case and a final dot aside) or an IP SAN (any spelling)', () => {
    for (const cn of ['www.example.com', 'WWW.Example.com', 'www.example.com.', '2001:DB8:0::1']) expect(() => check(cn)).not.toThrow();
  });

  it('refuses any other CN for server profiles, naming the --san to add', () => {
    expect(() => check('api.example.com')).toThrow(/add --san DNS:api\.example\.com/);
    expect(() => check('10.0.0.1')).toThrow(/add --san IP:10\.0\.0\.1/);
    expect(() => check('Alice', 'client')).not.toThrow();
  });

  it('lists the SANs it has in the refusal', () => {
    expect(() => check('api.example.com')).toThrow(/not among the SANs \(DNS:www\.example\.com, IP:2001:db8::1\)/);
  });

  it('never takes a CN a URL parser would turn into an address for that IP SAN, nor one equal to another kind of SAN', () => {
    const ipv4: San[] = [{ type: 'IP', value: '127.0.0.1' }, { type: 'URI', value: '10.0.0.9' } as unknown as San];
    for (const cn of ['0x7f.0.0.1', '2130706433', '10.0.0.9']) {
      expect(() => requireCommonNameAmongSans(leafSubjectFor(settings(), cn), ipv4, 'server')).toThrow(/is not among the SANs/);
    }
    expect(() => requireCommonNameAmongSans(leafSubjectFor(settings(), '127.0.0.1'), ipv4, 'server')).not.toThrow();
  });
});
