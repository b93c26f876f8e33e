import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cert, csrSelfSignatureValid, OIDS, pemOrDer } from './certs.js';
import { allFileText, cli, exec, makeCsr, makeSandbox, mustExec, type Sandbox } from './helpers.js';

/** Key type, the signature algorithm its default digest gives (P-384 → SHA-384, P-256 → SHA-256, RSA → SHA-256), and the key it makes. */
const KEY_TYPES: Array<[string, string, { namedCurve: string } | { modulusLength: number }]> = [
  ['EC:secp384r1', OIDS.ecdsaWithSHA384, { namedCurve: 'secp384r1' }],
  ['EC:secp256r1', OIDS.ecdsaWithSHA256, { namedCurve: 'prime256v1' }],
  ['rsa:4096', OIDS.sha256WithRSAEncryption, { modulusLength: 4096 }],
];

const ROOT_SUBJECT = 'C=US, ST=My State, O=My Company, OU=My Company Certificate Authority, CN=My Company Root CA';
const INTERMEDIATE_SUBJECT = 'C=US, ST=My State, O=My Company, OU=My Company Certificate Authority, CN=My Company Intermediate CA';

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
    const cert = await Cert.load(join(dir, 'certs/root.crt'));
    expect(cert.signatureAlgorithm).toBe(signatureAlgorithm);
    expect(cert.x509.publicKey.asymmetricKeyDetails).toMatchObject(keyDescription);
    expect(cert.issuer).toBe(ROOT_SUBJECT);
    expect(cert.subject).toBe(ROOT_SUBJECT);
    expect(cert.x509.checkIssued(cert.x509)).toBe(true);
    expect(cert.x509.verify(cert.x509.publicKey)).toBe(true);
    expect(cert.basicConstraints).toEqual({ critical: true, cA: true, pathLength: undefined });
    expect(cert.keyUsage).toEqual({ critical: true, usages: ['digitalSignature', 'keyCertSign', 'cRLSign'] });
    expect(cert.extension(OIDS.subjectKeyIdentifier)).toBeDefined();
    await expect(readFile(join(dir, 'config/create_root_cert.ini'), 'utf8')).resolves.toMatch(/CN\s+= My Company Root CA/);
  });

  it('the root certificate carries the public key of the key pair on the token', async () => {
    const settings = JSON.parse(await readFile(join(dir, 'hsm-openssl-ca.json'), 'utf8'));
    const tokenKey = join(sandbox.root, 'root-token.pub.pem');
    await mustExec('p11tool', ['--batch', '--provider', '/usr/lib/softhsm/libsofthsm2.so', '--login', '--export-pubkey', '--outfile', tokenKey, settings.rootKey.uri.replace('type=private', 'type=public')], {
      env: { ...sandbox.env, GNUTLS_PIN: sandbox.pin },
    });
    const certKey = (await Cert.load(join(dir, 'certs/root.crt'))).spki;
    expect(certKey.toString('hex')).toBe(pemOrDer(await readFile(tokenKey), 'PUBLIC KEY').toString('hex'));
    expect(settings.rootKey.uri).toMatch(/;id=%[0-9A-F]{2}.*;object=root;type=private$/);
  });

  it('intermediate is signed by the root with pathlen:0 and chain.crt = intermediate + root', async () => {
    const result = await cli(['intermediate', '--dir', dir], { env: sandbox.env });
    expect(result.code).toBe(0);
    const cert = await Cert.load(join(dir, 'intermediate/certs/intermediate.crt'));
    expect(cert.issuer).toBe(ROOT_SUBJECT);
    expect(cert.subject).toBe(INTERMEDIATE_SUBJECT);
    expect(cert.basicConstraints).toEqual({ critical: true, cA: true, pathLength: 0 });
    expect(cert.signatureAlgorithm).toBe(signatureAlgorithm);
    await expect(mustExec('openssl', ['verify', '-CAfile', join(dir, 'certs/root.crt'), join(dir, 'intermediate/certs/intermediate.crt')])).resolves.toMatch(/: OK/);
    expect((await exec('openssl', ['req', '-verify', '-noout', '-in', join(dir, 'intermediate/csr/intermediate.csr')])).code).toBe(0);
    await expect(csrSelfSignatureValid(join(dir, 'intermediate/csr/intermediate.csr'))).resolves.toBe(true);
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
    const cert = await Cert.load(crt);
    expect(cert.subjectAltNames).toEqual(['DNS:www.example.com', 'DNS:example.com', 'IP:10.0.0.1', 'IP:2001:db8::1']);
    expect(cert.x509.keyUsage).toContain(OIDS.serverAuth); // Node's name for extended key usage
    expect(cert.basicConstraints).toMatchObject({ cA: false });
    expect(cert.extensions.map(([id]) => id).filter((id) => id.startsWith(OIDS.netscapePrefix))).toEqual([]);
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
    const cert = await Cert.load(out);
    expect(cert.basicConstraints).toMatchObject({ cA: false });
    expect(cert.keyUsage?.usages ?? []).not.toContain('keyCertSign');
    expect(cert.subjectAltNames).toContain('DNS:api.example.com');
    expect(cert.signatureAlgorithm).toBe(OIDS.ecdsaWithSHA256);
  });
});
