import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allFileText, cli, exec, makeCsr, makeSandbox, mustExec, x509Text, type Sandbox } from './helpers.js';

const KEY_TYPES: Array<[string, RegExp, RegExp]> = [
  ['EC:secp384r1', /ecdsa-with-SHA512/, /NIST CURVE: P-384/],
  ['EC:secp256r1', /ecdsa-with-SHA512/, /NIST CURVE: P-256/],
  ['rsa:4096', /sha512WithRSAEncryption/, /Public-Key: \(4096 bit\)/],
];

describe.each(KEY_TYPES)('the whole ceremony with %s keys on a SoftHSM2 token', (keyType, signatureAlgorithm, keyDescription) => {
  let sandbox: Sandbox;
  let dir: string;

  beforeAll(async () => {
    sandbox = await makeSandbox();
    dir = sandbox.caDir;
  });
  afterAll(() => sandbox.cleanup());

  it('init creates the article\'s layout and refuses to run twice', async () => {
    const args = ['init', '--dir', dir, '--token', sandbox.tokenLabel, '--org', 'My Company', '--country', 'US', '--state', 'My State', '--key-type', keyType];
    const first = await cli(args, { env: sandbox.env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    for (const path of ['certs', 'config', 'crl', 'newcerts', 'intermediate/certs', 'intermediate/crl', 'intermediate/csr', 'intermediate/newcerts', 'index.txt', 'intermediate/index.txt']) {
      await expect(readFile(join(dir, path)).catch((e: NodeJS.ErrnoException) => e.code)).resolves.not.toBe('ENOENT');
    }
    const second = await cli(args, { env: sandbox.env });
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/already holds a CA/);
  });

  it('root makes a self-signed CA certificate on the token and says what it verified', async () => {
    const result = await cli(['root', '--dir', dir], { env: sandbox.env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ok {2}public key = the token's key/);
    expect(result.stdout).toMatch(/ok {2}self-signed: issuer = subject/);
    const text = await x509Text(join(dir, 'certs/root.crt'));
    expect(text).toMatch(signatureAlgorithm);
    expect(text).toMatch(keyDescription);
    expect(text).toMatch(/Issuer: C = US, ST = My State, O = My Company, OU = My Company Certificate Authority, CN = My Company Root CA/);
    expect(text).toMatch(/Subject: C = US, ST = My State, O = My Company, OU = My Company Certificate Authority, CN = My Company Root CA/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE\n/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Subject Key Identifier/);
    await expect(readFile(join(dir, 'config/create_root_cert.ini'), 'utf8')).resolves.toMatch(/CN\s+= My Company Root CA/);
  });

  it('the root certificate carries the public key of the key pair on the token', async () => {
    const settings = JSON.parse(await readFile(join(dir, 'hsm-openssl-ca.json'), 'utf8'));
    const tokenKey = join(sandbox.root, 'root-token.pub.pem');
    await mustExec('p11tool', ['--batch', '--provider', '/usr/lib/softhsm/libsofthsm2.so', '--login', '--export-pubkey', '--outfile', tokenKey, settings.rootKey.uri.replace('type=private', 'type=public')], {
      env: { ...sandbox.env, GNUTLS_PIN: sandbox.pin },
    });
    const certKey = await mustExec('openssl', ['x509', '-in', join(dir, 'certs/root.crt'), '-noout', '-pubkey']);
    expect(certKey).toBe(await readFile(tokenKey, 'utf8'));
    expect(settings.rootKey.uri).toMatch(/;id=%[0-9A-F]{2}.*;object=root;type=private$/);
  });

  it('intermediate is signed by the root with pathlen:0 and chain.crt = intermediate + root', async () => {
    const result = await cli(['intermediate', '--dir', dir], { env: sandbox.env });
    expect(result.code).toBe(0);
    const text = await x509Text(join(dir, 'intermediate/certs/intermediate.crt'));
    expect(text).toMatch(/Issuer: C = US, ST = My State, O = My Company, OU = My Company Certificate Authority, CN = My Company Root CA/);
    expect(text).toMatch(/Subject: C = US, ST = My State, O = My Company, OU = My Company Certificate Authority, CN = My Company Intermediate CA/);
    expect(text).toMatch(/CA:TRUE, pathlen:0/);
    expect(text).toMatch(signatureAlgorithm);
    await expect(mustExec('openssl', ['verify', '-CAfile', join(dir, 'certs/root.crt'), join(dir, 'intermediate/certs/intermediate.crt')])).resolves.toMatch(/: OK/);
    await expect(mustExec('openssl', ['req', '-verify', '-noout', '-in', join(dir, 'intermediate/csr/intermediate.csr')])).resolves.toBe('');
    const chain = await readFile(join(dir, 'intermediate/certs/chain.crt'), 'utf8');
    expect(chain).toBe((await readFile(join(dir, 'intermediate/certs/intermediate.crt'), 'utf8')) + (await readFile(join(dir, 'certs/root.crt'), 'utf8')));
    expect((await readFile(join(dir, 'index.txt'), 'utf8')).trim().split('\n')).toHaveLength(1);
    for (const config of ['create_intermediate_csr.ini', 'sign_intermediate_csr.ini']) {
      await expect(readFile(join(dir, 'config', config), 'utf8')).resolves.toMatch(/\[ (req|CA_default) \]/);
    }
  });

  it('server keeps the CSR\'s SANs, drops what else it asked for, and the chain verifies', async () => {
    const csr = await makeCsr(sandbox.root, 'web', {
      subject: '/C=US/O=Web Team/CN=www.example.com',
      sans: 'DNS:www.example.com,DNS:example.com,IP:10.0.0.1,IP:2001:db8::1',
    });
    const result = await cli(['server', csr, '--dir', dir], { env: sandbox.env });
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    const crt = join(sandbox.root, 'web.crt');
    const text = await x509Text(crt);
    expect(text).toMatch(/DNS:www.example.com, DNS:example.com, IP Address:10.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1/);
    expect(text).toMatch(/TLS Web Server Authentication/);
    expect(text).toMatch(/CA:FALSE/);
    expect(text).not.toMatch(/Netscape/);
    const verified = await exec('openssl', ['verify', '-CAfile', join(dir, 'certs/root.crt'), '-untrusted', join(dir, 'intermediate/certs/intermediate.crt'), crt]);
    expect(verified.stdout).toMatch(/web.crt: OK/);
    expect((await readFile(join(dir, 'intermediate/index.txt'), 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('the PIN is in no file of the CA directory', async () => {
    expect(await allFileText(dir)).not.toContain(sandbox.pin);
  });
});

describe('server with a CSR that requests CA:TRUE and no SANs', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    const { ceremony } = await import('./helpers.js');
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1', '--digest', 'sha256']);
  });
  afterAll(() => sandbox.cleanup());

  it('issues CA:FALSE, adds the CN as a DNS SAN and says it ignored basicConstraints', async () => {
    const csr = await makeCsr(sandbox.root, 'api', { subject: '/CN=api.example.com' });
    await mustExec('openssl', ['req', '-new', '-key', join(sandbox.root, 'api.key'), '-subj', '/CN=api.example.com', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign', '-out', csr]);
    const out = join(sandbox.root, 'issued.pem');
    const result = await cli(['server', csr, '--dir', sandbox.caDir, '--out', out, '--days', '30'], { env: sandbox.env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ignored +basicConstraints, keyUsage/);
    const text = await x509Text(out);
    expect(text).toMatch(/CA:FALSE/);
    expect(text).not.toMatch(/Certificate Sign/);
    expect(text).toMatch(/DNS:api.example.com/);
    expect(text).toMatch(/ecdsa-with-SHA256/);
  });
});
