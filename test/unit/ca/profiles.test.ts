/**
 * Profiles: which names select one, and which profile a renewal takes from the certificate it renews.
 */
import { describe, it, expect } from '@jest/globals';
import { isProfileName, profileFromExtendedKeyUsage, PROFILES } from '../../../src/ca/signing/profiles.js';

describe('profiles', () => {
  it('knows exactly server, client and server-client; inherited property names are not profiles', () => {
    expect(Object.keys(PROFILES)).toEqual(['server', 'client', 'server-client']);
    for (const name of ['server', 'client', 'server-client']) expect(isProfileName(name)).toBe(true);
    for (const name of ['toString', 'constructor', '__proto__', 'Server', 'server ', '']) expect(isProfileName(name)).toBe(false);
  });

  it('reads the profile back from the extended key usage a certificate carries', () => {
    expect(profileFromExtendedKeyUsage({ serverAuth: true, clientAuth: true })).toBe('server-client');
    expect(profileFromExtendedKeyUsage({ serverAuth: true })).toBe('server');
    expect(profileFromExtendedKeyUsage({ serverAuth: true, clientAuth: false })).toBe('server');
    expect(profileFromExtendedKeyUsage({ clientAuth: true })).toBe('client');
    expect(profileFromExtendedKeyUsage({ serverAuth: false, clientAuth: true })).toBe('client');
    expect(profileFromExtendedKeyUsage({})).toBeUndefined();
  });
});
