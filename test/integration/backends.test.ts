import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createVerify, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeCertificate, decodeCrl, pemToDer, type DecodedCertificate } from '../../src/x509/decode.js';
import { ceremony, cli, exec, expectOneLineError, makeCsr, makeSandbox, mustExec, treeHash, type Sandbox } from './helpers.js';

const P11KIT_PROXY = '/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so';
const SIGNATURE_OID = {
  'ecdsa-with-SHA256': '1.2.840.10045.4.3.2',
  'ecdsa-with-SHA384': '1.2.840.10045.4.3.3',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
} as const;

async function certificate(path: string): Promise<DecodedCertificate> {
  return decodeCertificate(pemToDer(await readFile(path, 'utf8'), 'CERTIFICATE', path));
}

async function mustCli(sandbox: Sandbox, args: readonly string[], env = sandbox.env): Promise<string> {
  const result = await cli(args, { env });
  if (result.code !== 0) throw new Error(`${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stderr;
}

/** `openssl verify` of an issued certificate against root.crt with intermediate.crt as the untrusted link. */
async function verifiesAgainstChain(sandbox: Sandbox, certificatePath: string): Promise<void> {
  await mustExec('openssl', ['verify', '-x509_strict', '-CAfile', join(sandbox.caDir, 'certs/root.crt'), '-untrusted', join(sandbox.caDir, 'intermediate/certs/intermediate.crt'), certificatePath]);
}

/** Extension OIDs with criticality, in order: what two backends must agree on for one CSR and profile. */
function extensionShape(cert: DecodedCertificate): string[] {
  return cert.extensions.map((e) => `${e.id}${e.critical ? '!' : ''}`);
}

/** Whether OpenSSL here has the libp11 engine (OpenSSL 4 and RHEL 10 have no engines; sid's no-engine cell). */
async function engineInstalled(): Promise<boolean> {
  const result = await exec('openssl', ['engine', '-t', 'pkcs11']);
  return result.code === 0 && /\[ available \]/.test(result.stdout);
}

describe('backends: the same CA signed through the engine and through the provider', () => {
  let sandbox: Sandbox;
  let backends: string[];
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--key-type', 'EC:secp384r1']);
    backends = (await engineInstalled()) ? ['engine', 'provider'] : ['provider'];
  });
  afterAll(() => sandbox.cleanup());

  it('signs equivalent certificates with each backend this system has, each verifying against the chain', async () => {
    const certs: DecodedCertificate[] = [];
    for (const backend of backends) {
      const csr = await makeCsr(sandbox.root, `web-${backend}`, { sans: `DNS:web-${backend}.example.com` });
      const said = await mustCli(sandbox, ['server', csr, '--dir', sandbox.caDir, '--backend', backend, '--yes']);
      expect(said).toContain(`OpenSSL backend for the intermediate key: ${backend}`);
      const out = csr.replace(/\.csr$/, '.crt');
      await verifiesAgainstChain(sandbox, out);
      const cert = await certificate(out);
      expect(cert.signatureAlgorithmOid).toBe(SIGNATURE_OID['ecdsa-with-SHA384']);
      expect(new X509Certificate(cert.der).subjectAltName).toBe(`DNS:web-${backend}.example.com`);
      certs.push(cert);
    }
    for (const cert of certs) expect(extensionShape(cert)).toEqual(extensionShape(certs[0]!));
  });

  it('publishes a verified CRL through each backend', async () => {
    for (const backend of backends) {
      const said = await mustCli(sandbox, ['crl', '--dir', sandbox.caDir, '--backend', backend]);
      expect(said).toContain(`OpenSSL backend for the intermediate key: ${backend}`);
    }
  });

  it('where the engine cannot load, --backend engine is one line naming the package, and nothing changes', async () => {
    // An empty engines directory is what OpenSSL 4 or a system without libengine-pkcs11-openssl looks like.
    const env = { ...sandbox.env, OPENSSL_ENGINES: join(sandbox.root, 'no-engines') };
    const before = await treeHash(sandbox.caDir);
    const result = await cli(['crl', '--dir', sandbox.caDir, '--backend', 'engine'], { env });
    expectOneLineError(result, /^hsm-openssl-ca: OpenSSL cannot load the libp11 pkcs11 engine \(package libengine-pkcs11-openssl\) with \S+; install it, check --module, or pass --backend auto$/);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
    const auto = await mustCli(sandbox, ['crl', '--dir', sandbox.caDir, '--backend', 'auto'], env);
    expect(auto).toContain('OpenSSL backend for the intermediate key: provider (auto)');
  });

  it('refuses a backend that is not one, before touching the token', async () => {
    const before = await treeHash(sandbox.caDir);
    const result = await cli(['crl', '--dir', sandbox.caDir, '--backend', 'pkcs11'], { env: sandbox.env });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('hsm-openssl-ca: --backend pkcs11 is not a backend; choose one of auto, engine, provider');
    expect(await treeHash(sandbox.caDir)).toEqual(before);
  });

  it('treats an openssl killed by a signal as a failure, whatever it wrote, and leaves the CA directory unchanged', async () => {
    // A stand-in on PATH runs the real openssl, lets it write its output, then dies by SIGSEGV like
    // pkcs11-provider 1.0 without its quirk does at exit.
    const bin = join(sandbox.root, 'segv-bin');
    await mkdir(bin, { recursive: true });
    const realOpenssl = (await mustExec('sh', ['-c', 'command -v openssl'])).trim();
    await writeFile(join(bin, 'openssl'), `#!/bin/sh\n"${realOpenssl}" "$@"\nstatus=$?\n[ "$1" = ca ] && kill -SEGV $$\nexit $status\n`);
    await chmod(join(bin, 'openssl'), 0o755);
    const csr = await makeCsr(sandbox.root, 'crashed');
    const before = await treeHash(sandbox.caDir);
    const result = await cli(['server', csr, '--dir', sandbox.caDir, '--yes'], { env: { ...sandbox.env, PATH: `${bin}:${sandbox.env['PATH']}` } });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^hsm-openssl-ca: openssl was killed by SIGSEGV .*nothing it wrote is used/);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
    await expect(readFile(csr.replace(/\.csr$/, '.crt'))).rejects.toThrow(/ENOENT/);
  });
});

describe('key types per CA: an RSA root over an EC intermediate', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--root-key-type', 'rsa:2048', '--intermediate-key-type', 'EC:secp256r1']);
  });
  afterAll(() => sandbox.cleanup());

  it('makes each CA key of its own type and signs with the digest that fits the signing key', async () => {
    const root = await certificate(join(sandbox.caDir, 'certs/root.crt'));
    const intermediate = await certificate(join(sandbox.caDir, 'intermediate/certs/intermediate.crt'));
    expect(new X509Certificate(root.der).publicKey.asymmetricKeyType).toBe('rsa');
    expect(new X509Certificate(root.der).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(root.signatureAlgorithmOid).toBe(SIGNATURE_OID.sha256WithRSAEncryption);
    expect(new X509Certificate(intermediate.der).publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    // The root's RSA key signed the intermediate.
    expect(intermediate.signatureAlgorithmOid).toBe(SIGNATURE_OID.sha256WithRSAEncryption);

    const csr = await makeCsr(sandbox.root, 'mixed');
    await mustCli(sandbox, ['server', csr, '--dir', sandbox.caDir, '--yes']);
    const leaf = await certificate(csr.replace(/\.csr$/, '.crt'));
    expect(leaf.signatureAlgorithmOid).toBe(SIGNATURE_OID['ecdsa-with-SHA256']);
    await verifiesAgainstChain(sandbox, csr.replace(/\.csr$/, '.crt'));
  });

  it('publishes a root CRL signed by the RSA root key', async () => {
    await mustCli(sandbox, ['crl', '--root', '--dir', sandbox.caDir]);
    const crl = decodeCrl(pemToDer(await readFile(join(sandbox.caDir, 'crl/root.crl.pem'), 'utf8'), 'X509 CRL', 'root.crl.pem'));
    expect(crl.signatureAlgorithmOid).toBe(SIGNATURE_OID.sha256WithRSAEncryption);
    const root = new X509Certificate(await readFile(join(sandbox.caDir, 'certs/root.crt')));
    expect(createVerify('sha256').update(crl.tbsDer).verify(root.publicKey, crl.signature)).toBe(true);
  });
});

describe('digest defaults and --digest', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
  });
  afterAll(() => sandbox.cleanup());

  it('warns when --digest does not fit a CA key, and records it for both CAs', async () => {
    const result = await cli(['init', '--dir', join(sandbox.root, 'sha512'), '--token', sandbox.tokenLabel, '--org', 'Acme', '--digest', 'sha512'], { env: sandbox.env });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^warning: --digest sha512 does not fit the root key \(EC:secp384r1, which fits sha384\)/m);
    expect(result.stdout).toMatch(/root EC:secp384r1 sha512, intermediate EC:secp384r1 sha512/);
  });

  it('signs a P-384 CA with SHA-384 by default', async () => {
    await ceremony(sandbox);
    const root = await certificate(join(sandbox.caDir, 'certs/root.crt'));
    expect(root.signatureAlgorithmOid).toBe(SIGNATURE_OID['ecdsa-with-SHA384']);
    expect(new X509Certificate(root.der).publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });
});

describe('p11-kit proxy as --module', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
  });
  afterAll(() => sandbox.cleanup());

  it('runs the ceremony, signs and passes doctor through p11-kit-proxy.so (SoftHSM2 registered with p11-kit)', async () => {
    await ceremony(sandbox, ['--module', P11KIT_PROXY, '--key-type', 'EC:secp256r1']);
    const csr = await makeCsr(sandbox.root, 'proxied');
    await mustCli(sandbox, ['server', csr, '--dir', sandbox.caDir, '--yes']);
    await verifiesAgainstChain(sandbox, csr.replace(/\.csr$/, '.crt'));
    const env = { ...sandbox.env };
    delete env['HSM_CA_PIN'];
    const doctor = await cli(['doctor', '--dir', sandbox.caDir], { env });
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(new RegExp(`^ok {4}module ${P11KIT_PROXY}: \\d+ token\\(s\\), 'CA Token' present`, 'm'));
  });
});
