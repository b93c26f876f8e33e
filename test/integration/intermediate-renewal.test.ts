import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cert } from './certs.js';
import { cli, exec, expectOneLineError, makeCsr, makeSandbox, mustExec, SOFTHSM_MODULE, treeHash, type Sandbox } from './helpers.js';

/** `intermediate --renew` with the root on an offline token of its own: same key, new certificate from the root. */
describe('intermediate --renew', () => {
  let sandbox: Sandbox;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  let intermediate: string;
  let root: string;
  let before: { pem: string; cert: Cert };

  const tokenObjects = async (): Promise<string> =>
    (await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', 'Online', '--login', '--pin', 'env:HSM_CA_PIN', '--list-objects'], { env })) +
    (await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', 'Offline Root', '--login', '--pin', 'env:HSM_CA_ROOT_PIN', '--list-objects'], { env }));
  const verify = (leaf: string, crl?: string) =>
    exec('openssl', ['verify', '-CAfile', root, '-untrusted', intermediate, ...(crl ? ['-crl_check', '-CRLfile', crl] : []), leaf]);
  const issue = async (name: string): Promise<string> => {
    const csr = await makeCsr(sandbox.root, name, { subject: `/CN=${name}.renew.test`, sans: `DNS:${name}.renew.test` });
    const result = await cli(['server', csr, '--dir', dir], { env });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    return join(sandbox.root, `${name}.crt`);
  };

  beforeAll(async () => {
    sandbox = await makeSandbox({ tokenLabel: 'Online', pin: '314159' });
    env = { ...sandbox.env, HSM_CA_ROOT_PIN: '271828', SO_PIN: '87654321' };
    dir = sandbox.caDir;
    intermediate = join(dir, 'intermediate', 'certs', 'intermediate.crt');
    root = join(dir, 'certs', 'root.crt');
    await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--slot-index', '1', '--init-token', '--label', 'Offline Root', '--so-pin', 'env:SO_PIN'], { env });
    await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', 'Offline Root', '--init-pin', '--login', '--login-type', 'so', '--so-pin', 'env:SO_PIN', '--new-pin', 'env:HSM_CA_ROOT_PIN'], { env });
    for (const args of [
      ['init', '--dir', dir, '--token', 'Online', '--root-token', 'Offline Root', '--org', 'Renew Co', '--key-type', 'EC:secp256r1', '--crl-url', 'http://pki.renew.test/intermediate.crl'],
      ['root', '--dir', dir],
      ['intermediate', '--dir', dir, '--days', '400', '--permit-dns', 'renew.test'],
    ]) {
      const result = await cli(args, { env });
      if (result.code !== 0) throw new Error(`${args[0]} exited ${result.code}: ${result.stderr}`);
    }
    const pem = await readFile(intermediate, 'utf8');
    before = { pem, cert: await Cert.load(intermediate) };
  });
  afterAll(() => sandbox.cleanup());

  it('--dry-run shows the root\'s signing and leaves the directory and both tokens untouched', async () => {
    const [tree, objects] = [await treeHash(dir), await tokenObjects()];
    const result = await cli(['intermediate', '--renew', '--dry-run', '--days', '700', '--dir', dir], { env });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/intermediate --renew --dry-run: a CSR from the intermediate's key pkcs11:\S+ would be signed with the root key/);
    expect(result.stdout).not.toMatch(/keypairgen/);
    expect(await treeHash(dir)).toEqual(tree);
    expect(await tokenObjects()).toBe(objects);
  });

  it('refuses what does not apply to a renewal, before any token is touched', async () => {
    const tree = await treeHash(dir);
    expectOneLineError(await cli(['intermediate', '--renew', '--permit-dns', 'other.test', '--dir', dir], { env }), /--permit-dns\/--permit-ip\/--exclude-dns does not apply to --renew .*keeps the intermediate's key, subject and name constraints/);
    expectOneLineError(await cli(['intermediate', '--renew', '--label', 'intermediate', '--dir', dir], { env }), /--label does not apply to --renew/);
    expectOneLineError(await cli(['intermediate', '--csr', join(dir, 'intermediate/csr/intermediate.csr'), '--label', 'other', '--dir', dir], { env }), /with --csr the online CA holds its own key: drop --label/);
    expectOneLineError(await cli(['intermediate', '--renew', '--days', '9000', '--dir', dir], { env }), /--days 9000 would outlive the root CA by \d+ days .*use --days \d+ or less/);
    expect(await treeHash(dir)).toEqual(tree);
  });

  it('a wrong root PIN leaves the directory byte for byte as it was', async () => {
    const tree = await treeHash(dir);
    const result = await cli(['intermediate', '--renew', '--days', '700', '--dir', dir], { env: { ...env, HSM_CA_ROOT_PIN: '999999' } });
    expectOneLineError(result, /token 'Offline Root' \(root key\) rejected the PIN from HSM_CA_ROOT_PIN/);
    expect(await treeHash(dir)).toEqual(tree);
  });

  it('renews over the same key and subject; leaves from before and after verify; the old certificate is kept', async () => {
    const oldLeaf = await issue('before');
    const result = await cli(['intermediate', '--renew', '--days', '700', '--dir', dir], { env });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(result.code).toBe(0);
    const archived = join(dir, 'intermediate', 'certs', `intermediate-${before.cert.serial}.crt`);
    expect(result.stdout).toContain(`the old certificate is kept as ${archived}`);
    expect(await readFile(archived, 'utf8')).toBe(before.pem);
    const after = await Cert.load(intermediate);
    expect(after.serial).not.toBe(before.cert.serial);
    expect(after.x509.subject).toBe(before.cert.x509.subject);
    expect(after.x509.publicKey.export({ type: 'spki', format: 'der' })).toEqual(before.cert.x509.publicKey.export({ type: 'spki', format: 'der' }));
    expect(after.nameConstraints).toEqual(before.cert.nameConstraints);
    expect(after.x509.validTo).not.toBe(before.cert.x509.validTo);
    expect(await readFile(join(dir, 'intermediate', 'certs', 'chain.crt'), 'utf8')).toBe((await readFile(intermediate, 'utf8')) + (await readFile(root, 'utf8')));
    // Only the new certificate in the chain: the old leaf verifies through it (same issuer name and key id).
    expect((await verify(oldLeaf)).stdout).toMatch(/: OK/);
    expect((await verify(await issue('after'))).stdout).toMatch(/: OK/);
    const rootIndex = (await readFile(join(dir, 'index.txt'), 'utf8')).trim().split('\n');
    expect(rootIndex.map((line) => line.split('\t')[3])).toEqual([before.cert.serial, after.serial]);
  });

  it('a CRL signed after the renewal revokes a leaf from before it', async () => {
    expect((await cli(['revoke', join(sandbox.root, 'before.crt'), '--dir', dir, '--yes'], { env })).code).toBe(0);
    const crl = join(dir, 'intermediate', 'crl', 'intermediate.crl.pem');
    const revoked = await verify(join(sandbox.root, 'before.crt'), crl);
    expect(revoked.stdout + revoked.stderr).toMatch(/certificate revoked/);
    expect((await verify(join(sandbox.root, 'after.crt'), crl)).stdout).toMatch(/: OK/);
  });

  it('status, list --root, check and audit verify see the renewed intermediate', async () => {
    const after = await Cert.load(intermediate);
    const status = await cli(['status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(new Date(after.x509.validTo).toISOString().slice(0, 10));
    const list = await cli(['list', '--root', '--dir', dir, '--json']);
    expect(list.code).toBe(0);
    const listed = (JSON.parse(list.stdout) as { serial: string; status: string }[]).map(({ serial, status }) => ({ serial, status }));
    expect(listed).toEqual([{ serial: before.cert.serial, status: 'superseded' }, { serial: after.serial, status: 'valid' }]);
    const check = await cli(['check', '--dir', dir]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(new RegExp(`ok +superseded intermediate certificate \\S+intermediate-${before.cert.serial}\\.crt: expires `));
    const audit = await cli(['audit', 'verify', '--dir', dir]);
    expect([audit.code, audit.stdout]).toEqual([0, expect.stringMatching(/^  ok  hash chain intact/m)]);
    expect((await readdir(join(dir, 'intermediate', 'certs'))).sort()).toEqual([`intermediate-${before.cert.serial}.crt`, 'chain.crt', 'intermediate.crt'].sort());
  });
});
