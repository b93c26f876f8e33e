import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ceremony, cli, expectOneLineError, makeCsr, makeSandbox, mustExec, type Sandbox, SOFTHSM_MODULE, SPY_MODULE, treeHash } from './helpers.js';

async function loginsIn(spyLog: string): Promise<{ total: number; incorrect: number }> {
  const text = await readFile(spyLog, 'utf8').catch(() => '');
  return { total: (text.match(/^\d+: C_Login$/gm) ?? []).length, incorrect: (text.match(/CKR_PIN_INCORRECT/g) ?? []).length };
}

describe('before a root exists', () => {
  let sandbox: Sandbox;
  let before: Record<string, string>;

  beforeAll(async () => {
    sandbox = await makeSandbox();
    await mustExec(process.execPath, [(await import('./helpers.js')).CLI, 'init', '--dir', sandbox.caDir, '--token', sandbox.tokenLabel, '--org', 'Acme'], { env: sandbox.env });
    before = await treeHash(sandbox.caDir);
  });
  afterAll(() => sandbox.cleanup());

  const unchanged = async (): Promise<void> => expect(await treeHash(sandbox.caDir)).toEqual(before);

  it('names the package to install when a tool is missing', async () => {
    const bin = join(sandbox.root, 'bin');
    await mkdir(bin, { recursive: true });
    await symlink('/usr/bin/openssl', join(bin, 'openssl')).catch(() => undefined);
    await symlink('/usr/bin/p11tool', join(bin, 'p11tool')).catch(() => undefined);
    const result = await cli(['root', '--dir', sandbox.caDir], { env: { ...sandbox.env, PATH: bin } });
    expectOneLineError(result, /pkcs11-tool not found on PATH; install it \(Debian\/Ubuntu: apt-get install opensc\)/);
    await unchanged();
  });

  it('says when the module does not exist or cannot be loaded', async () => {
    expectOneLineError(await cli(['root', '--dir', sandbox.caDir, '--module', '/nonexistent/libnothing.so'], { env: sandbox.env }), /module \/nonexistent\/libnothing.so does not exist.*check --module/);
    expectOneLineError(await cli(['root', '--dir', sandbox.caDir, '--module', '/etc/hostname'], { env: sandbox.env }), /module \/etc\/hostname could not be loaded.*check --module/);
    await unchanged();
  });

  it('lists the tokens present when the label is wrong', async () => {
    const result = await cli(['root', '--dir', sandbox.caDir, '--token', 'Nope'], { env: sandbox.env });
    expectOneLineError(result, /token 'Nope' \(root key\) not found .*tokens present: 'CA Token'; plug the token in, or check --token/);
    await unchanged();
  });

  it('asks for a PIN source instead of prompting without a terminal', async () => {
    const env = { ...sandbox.env };
    delete env['HSM_CA_PIN'];
    expectOneLineError(await cli(['root', '--dir', sandbox.caDir], { env }), /no PIN for token 'CA Token' \(root key\): set HSM_CA_PIN, pass --pin-file PATH/);
    await unchanged();
  });

  it('a wrong PIN costs exactly one failed login and stops the run', async () => {
    const spyLog = join(sandbox.root, 'spy-root.log');
    const env = { ...sandbox.env, HSM_CA_PIN: '000000', PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog };
    const result = await cli(['root', '--dir', sandbox.caDir, '--module', SPY_MODULE], { env });
    expectOneLineError(result, /rejected the PIN .*not retried/);
    expect(await loginsIn(spyLog)).toEqual({ total: 1, incorrect: 1 });
    await unchanged();
  });

  it('never makes a second key with a label already on the token', async () => {
    await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', sandbox.tokenLabel, '--login', '--pin', 'env:HSM_CA_PIN', '--keypairgen', '--key-type', 'EC:secp256r1', '--label', 'root', '--id', '01'], { env: sandbox.env });
    const result = await cli(['root', '--dir', sandbox.caDir], { env: sandbox.env });
    expectOneLineError(result, /labelled 'root' already exists on token 'CA Token'.*choose another --label/);
    const objects = await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', sandbox.tokenLabel, '--login', '--pin', 'env:HSM_CA_PIN', '--list-objects'], { env: sandbox.env });
    expect(objects.match(/label: +root$/gm)).toHaveLength(2); // the one key pair made above: private + public
    await unchanged();
  });

  it('refuses to sign a server CSR before the CAs exist', async () => {
    const csr = await makeCsr(sandbox.root, 'early');
    expectOneLineError(await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env }), /no intermediate CA yet.*run `hsm-openssl-ca intermediate/);
    await unchanged();
  });
});

describe('signing server CSRs that are wrong', () => {
  let sandbox: Sandbox;
  let before: Record<string, string>;

  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
    before = await treeHash(sandbox.caDir);
  });
  afterAll(() => sandbox.cleanup());

  const unchanged = async (): Promise<void> => expect(await treeHash(sandbox.caDir)).toEqual(before);

  const badCsrs: Array<[string, (dir: string) => Promise<string>, RegExp]> = [
    ['missing', async (dir) => join(dir, 'nothing-here.csr'), /cannot read the CSR .*no such file/],
    ['empty', async (dir) => { const p = join(dir, 'empty.csr'); await writeFile(p, ''); return p; }, /is empty/],
    ['garbage', async (dir) => { const p = join(dir, 'garbage.csr'); await writeFile(p, 'not a certificate request\n'); return p; }, /unreadable/],
    ['a certificate instead of a CSR', async () => join(sandbox.caDir, 'certs/root.crt'), /holds a "CERTIFICATE" PEM block; expected "CERTIFICATE REQUEST"/],
    ['two PEM blocks', async (dir) => {
      const one = await readFile(await makeCsr(dir, 'one'), 'utf8');
      const p = join(dir, 'two.csr');
      await writeFile(p, one + one);
      return p;
    }, /2 PEM blocks; expected exactly one/],
    ['badly signed', async (dir) => {
      const der = Buffer.from((await readFile(await makeCsr(dir, 'tampered'), 'utf8')).replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
      der[der.length - 5] ^= 0x01;
      const p = join(dir, 'tampered.csr');
      await writeFile(p, `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`);
      return p;
    }, /invalid signature/],
    ['an RSA-1024 key', async (dir) => makeCsr(dir, 'weak', { key: ['-newkey', 'rsa:1024'] }), /weak or unsupported key \(RSA 1024\)/],
    ['a wildcard in the middle', async (dir) => makeCsr(dir, 'wild', { sans: 'DNS:a.*.example.com' }), /wildcard is allowed only as the whole leftmost label/],
    ['a file: URI SAN', async (dir) => makeCsr(dir, 'fileuri', { sans: 'URI:file:///etc/passwd' }), /not an absolute URI without spaces/],
  ];

  it.each(badCsrs)('refuses a CSR that is %s, changing nothing', async (_name, make, pattern) => {
    const csr = await make(sandbox.root);
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env });
    expectOneLineError(result, pattern);
    await unchanged();
  });

  it('refuses --days that would outlive the intermediate', async () => {
    const csr = await makeCsr(sandbox.root, 'long');
    expectOneLineError(await cli(['server', csr, '--dir', sandbox.caDir, '--days', '3000'], { env: sandbox.env }), /would outlive the intermediate CA by \d+ days/);
    await unchanged();
  });

  it('a wrong PIN at signing time costs exactly one failed login and leaves the CA directory byte-identical', async () => {
    const csr = await makeCsr(sandbox.root, 'pin');
    const spyLog = join(sandbox.root, 'spy-server.log');
    const env = { ...sandbox.env, HSM_CA_PIN: '000000', PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog };
    const result = await cli(['server', csr, '--dir', sandbox.caDir, '--module', SPY_MODULE], { env });
    expectOneLineError(result, /rejected the PIN/);
    expect(await loginsIn(spyLog)).toEqual({ total: 1, incorrect: 1 });
    await unchanged();
    await expect(readFile(join(sandbox.root, 'pin.crt'))).rejects.toThrow(/ENOENT/);
  });

  it('bad usage exits 2, names the problem and the fix, and makes no CA directory', async () => {
    const noCsr = await cli(['server', '--dir', sandbox.caDir], { env: sandbox.env });
    expect(noCsr.code).toBe(2);
    expectOneLineError(noCsr, /^hsm-openssl-ca: name the CSR\(s\) to sign, pass --from-dir DIR, or pass --new-key NAME/);
    const sha1 = await cli(['init', '--dir', join(sandbox.root, 'x'), '--token', 't', '--org', 'O', '--digest', 'sha1'], { env: sandbox.env });
    expect(sha1.code).toBe(2);
    expectOneLineError(sha1, /--digest sha1 is not allowed; choose one of sha256, sha384, sha512/);
    const newline = await cli(['init', '--dir', join(sandbox.root, 'x'), '--token', 't', '--org', 'O\nbasicConstraints=CA:TRUE'], { env: sandbox.env });
    expect(newline.code).toBe(2);
    expectOneLineError(newline, /--org contains a control character .*; remove it$/);
    await expect(readdir(join(sandbox.root, 'x'))).rejects.toThrow(/ENOENT/);
  });
});
