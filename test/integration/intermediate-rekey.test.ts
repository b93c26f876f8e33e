import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cert, Crl, pemOrDer } from './certs.js';
import { cli, exec, expectOneLineError, makeCsr, makeSandbox, mustExec, SOFTHSM_MODULE, treeHash, type Sandbox } from './helpers.js';

/**
 * `intermediate --rekey`: a new key for the intermediate. Leaves of the old key keep verifying through the
 * old certificate and are revoked by the old key's CRL at its own URL; the new key's leaves name a new URL.
 */
describe('intermediate --rekey', () => {
  let sandbox: Sandbox;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  let intermediate: string;
  let root: string;
  let before: { pem: string; cert: Cert };
  let archived: string;

  const crlFile = (name: string) => join(dir, 'intermediate', 'crl', name);
  const tokenObjects = () => mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', sandbox.tokenLabel, '--login', '--pin', 'env:HSM_CA_PIN', '--list-objects'], { env });
  const verify = async (leaf: string, issuer: string, crl?: string) => {
    const result = await exec('openssl', ['verify', '-CAfile', root, '-untrusted', issuer, ...(crl ? ['-crl_check', '-CRLfile', crl] : []), leaf]);
    return result.stdout + result.stderr;
  };
  const issue = async (name: string): Promise<string> => {
    const csr = await makeCsr(sandbox.root, name, { subject: `/CN=${name}.rekey.test`, sans: `DNS:${name}.rekey.test` });
    const result = await cli(['server', csr, '--dir', dir], { env });
    expect([result.code, result.stderr]).toEqual([0, expect.not.stringMatching(/hsm-openssl-ca:/)]);
    return join(sandbox.root, `${name}.crt`);
  };

  beforeAll(async () => {
    sandbox = await makeSandbox({ tokenLabel: 'Rekey', pin: '424242' });
    env = sandbox.env;
    dir = sandbox.caDir;
    intermediate = join(dir, 'intermediate', 'certs', 'intermediate.crt');
    root = join(dir, 'certs', 'root.crt');
    for (const args of [
      ['init', '--dir', dir, '--token', 'Rekey', '--org', 'Rekey Co', '--key-type', 'EC:secp256r1', '--crl-url', 'http://pki.rekey.test/intermediate.crl', '--ca-issuers-url', 'http://pki.rekey.test/intermediate.crt'],
      ['root', '--dir', dir],
      ['intermediate', '--dir', dir, '--days', '400', '--permit-dns', 'rekey.test'],
    ]) {
      const result = await cli(args, { env });
      if (result.code !== 0) throw new Error(`${args[0]} exited ${result.code}: ${result.stderr}`);
    }
    before = { pem: await readFile(intermediate, 'utf8'), cert: await Cert.load(intermediate) };
    archived = join(dir, 'intermediate', 'certs', `intermediate-${before.cert.serial}.crt`);
  });
  afterAll(() => sandbox.cleanup());

  it('refuses what does not fit a rekey, before any token is touched', async () => {
    const tree = await treeHash(dir);
    expectOneLineError(await cli(['intermediate', '--rekey', '--renew', '--dir', dir], { env }), /--renew keeps the key and --rekey replaces it: choose one/);
    expectOneLineError(await cli(['intermediate', '--rekey', '--crl-url', 'http://pki.rekey.test/intermediate.crl', '--dir', dir], { env }), /--crl-url http:\/\/pki\.rekey\.test\/intermediate\.crl is already where an earlier key of the intermediate publishes/);
    expectOneLineError(await cli(['intermediate', '--rekey', '--crl-url', 'ftp://x/y.crl', '--dir', dir], { env }), /--crl-url "ftp:\/\/x\/y\.crl" must be an http\(s\) or ldap URL/);
    expectOneLineError(await cli(['intermediate', '--rekey', '--label', 'intermediate', '--dir', dir], { env }), /--label intermediate is the label of an earlier intermediate key; choose a new one/);
    expectOneLineError(await cli(['intermediate', '--crl-url', 'http://pki.rekey.test/x.crl', '--dir', dir], { env }), /--crl-url here applies to --rekey only/);
    expectOneLineError(await cli(['intermediate', '--rekey', '--permit-dns', 'other.test', '--dir', dir], { env }), /--permit-dns\/--permit-ip\/--exclude-dns does not apply to --rekey/);
    expect(await treeHash(dir)).toEqual(tree);
  });

  it('--dry-run shows the new key, its CSR and the root\'s signing, and leaves the directory and the token untouched', async () => {
    const [tree, objects] = [await treeHash(dir), await tokenObjects()];
    const result = await cli(['intermediate', '--rekey', '--dry-run', '--days', '300', '--dir', dir], { env });
    expect([result.code, result.stderr]).toEqual([0, expect.not.stringMatching(/hsm-openssl-ca:/)]);
    expect(result.stdout).toMatch(/intermediate --rekey --dry-run: a new EC:secp256r1 key 'intermediate-2' would be generated on token 'Rekey'.*new key's CRL would go to \S+intermediate-2\.crl for http:\/\/pki\.rekey\.test\/intermediate-2\.crl/);
    expect(result.stdout).toMatch(/pkcs11-tool .*--keypairgen/);
    expect(await treeHash(dir)).toEqual(tree);
    expect(await tokenObjects()).toBe(objects);
  });

  it('makes a new key and certificate; the old key is kept for its CRL, the new key\'s leaves name their own CRL and issuer URLs', async () => {
    const oldLeaf = await issue('before');
    await issue('kept');
    const result = await cli(['intermediate', '--rekey', '--days', '500', '--dir', dir], { env });
    expect([result.code, result.stderr]).toEqual([0, expect.not.stringMatching(/hsm-openssl-ca:/)]);
    expect(result.stdout).toContain(`the old certificate is kept as ${archived}`);
    expect(result.stdout).toContain(`copy ${crlFile('intermediate-2.crl')} to http://pki.rekey.test/intermediate-2.crl`);
    expect(result.stdout).toContain('publish');
    expect(result.stdout).toContain('http://pki.rekey.test/intermediate-2.crt');
    expect(await readFile(archived, 'utf8')).toBe(before.pem);
    // The new key's URL serves a CRL from the start: signed by the new key, in the same change.
    expect((await exec('openssl', ['crl', '-in', crlFile('intermediate-2.crl.pem'), '-noout', '-CAfile', intermediate])).stderr).toMatch(/verify OK/);
    const after = await Cert.load(intermediate);
    expect(after.x509.subject).toBe(before.cert.x509.subject);
    expect(after.spki).not.toEqual(before.cert.spki);
    expect(after.nameConstraints).toEqual(before.cert.nameConstraints);
    const settings = JSON.parse(await readFile(join(dir, 'hsm-openssl-ca.json'), 'utf8'));
    expect(settings.intermediateKey.label).toBe('intermediate-2');
    expect(settings.crlUrl).toBe('http://pki.rekey.test/intermediate-2.crl');
    expect(settings.caIssuersUrl).toBe('http://pki.rekey.test/intermediate-2.crt');
    expect(settings.previousIntermediates).toEqual([
      { key: expect.objectContaining({ label: 'intermediate' }), keyType: 'EC:secp256r1', certificate: `intermediate/certs/intermediate-${before.cert.serial}.crt`, crlUrl: 'http://pki.rekey.test/intermediate.crl', caIssuersUrl: 'http://pki.rekey.test/intermediate.crt' },
    ]);
    const objects = await tokenObjects();
    for (const label of ['intermediate', 'intermediate-2']) expect(objects).toMatch(new RegExp(`Private Key Object; EC\\n +label: +${label}\\n`));

    const newLeaf = await issue('after');
    const [oldCert, newCert] = [await Cert.load(oldLeaf), await Cert.load(newLeaf)];
    expect([oldCert.crlDistributionPoints, oldCert.caIssuers]).toEqual([['URI:http://pki.rekey.test/intermediate.crl'], ['URI:http://pki.rekey.test/intermediate.crt']]);
    expect([newCert.crlDistributionPoints, newCert.caIssuers]).toEqual([['URI:http://pki.rekey.test/intermediate-2.crl'], ['URI:http://pki.rekey.test/intermediate-2.crt']]);
    expect(await verify(oldLeaf, archived)).toMatch(/: OK/);
    expect(await verify(newLeaf, intermediate)).toMatch(/: OK/);
    // The new key's chain does not vouch for the old key's leaves: that is what the old certificate is kept for.
    expect(await verify(oldLeaf, intermediate)).not.toMatch(/: OK/);
  });

  it('revoking an old key\'s leaf publishes both CRLs, each signed by its own key; each revokes only through its own chain', async () => {
    const result = await cli(['revoke', join(sandbox.root, 'before.crt'), '--dir', dir, '--yes'], { env });
    expect([result.code, result.stderr]).toEqual([0, expect.not.stringMatching(/hsm-openssl-ca:/)]);
    expect(result.stdout).toMatch(/earlier key 1 +intermediate key 1 \(intermediate-[0-9A-F]+\.crt\): CRL number \d+, next update [^;]+; copy \S+\/intermediate\.crl to http:\/\/pki\.rekey\.test\/intermediate\.crl/);
    const [oldCrl, newCrl] = [crlFile('intermediate.crl.pem'), crlFile('intermediate-2.crl.pem')];
    expect(await verify(join(sandbox.root, 'before.crt'), archived, oldCrl)).toMatch(/certificate revoked/);
    expect((await Crl.load(oldCrl)).entries.map((e) => e.serial)).toEqual([(await Cert.load(join(sandbox.root, 'before.crt'))).serial]);
    expect(await verify(join(sandbox.root, 'after.crt'), intermediate, newCrl)).toMatch(/: OK/);
    // GnuTLS, given the CRL at each leaf's own URL, with the NAME.chain.crt `server` wrote before and after the rekey.
    const certtool = async (name: string, crl: string) => (await exec('certtool', ['--verify', '--load-ca-certificate', root, '--load-crl', crl, '--infile', join(sandbox.root, `${name}.chain.crt`)])).stdout;
    expect(await certtool('before', oldCrl)).toMatch(/Chain verification output: Not verified\. The certificate is NOT trusted\. The certificate chain is revoked\./);
    expect(await certtool('after', newCrl)).toMatch(/Chain verification output: Verified\./);
    // DER under the CDP's file name, PEM beside it, for both keys.
    for (const name of ['intermediate.crl', 'intermediate-2.crl']) {
      expect(await readFile(crlFile(name))).toEqual(pemOrDer(await readFile(crlFile(`${name}.pem`)), 'X509 CRL'));
    }
    const revokeNew = await cli(['revoke', join(sandbox.root, 'after.crt'), '--dir', dir, '--yes'], { env });
    expect(revokeNew.code).toBe(0);
    expect(await verify(join(sandbox.root, 'after.crt'), intermediate, newCrl)).toMatch(/certificate revoked/);
    const crl = await cli(['crl', '--dir', dir], { env });
    expect([crl.code, crl.stdout]).toEqual([0, expect.stringMatching(/earlier key 1 +intermediate key 1/)]);
    const json = await cli(['crl', '--dir', dir, '--json'], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({ earlierKey1: expect.stringMatching(/^intermediate key 1 .*copy \S+\/intermediate\.crl to http:\/\/pki\.rekey\.test\/intermediate\.crl$/) });
  });

  it('renew --revoke-old of an old key\'s leaf: the new key signs its successor, the old key\'s CRL revokes it', async () => {
    const kept = join(sandbox.root, 'kept.crt');
    const renewed = join(sandbox.root, 'kept-renewed.crt');
    const result = await cli(['renew', kept, '--revoke-old', '--out', renewed, '--dir', dir], { env });
    expect([result.code, result.stderr]).toEqual([0, expect.not.stringMatching(/hsm-openssl-ca:/)]);
    expect(await verify(renewed, intermediate, crlFile('intermediate-2.crl.pem'))).toMatch(/: OK/);
    expect(await verify(kept, archived, crlFile('intermediate.crl.pem'))).toMatch(/certificate revoked/);
    expect((await Cert.load(renewed)).crlDistributionPoints).toEqual(['URI:http://pki.rekey.test/intermediate-2.crl']);
  });

  it('crl --dry-run shows both keys\' CRLs and leaves the directory and the token untouched', async () => {
    const [tree, objects] = [await treeHash(dir), await tokenObjects()];
    const result = await cli(['crl', '--dry-run', '--dir', dir], { env });
    expect([result.code, result.stderr]).toEqual([0, expect.not.stringMatching(/hsm-openssl-ca:/)]);
    expect(result.stdout).toMatch(/crl --dry-run: the intermediate CRL number \d+ would be signed to \S+\/intermediate-2\.crl\.pem, and the CRLs of intermediate key 1 \(intermediate-[0-9A-F]+\.crt\) to \S+\/intermediate\.crl\.pem/);
    expect(result.stdout).toContain(join(dir, 'config', 'intermediate-1-sign_server_csrs.ini'));
    expect(await treeHash(dir)).toEqual(tree);
    expect(await tokenObjects()).toBe(objects);
  });

  it('status, check, list and audit verify see both keys', async () => {
    const status = await cli(['status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/earlier key 1 +intermediate key 1 \(intermediate-[0-9A-F]+\.crt\): pkcs11:\S+object=intermediate\S*, signs only its CRL until [^;]+; CRL next \d{4}-/);
    const check = await cli(['check', '--dir', dir]);
    expect([check.code, check.stderr]).toEqual([0, '']);
    expect(check.stdout).toMatch(/the certificate of an earlier key, kept after `intermediate --rekey`/);
    expect(check.stdout).toContain(crlFile('intermediate-2.crl.pem'));
    const list = await cli(['list', '--dir', dir, '--json']);
    expect((JSON.parse(list.stdout) as { status: string }[]).map((c) => c.status).sort()).toEqual(['revoked', 'revoked', 'revoked', 'valid']);
    const audit = await cli(['audit', 'verify', '--dir', dir]);
    expect([audit.code, audit.stdout]).toEqual([0, expect.stringMatching(/^  ok  hash chain intact/m)]);
  });

  it('a missing certificate of an earlier key: check names it, crl refuses in one line and writes nothing', async () => {
    const { rename } = await import('node:fs/promises');
    await rename(archived, `${archived}.away`);
    try {
      const tree = await treeHash(dir);
      const check = await cli(['check', '--dir', dir]);
      expect(check.code).not.toBe(0);
      expect(check.stdout).toContain(`${archived} is missing; restore it from your backup`);
      expectOneLineError(await cli(['crl', '--dir', dir], { env }), new RegExp(`${archived.replace(/[.]/g, '\\.')}, the certificate of the intermediate's earlier key pkcs11:\\S+, is missing; restore it from your backup`));
      expect(await treeHash(dir)).toEqual(tree);
    } finally {
      await rename(`${archived}.away`, archived);
    }
    expect((await cli(['check', '--dir', dir])).code).toBe(0);
  });
});
