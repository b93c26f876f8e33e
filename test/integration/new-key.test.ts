/**
 * Issue 8, point 1, on a real SoftHSM2 token: `server|client --new-key NAME` makes the leaf key itself and
 * delivers key (0600), certificate, chain and, with --p12, a PKCS#12 whose password never reaches an argv.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPublicKey } from 'node:crypto';
import { access, chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cert } from './certs.js';
import { allFileText, ceremony, cli, exec, expectOneLineError, makeSandbox, mustExec, treeHash, type Sandbox } from './helpers.js';

const PASSWORD = 'p12-Secret-4417';
const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);
const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('--new-key and --p12', () => {
  let sandbox: Sandbox;
  let rootCert: string;
  let log: string;
  /** The sandbox's environment with an openssl first on PATH that logs each argv and whether PASSWORD is in its environment. */
  let shimmed: NodeJS.ProcessEnv;

  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox);
    rootCert = join(sandbox.caDir, 'certs/root.crt');
    const realOpenssl = (await mustExec('sh', ['-c', 'command -v openssl'])).trim();
    const bin = join(sandbox.root, 'shim-bin');
    log = join(sandbox.root, 'openssl-argv.log');
    await mkdir(bin);
    // FAIL_TOKEN_CA=1: the token's `openssl ca` (the one given a PIN through -passin) fails, as a token error would.
    await writeFile(
      join(bin, 'openssl'),
      `#!/bin/bash\nif env | grep -qF -- '${PASSWORD}'; then where=env; else where=none; fi\nprintf '%s\\t%s\\n' "$where" "openssl $*" >> '${log}'\nif [ "$FAIL_TOKEN_CA" = 1 ] && [ "$1" = ca ] && [[ " $* " == *" -passin "* ]]; then echo 'token went away' >&2; exit 1; fi\nexec '${realOpenssl}' "$@"\n`,
    );
    await chmod(join(bin, 'openssl'), 0o755);
    shimmed = { ...sandbox.env, PATH: `${bin}:${process.env['PATH']}` };
  });
  afterAll(() => sandbox.cleanup());

  async function outDir(name: string): Promise<string> {
    const dir = join(sandbox.root, name);
    await mkdir(dir);
    return dir;
  }

  describe('server --new-key with --p12', () => {
    let dir: string;
    let stdout: string;

    beforeAll(async () => {
      dir = await outDir('web');
      const result = await cli(['server', '--new-key', 'web.example.test', '--san', 'DNS:www.example.test', '--dir', sandbox.caDir, '--out-dir', dir, '--p12', join(dir, 'web.p12')], { env: { ...shimmed, HSM_CA_P12_PASSWORD: PASSWORD } });
      if (result.code !== 0) throw new Error(`server --new-key exited ${result.code}: ${result.stderr}`);
      stdout = result.stdout;
    });

    it('writes NAME.key (0600), NAME.crt, NAME.chain.crt and the PKCS#12 (0600), and nothing else', async () => {
      expect((await readdir(dir)).sort()).toEqual(['web.example.test.chain.crt', 'web.example.test.crt', 'web.example.test.key', 'web.p12']);
      expect(await mode(join(dir, 'web.example.test.key'))).toBe(0o600);
      expect(await mode(join(dir, 'web.p12'))).toBe(0o600);
    });

    it('issues the certificate for that key, with CN=NAME and NAME plus --san as SANs, verifying to the root through the chain', async () => {
      const cert = await Cert.load(join(dir, 'web.example.test.crt'));
      const key = createPublicKey(await readFile(join(dir, 'web.example.test.key'))).export({ type: 'spki', format: 'der' });
      expect(key.equals(cert.spki)).toBe(true);
      expect(cert.subject).toBe('CN=web.example.test');
      expect(cert.subjectAltNames).toEqual(['DNS:web.example.test', 'DNS:www.example.test']);
      const chain = join(dir, 'web.example.test.chain.crt');
      expect(await readFile(chain, 'utf8')).toBe((await readFile(join(dir, 'web.example.test.crt'), 'utf8')) + (await readFile(join(sandbox.caDir, 'intermediate/certs/intermediate.crt'), 'utf8')));
      expect(await mustExec('openssl', ['verify', '-CAfile', rootCert, '-untrusted', chain, join(dir, 'web.example.test.crt')])).toContain(': OK');
    });

    it('names each file and the next step', () => {
      expect(stdout).toContain(join(dir, 'web.example.test.key'));
      expect(stdout).toContain(join(dir, 'web.p12'));
      expect(stdout).toContain(`ssl_certificate ${join(dir, 'web.example.test.chain.crt')}; ssl_certificate_key ${join(dir, 'web.example.test.key')};`);
    });

    it('makes a PKCS#12 that opens with the password (key, leaf and intermediate, AES-256) and not with another', async () => {
      const info = await exec('openssl', ['pkcs12', '-in', join(dir, 'web.p12'), '-info', '-noout', '-passin', 'env:P12'], { env: { ...process.env, P12: PASSWORD } });
      expect(info.code).toBe(0);
      expect(info.stderr).toMatch(/PBES2, PBKDF2, AES-256-CBC/);
      const contents = await mustExec('openssl', ['pkcs12', '-in', join(dir, 'web.p12'), '-nodes', '-passin', 'env:P12'], { env: { ...process.env, P12: PASSWORD } });
      expect(contents.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
      expect(contents).toContain('BEGIN PRIVATE KEY');
      const wrong = await exec('openssl', ['pkcs12', '-in', join(dir, 'web.p12'), '-info', '-noout', '-passin', 'env:P12'], { env: { ...process.env, P12: 'not-the-password' } });
      expect(wrong.code).not.toBe(0);
    });

    it('opens in Java\'s keytool too, where one is installed', async () => {
      const keytool = await exec('sh', ['-c', 'command -v keytool']);
      if (keytool.code !== 0) return; // not installed here: the openssl check above stands alone
      const list = await exec('keytool', ['-list', '-keystore', join(dir, 'web.p12'), '-storetype', 'PKCS12', '-storepass:env', 'P12'], { env: { ...process.env, P12: PASSWORD } });
      expect(list.stdout).toMatch(/PrivateKeyEntry/);
    });

    it('never puts the password in an argv or the environment of any openssl, nor in the CA directory', async () => {
      const lines = (await readFile(log, 'utf8')).trim().split('\n');
      expect(lines.some((line) => line.includes('openssl pkcs12 -export'))).toBe(true);
      expect(lines.some((line) => line.includes('openssl genpkey'))).toBe(true);
      for (const line of lines) {
        expect(line).not.toContain(PASSWORD);
        expect(line).toMatch(/^none\t/);
      }
      expect(await allFileText(sandbox.caDir)).not.toContain(PASSWORD);
    });

    it('records in the audit log that the key was made here, and where it went', async () => {
      const audit = await readFile(join(sandbox.caDir, 'audit.log'), 'utf8');
      expect(audit).toContain(`server certificate, 375 days, EC:secp256r1 key made here (software) for ${join(dir, 'web.example.test.key')}, PKCS#12 ${join(dir, 'web.p12')}`);
    });
  });

  it('refuses an existing key file before anything is signed, leaving the CA directory and the file as they were', async () => {
    const dir = await outDir('taken');
    await writeFile(join(dir, 'taken.example.test.key'), 'somebody else\'s key\n');
    const before = await treeHash(sandbox.caDir);
    const result = await cli(['server', '--new-key', 'taken.example.test', '--dir', sandbox.caDir, '--out-dir', dir], { env: sandbox.env });
    expectOneLineError(result, /--new-key .*taken\.example\.test\.key already exists; an existing file is never overwritten/);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
    expect(await readdir(dir)).toEqual(['taken.example.test.key']);
    expect(await readFile(join(dir, 'taken.example.test.key'), 'utf8')).toBe('somebody else\'s key\n');
  });

  it('refuses an existing certificate file the same way, naming --new-key rather than --out', async () => {
    const dir = await outDir('taken-crt');
    await writeFile(join(dir, 'old.example.test.crt'), 'an old certificate\n');
    const before = await treeHash(sandbox.caDir);
    const result = await cli(['server', '--new-key', 'old.example.test', '--dir', sandbox.caDir, '--out-dir', dir], { env: sandbox.env });
    expectOneLineError(result, /--new-key .*old\.example\.test\.crt already exists; an existing file is never overwritten — remove it or choose another --new-key/);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
    expect(await readdir(dir)).toEqual(['old.example.test.crt']);
  });

  it('leaves no key behind when the token\'s signing fails', async () => {
    const dir = await outDir('failed');
    const before = await treeHash(sandbox.caDir);
    const result = await cli(['server', '--new-key', 'failed.example.test', '--dir', sandbox.caDir, '--out-dir', dir, '--p12', join(dir, 'failed.p12')], { env: { ...shimmed, FAIL_TOKEN_CA: '1', HSM_CA_P12_PASSWORD: PASSWORD } });
    expectOneLineError(result, /token went away/);
    expect(await readdir(dir)).toEqual([]);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
  });

  it('refuses an empty PKCS#12 password before making anything', async () => {
    const dir = await outDir('empty-password');
    const passwordFile = join(sandbox.root, 'empty.pw');
    await writeFile(passwordFile, '\n');
    const result = await cli(['server', '--new-key', 'empty.example.test', '--dir', sandbox.caDir, '--out-dir', dir, '--p12', join(dir, 'e.p12'), '--p12-password-file', passwordFile], { env: sandbox.env });
    expectOneLineError(result, /PKCS#12 password from --p12-password-file .* is empty/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('--dry-run --json: one JSON document with the key commands, and nothing written', async () => {
    const dir = await outDir('dry');
    const before = await treeHash(sandbox.caDir);
    const result = await cli(['server', '--new-key', 'dry.example.test', '--dir', sandbox.caDir, '--out-dir', dir, '--dry-run', '--json'], { env: sandbox.env });
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout) as { dryRun: boolean; title: string; commands: string[] };
    expect(document.dryRun).toBe(true);
    expect(document.commands[0]).toMatch(/^openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out .*dry\.example\.test\.key$/);
    expect(document.commands.some((command) => /^openssl ca .*-passin env:HSM_CA_PIN/.test(command))).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
  });

  it('client --new-key --key-type rsa:2048 --json: a client certificate for an RSA key, the files in the JSON', async () => {
    const dir = await outDir('alice');
    const result = await cli(['client', '--new-key', 'alice', '--key-type', 'rsa:2048', '--san', 'email:alice@example.test', '--dir', sandbox.caDir, '--out-dir', dir, '--json'], { env: sandbox.env });
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout) as { key: string; chain: string };
    expect(document.key).toContain(join(dir, 'alice.key'));
    const cert = await Cert.load(join(dir, 'alice.crt'));
    const key = createPublicKey(await readFile(join(dir, 'alice.key')));
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.export({ type: 'spki', format: 'der' }).equals(cert.spki)).toBe(true);
    expect(cert.subjectAltNames).toEqual(['email:alice@example.test']);
    expect(await exists(join(dir, 'alice.chain.crt'))).toBe(true);
  });
});
