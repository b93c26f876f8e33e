import { describe, expect, it } from '@jest/globals';
import { generationUrl } from '../../../src/ca/signing/intermediate-rekey.js';

describe('generationUrl: where the next key of the intermediate publishes', () => {
  it.each([
    ['http://pki.example.test/intermediate.crl', 2, 'http://pki.example.test/intermediate-2.crl'],
    ['http://pki.example.test/intermediate-2.crl', 3, 'http://pki.example.test/intermediate-3.crl'],
    ['http://pki.example.test/pki/intermediate.crt', 2, 'http://pki.example.test/pki/intermediate-2.crt'],
    // Digits of the operator's own name stay: only the previous generation's suffix is replaced.
    ['http://pki.example.test/ca-2024.crl', 2, 'http://pki.example.test/ca-2024-2.crl'],
    ['http://pki.example.test/ca-2024-2.crl', 3, 'http://pki.example.test/ca-2024-3.crl'],
    ['http://pki.example.test/ca-2.crl', 2, 'http://pki.example.test/ca-2-2.crl'],
    ['http://pki.example.test/crl', 2, 'http://pki.example.test/crl-2'],
    ['http://pki.example.test/', 2, 'http://pki.example.test/crl-2'],
    ['http://pki.example.test/a.b/intermediate.der.crl', 2, 'http://pki.example.test/a.b/intermediate.der-2.crl'],
    ['http://pki.example.test/.crl', 2, 'http://pki.example.test/.crl-2'],
    ['http://pki.example.test/intermediate.crl?x=1', 2, 'http://pki.example.test/intermediate-2.crl?x=1'],
    ['ldap://ldap.example.test/cn=CA', 2, 'ldap://ldap.example.test/cn=CA-2'],
  ])('%s, generation %d → %s', (url, generation, expected) => {
    expect(generationUrl(url, generation)).toBe(expected);
  });
});
