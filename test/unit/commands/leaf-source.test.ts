import { describe, expect, it } from '@jest/globals';
import { leafSource } from '../../../src/commands/server.js';
import { requireLeafName } from '../../../src/ca/signing/new-key.js';
import { exportPkcs12Args, generateKeyArgs } from '../../../src/tools/openssl.js';

describe('leafSource: a CSR or --new-key NAME', () => {
  it('takes a CSR alone', () => {
    expect(leafSource('web.csr', {})).toEqual({ csrPath: 'web.csr' });
  });

  it('takes --new-key with P-256 by default and its options', () => {
    expect(leafSource(undefined, { newKey: 'web.example.test', outDir: 'tls', p12: 'web.p12', p12PasswordFile: 'pw' })).toEqual({
      newKey: { name: 'web.example.test', keyType: 'EC:secp256r1', outDir: 'tls', p12: 'web.p12', p12PasswordFile: 'pw' },
    });
    expect(leafSource(undefined, { newKey: 'web', keyType: 'RSA:3072' })).toEqual({ newKey: { name: 'web', keyType: 'rsa:3072' } });
  });

  it('refuses neither, both, --out with --new-key, and the key options without it', () => {
    expect(() => leafSource(undefined, {})).toThrow(/name the CSR to sign, or pass --new-key NAME/);
    expect(() => leafSource('web.csr', { newKey: 'web' })).toThrow(/either a CSR \(web\.csr\) or --new-key web, not both/);
    expect(() => leafSource(undefined, { newKey: 'web', out: 'web.crt' })).toThrow(/--out names the certificate of a CSR/);
    expect(() => leafSource('web.csr', { p12: 'web.p12' })).toThrow(/--p12 needs --new-key NAME: a PKCS#12 holds the private key/);
    expect(() => leafSource('web.csr', { keyType: 'rsa:2048' })).toThrow(/--key-type is an option of --new-key NAME/);
    expect(() => leafSource(undefined, { newKey: 'web', keyType: 'dsa:1024' })).toThrow(/--key-type dsa:1024 is not supported/);
  });
});

describe('requireLeafName', () => {
  it('takes DNS names, host and user names, e-mail addresses and IP addresses', () => {
    for (const name of ['web.example.test', 'alice', 'alice@example.test', '10.0.0.1', 'a', 'svc_1-b']) expect(() => requireLeafName(name)).not.toThrow();
  });

  it('refuses what would leave the output directory, hide the file, or break -subj', () => {
    for (const name of ['../web', 'a/b', '.hidden', 'web.', 'a..b', 'two words', 'O=x+CN=y', '', 'x'.repeat(65), 'tab\there']) {
      expect(() => requireLeafName(name)).toThrow(/letters, digits and \. _ @ - only/);
    }
  });
});

describe('the leaf key and PKCS#12 argv', () => {
  it('names P-256 as openssl knows it and RSA by its size', () => {
    expect(generateKeyArgs('EC:secp256r1', 'k.pem')).toEqual(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'k.pem']);
    expect(generateKeyArgs('rsa:4096', 'k.pem')).toEqual(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:4096', '-out', 'k.pem']);
  });

  it('takes the PKCS#12 password from stdin, never from argv', () => {
    const args = exportPkcs12Args({ key: 'k.pem', chain: 'c.pem', name: 'web', out: 'w.p12' });
    expect(args.slice(args.indexOf('-passout'), args.indexOf('-passout') + 2)).toEqual(['-passout', 'stdin']);
    expect(args).toEqual(expect.arrayContaining(['-keypbe', 'AES-256-CBC', '-certpbe', 'AES-256-CBC', '-macalg', 'sha256']));
  });
});
