import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueLeaf, type IssueOptions } from '../../src/ca/signing/issue.js';
import type { ProfileName } from '../../src/ca/signing/profiles.js';
import { run } from '../../src/tools/run.js';
import { ceremony, cli, expectOneLineError, makeCsr, makeSandbox, SOFTHSM_MODULE, SPY_MODULE, treeHash, type Sandbox } from './helpers.js';

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
});
