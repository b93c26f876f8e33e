import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { access, readFile } from 'node:fs/promises';

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);
import { join } from 'node:path';
import { issueLeaf, type IssueOptions } from '../../src/ca/signing/issue.js';
import type { ProfileName } from '../../src/ca/signing/profiles.js';
import { run } from '../../src/tools/run.js';
import { ceremony, cli, expectOneLineError, makeCsr, makeSandbox, mustExec, SOFTHSM_MODULE, SPY_MODULE, treeHash, type Sandbox } from './helpers.js';

/**
 * Shadow first, token second (issue 13): a request the shadow CA refuses never reaches the token's C_Sign.
 * The hand-written name-constraint pre-check would refuse most of these before the shadow runs, so the
 * corpus runs in-process with that pre-check injected away (a seam the CLI never sets): what refuses them
 * here is the shadow CA's certificate failing `openssl verify` against the real name constraints.
 */

/** C_Sign calls (not C_SignInit) in an OpenSC pkcs11-spy log: signatures the token made. */
async function signaturesIn(spyLog: string): Promise<number> {
  return ((await readFile(spyLog, 'utf8').catch(() => '')).match(/^\d+: C_Sign$/gm) ?? []).length;
}

/** Requests outside `--permit-dns example.com --permit-ip 10.0.0.0/8`, the issue's two cases first. */
const OUTSIDE: Array<{ name: string; profile: ProfileName; subject: string; sans?: string }> = [
  { name: 'mapped-ipv6', profile: 'server', subject: '/CN=www.example.com', sans: 'DNS:www.example.com,IP:::ffff:10.1.2.3' },
  { name: 'client-cn', profile: 'client', subject: '/CN=www.evil.com', sans: 'email:ops@example.com' },
  { name: 'client-cn-only', profile: 'client', subject: '/CN=www.evil.com' },
  { name: 'evil-dns', profile: 'server', subject: '/CN=www.evil.com', sans: 'DNS:www.evil.com' },
  { name: 'suffix-not-label', profile: 'server', subject: '/CN=xexample.com', sans: 'DNS:xexample.com' },
  { name: 'inside-then-outside', profile: 'server', subject: '/CN=example.com.evil.org', sans: 'DNS:example.com.evil.org' },
  { name: 'ip-outside', profile: 'server', subject: '/CN=www.example.com', sans: 'DNS:www.example.com,IP:11.0.0.1' },
  { name: 'mapped-hex', profile: 'server-client', subject: '/CN=www.example.com', sans: 'DNS:www.example.com,IP:::ffff:a01:203' },
];

describe('the shadow CA judges every certificate before the token signs', () => {
  let sandbox: Sandbox;
  const saved = { ...process.env };
  let spyRuns = 0;

  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, [], ['--permit-dns', 'example.com', '--permit-ip', '10.0.0.0/8']);
    Object.assign(process.env, { SOFTHSM2_CONF: sandbox.env['SOFTHSM2_CONF'], HSM_CA_PIN: sandbox.pin, PKCS11SPY: SOFTHSM_MODULE });
  });
  afterAll(async () => {
    process.env = saved;
    await sandbox.cleanup();
  });

  /** issueLeaf in-process through pkcs11-spy, without the name-constraint pre-check; the C_Sign count it caused. */
  async function spiedIssue(csrPath: string, profile: ProfileName): Promise<{ outcome: Promise<unknown>; signatures: () => Promise<number> }> {
    const spyLog = join(sandbox.root, `spy-${(spyRuns += 1)}.log`);
    process.env['PKCS11SPY_OUTPUT'] = spyLog;
    const options: IssueOptions = { dir: sandbox.caDir, module: SPY_MODULE, yes: true, run, say: () => undefined, csrPath, days: 30, profile, sans: [], out: join(sandbox.root, `out-${spyRuns}.crt`), nameConstraintPreCheck: () => undefined };
    const outcome = issueLeaf(options);
    await outcome.catch(() => undefined);
    return { outcome, signatures: () => signaturesIn(spyLog) };
  }

  it('signs a request inside the constraints on the token (the spy counts its C_Sign)', async () => {
    const csr = await makeCsr(sandbox.root, 'inside', { subject: '/CN=ok.example.com', sans: 'DNS:ok.example.com,IP:10.1.2.3' });
    const { outcome, signatures } = await spiedIssue(csr, 'server');
    await expect(outcome).resolves.toMatchObject({ checks: expect.arrayContaining([expect.stringMatching(/^token-signed = shadow-signed in every field/)]) });
    expect(await signatures()).toBeGreaterThan(0);
  });

  it.each(OUTSIDE)('refuses $name with the shadow alone: no C_Sign on the token, nothing changed', async ({ name, profile, subject, sans }) => {
    const csr = await makeCsr(sandbox.root, name, { subject, ...(sans ? { sans } : {}) });
    const before = await treeHash(sandbox.caDir);
    const { outcome, signatures } = await spiedIssue(csr, profile);
    expect(await signatures()).toBe(0);
    await expect(outcome).rejects.toThrow(/^the shadow CA refused the certificate, so nothing was signed on the token and nothing was changed: .*(permitted subtree violation|name constraints)/);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
  });

  it('through the CLI, the issue\'s two cases are refused and reach no C_Sign', async () => {
    for (const [name, profile, subject, sans] of [['cli-mapped', 'server', '/CN=www.example.com', 'DNS:www.example.com,IP:::ffff:10.1.2.3'], ['cli-client', 'client', '/CN=www.evil.com', 'email:ops@example.com']] as const) {
      const csr = await makeCsr(sandbox.root, name, { subject, sans });
      const spyLog = join(sandbox.root, `spy-${name}.log`);
      const before = await treeHash(sandbox.caDir);
      const result = await cli([profile, csr, '--dir', sandbox.caDir, '--module', SPY_MODULE, '--out', join(sandbox.root, `${name}.crt`)], { env: { ...sandbox.env, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog } });
      expectOneLineError(result, /name constraint|shadow CA refused/);
      expect(await signaturesIn(spyLog)).toBe(0);
      expect(await treeHash(sandbox.caDir)).toEqual(before);
    }
  });

  describe('--dry-run', () => {
    /** The token's objects, public and private (this listing logs in; the dry run itself never does). */
    const objects = (): Promise<string> => mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', sandbox.tokenLabel, '--login', '--pin', 'env:HSM_CA_PIN', '--list-objects'], { env: sandbox.env });

    /** Runs a dry run without any PIN in the environment; the CA directory and the token are the same after it. */
    async function dryRun(args: readonly string[]): Promise<string> {
      const [tree, listed] = [await treeHash(sandbox.caDir), await objects()];
      const spyLog = join(sandbox.root, `spy-dry-${(spyRuns += 1)}.log`);
      const env = { ...sandbox.env, HSM_CA_PIN: undefined, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog };
      const result = await cli([...args, '--dir', sandbox.caDir, '--module', SPY_MODULE, '--dry-run'], { env });
      expect(result.stderr).not.toMatch(/error/);
      expect(result).toMatchObject({ code: 0 });
      expect(await treeHash(sandbox.caDir)).toEqual(tree);
      expect(await objects()).toBe(listed);
      const spied = await readFile(spyLog, 'utf8').catch(() => '');
      // Resolving the backend loads the module (pkcs11-provider opens a session to enumerate); no login, no signature.
      expect(spied.match(/^\d+: C_(Login|Sign\w*)$/gm) ?? []).toEqual([]);
      expect(result.stdout).toMatch(/^ {2}\$ openssl ca -config \S+ .*-passin env:HSM_CA_PIN /m);
      expect(result.stdout).toContain('nothing was signed on the token and nothing was written');
      return result.stdout;
    }

    it('server and client show the command, the whole config and the shadow certificate as text', async () => {
      const csr = await makeCsr(sandbox.root, 'dry', { subject: '/CN=dry.example.com', sans: 'DNS:dry.example.com' });
      const out = await dryRun(['server', csr]);
      expect(out).toMatch(/config \S+sign_server_csrs\.ini:\n# sign_server_csrs\.ini[\s\S]*\[ leaf_san \]\nDNS\.1 = dry\.example\.com/);
      expect(out).toMatch(/Certificate:\n\s+Data:[\s\S]*Subject: CN ?= ?dry\.example\.com[\s\S]*DNS:dry\.example\.com/);
      expect(await exists(join(sandbox.root, 'dry.crt'))).toBe(false);
      const client = await makeCsr(sandbox.root, 'dry-client', { subject: '/CN=alice', sans: 'email:alice@example.com' });
      expect(await dryRun(['client', client])).toMatch(/TLS Web Client Authentication/);
    });

    it('crl, revoke and renew show the CRL or certificate they would sign', async () => {
      expect(await dryRun(['crl'])).toMatch(/Certificate Revocation List \(CRL\):[\s\S]*No Revoked Certificates/);
      const issued = join(sandbox.root, 'to-revoke.crt');
      const csr = await makeCsr(sandbox.root, 'to-revoke', { subject: '/CN=ok.example.com' });
      expect((await cli(['server', csr, '--dir', sandbox.caDir, '--out', issued], { env: sandbox.env })).code).toBe(0);
      const revoked = await dryRun(['revoke', issued, '--reason', 'keyCompromise']);
      expect(revoked).toMatch(/-revoke \S+ -crl_reason keyCompromise/);
      expect(revoked).toMatch(/Revoked Certificates:\n\s+Serial Number: [0-9A-F]+[\s\S]*Key Compromise/);
      expect(await dryRun(['renew', issued, '--out', join(sandbox.root, 'renewed.crt')])).toMatch(/Subject: CN ?= ?ok\.example\.com/);
    });
  });
});

describe('root --dry-run', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    expect((await cli(['init', '--dir', sandbox.caDir, '--token', sandbox.tokenLabel, '--org', 'Dry Co', '--key-type', 'EC:secp256r1'], { env: sandbox.env })).code).toBe(0);
  });
  afterAll(() => sandbox.cleanup());

  it('shows the key generation, the self-signing command, the config and the shadow root; makes no key, logs in nowhere, writes nothing', async () => {
    const objects = (): Promise<string> => mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', sandbox.tokenLabel, '--login', '--pin', 'env:HSM_CA_PIN', '--list-objects'], { env: sandbox.env });
    const [tree, listed] = [await treeHash(sandbox.caDir), await objects()];
    const spyLog = join(sandbox.root, 'spy-root.log');
    const env = { ...sandbox.env, HSM_CA_PIN: undefined, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog };
    const result = await cli(['root', '--dir', sandbox.caDir, '--module', SPY_MODULE, '--dry-run'], { env });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(result.code).toBe(0);
    expect(await treeHash(sandbox.caDir)).toEqual(tree);
    expect(await objects()).toBe(listed);
    expect((await readFile(spyLog, 'utf8').catch(() => '')).match(/^\d+: C_(Login|Sign\w*|GenerateKeyPair)$/gm) ?? []).toEqual([]);
    expect(result.stdout).toMatch(/^root --dry-run: a EC:secp256r1 key 'root' would be generated on token 'CA Token'/m);
    expect(result.stdout).toMatch(/^ {2}\$ pkcs11-tool --module \S+ --token-label 'CA Token' --login --pin env:HSM_CA_PIN --keypairgen --key-type EC:secp256r1 --label root --id ID$/m);
    expect(result.stdout).toMatch(/^ {2}\$ openssl req -config \S+create_root_cert\.ini .*-passin env:HSM_CA_PIN -key 'pkcs11:token=CA%20Token;object=root;id=ID;type=private' -new -x509 -days 3650 /m);
    expect(result.stdout).toMatch(/config \S+create_root_cert\.ini:\n[\s\S]*\[ v3_ca \]/);
    expect(result.stdout).toMatch(/Certificate:\n\s+Data:[\s\S]*Subject: .*CN ?= ?Dry Co Root CA[\s\S]*CA:TRUE/);
    // Nothing held: the real ceremony goes on at once.
    const real = await cli(['root', '--dir', sandbox.caDir], { env: sandbox.env });
    expect([real.code, real.stdout]).toEqual([0, expect.stringMatching(/^root CA created: .*certs\/root\.crt$/m)]);
    expect(await mustExec('openssl', ['x509', '-in', join(sandbox.caDir, 'certs/root.crt'), '-noout', '-subject'])).toMatch(/CN ?= ?Dry Co Root CA$/m);
  });
});

describe('intermediate --dry-run', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    for (const args of [['init', '--dir', sandbox.caDir, '--token', sandbox.tokenLabel, '--org', 'Dry Co', '--key-type', 'EC:secp256r1'], ['root', '--dir', sandbox.caDir]]) {
      expect((await cli(args, { env: sandbox.env })).code).toBe(0);
    }
  });
  afterAll(() => sandbox.cleanup());

  it('shows key generation, CSR and the root\'s signature with the name constraints; makes no key, logs in nowhere, writes nothing', async () => {
    const objects = (): Promise<string> => mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', sandbox.tokenLabel, '--login', '--pin', 'env:HSM_CA_PIN', '--list-objects'], { env: sandbox.env });
    const [tree, listed] = [await treeHash(sandbox.caDir), await objects()];
    const spyLog = join(sandbox.root, 'spy-intermediate.log');
    const env = { ...sandbox.env, HSM_CA_PIN: undefined, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog };
    const result = await cli(['intermediate', '--dir', sandbox.caDir, '--module', SPY_MODULE, '--permit-dns', 'dry.test', '--dry-run'], { env });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(result.code).toBe(0);
    expect(await treeHash(sandbox.caDir)).toEqual(tree);
    expect(await objects()).toBe(listed);
    expect((await readFile(spyLog, 'utf8').catch(() => '')).match(/^\d+: C_(Login|Sign\w*|GenerateKeyPair)$/gm) ?? []).toEqual([]);
    expect(result.stdout).toMatch(/^ {2}\$ pkcs11-tool .* --keypairgen --key-type EC:secp256r1 --label intermediate --id ID$/m);
    expect(result.stdout).toMatch(/^ {2}\$ openssl req -config \S+create_intermediate_csr\.ini .*-key 'pkcs11:token=CA%20Token;object=intermediate;id=ID;type=private' -new /m);
    expect(result.stdout).toMatch(/^ {2}\$ openssl ca -config \S+sign_intermediate_csr\.ini .*-extensions v3_intermediate_ca /m);
    expect(result.stdout).toMatch(/Subject: .*CN ?= ?Dry Co Intermediate CA[\s\S]*CA:TRUE, pathlen:0[\s\S]*Permitted:\s+DNS:dry\.test/);
    const real = await cli(['intermediate', '--dir', sandbox.caDir], { env: sandbox.env });
    expect([real.code, real.stdout]).toEqual([0, expect.stringMatching(/^intermediate CA created: .*intermediate\/certs\/intermediate\.crt$/m)]);
    const verified = await mustExec('openssl', ['verify', '-CAfile', join(sandbox.caDir, 'certs/root.crt'), join(sandbox.caDir, 'intermediate/certs/intermediate.crt')]);
    expect(verified).toMatch(/: OK$/m);
  });
});
