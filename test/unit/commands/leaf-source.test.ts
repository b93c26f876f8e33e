import { describe, expect, it } from '@jest/globals';
import { leafSource } from '../../../src/commands/server.js';
import { requireLeafName } from '../../../src/ca/signing/new-key.js';
import { exportPkcs12Args, generateKeyArgs } from '../../../src/tools/openssl.js';

describe('leafSource: a CSR or --new-key NAME', () => {
  it('takes a CSR alone', () => {
    expect(leafSource(['web.csr'], {})).toEqual({ csrPath: 'web.csr' });
  });

  it('takes --new-key with P-256 by default and its options', () => {
    expect(leafSource([], { newKey: 'web.example.test', outDir: 'tls', p12: 'web.p12', p12PasswordFile: 'pw' })).toEqual({
      newKey: { name: 'web.example.test', keyType: 'EC:secp256r1', outDir: 'tls', p12: 'web.p12', p12PasswordFile: 'pw' },
    });
    expect(leafSource([], { newKey: 'web', keyType: 'RSA:3072' })).toEqual({ newKey: { name: 'web', keyType: 'rsa:3072' } });
  });

  it('refuses neither, both, --out with --new-key, and the key options without it', () => {
    expect(() => leafSource([], {})).toThrow(/name the CSR\(s\) to sign, pass --from-dir DIR, or pass --new-key NAME/);
    expect(() => leafSource(['web.csr'], { newKey: 'web' })).toThrow(/either a CSR \(web\.csr\) or --new-key web, not both/);
    expect(() => leafSource([], { newKey: 'web', out: 'web.crt' })).toThrow(/--out names the certificate of a CSR/);
    expect(() => leafSource(['web.csr'], { p12: 'web.p12' })).toThrow(/--p12 needs --new-key NAME: a PKCS#12 holds the private key/);
    expect(() => leafSource(['web.csr'], { keyType: 'rsa:2048' })).toThrow(/--key-type is an option of --new-key NAME/);
    expect(() => leafSource([], { newKey: 'web', keyType: 'dsa:1024' })).toThrow(/--key-type dsa:1024 is not supported/);
  });
});

describe('leafSource: several CSRs, --from-dir or --out-dir make a batch', () => {
  it('takes several CSRs, --from-dir, or one CSR with --out-dir, with --strict', () => {
    expect(leafSource(['a.csr', 'b.csr'], {})).toEqual({ batch: { csrPaths: ['a.csr', 'b.csr'], strict: false } });
    expect(leafSource([], { fromDir: 'requests', outDir: 'issued', strict: true })).toEqual({ batch: { csrPaths: [], fromDir: 'requests', outDir: 'issued', strict: true } });
    expect(leafSource(['a.csr'], { outDir: 'issued' })).toEqual({ batch: { csrPaths: ['a.csr'], outDir: 'issued', strict: false } });
  });

  it('refuses what names one certificate, CSRs with --from-dir, and the key options', () => {
    expect(() => leafSource(['a.csr', 'b.csr'], { out: 'x.crt' })).toThrow(/^--out names one certificate; for several CSRs pass --out-dir DIR/);
    expect(() => leafSource(['a.csr', 'b.csr'], { san: ['DNS:x.test'] })).toThrow(/^--san adds names to one CSR/);
    expect(() => leafSource(['a.csr'], { fromDir: 'requests' })).toThrow(/^give CSRs \(a\.csr…\) or --from-dir requests, not both/);
    expect(() => leafSource([], { fromDir: 'requests', newKey: 'web' })).toThrow(/^give either --from-dir requests or --new-key web, not both/);
    expect(() => leafSource(['a.csr', 'b.csr'], { p12: 'x.p12' })).toThrow(/^--p12 needs --new-key NAME/);
  });

  it('keeps one CSR with --san and --out a single signing', () => {
    expect(leafSource(['a.csr'], { san: ['DNS:x.test'], out: 'x.crt' })).toEqual({ csrPath: 'a.csr' });
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
