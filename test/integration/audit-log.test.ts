import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialOf } from './certs.js';
import { ceremony, cli, expectOneLineError, makeCsr, makeSandbox, mustExec, treeHash, type Sandbox } from './helpers.js';

const CLOCK_OFFSET = fileURLToPath(new URL('../fixtures/preload/clock-offset.cjs', import.meta.url));

/** Issue 7: the audit log survives a clock step, and cannot vanish or lose its end unnoticed. */
describe('the audit log against time, deletion and the databases', () => {
  let sandbox: Sandbox;
  let template: string;
  let serial: string;
  let copies = 0;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
    const csr = await makeCsr(sandbox.root, 'www');
    expect((await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env })).code).toBe(0);
    serial = await serialOf(join(sandbox.root, 'www.crt'));
    template = sandbox.caDir;
  });
  afterAll(() => sandbox.cleanup());

  /** A fresh copy of the CA directory (same token), so each case starts from the same state. */
  async function copyCa(): Promise<string> {
    copies += 1;
    const dir = join(sandbox.root, `copy${copies}`);
    await cp(template, dir, { recursive: true });
    return dir;
  }

  it('a run with the clock an hour fast is a warning afterwards: revoke, issue and verify keep working', async () => {
    const dir = await copyCa();
    const fast = { ...sandbox.env, NODE_OPTIONS: `--require ${CLOCK_OFFSET}`, HSM_CA_TEST_CLOCK_OFFSET_MS: String(3600_000) };
    const fastCrl = await cli(['crl', '--dir', dir], { env: fast });
    expect([fastCrl.code, fastCrl.stdout]).toEqual([0, expect.stringMatching(/^CRL published: /)]);
    const revoke = await cli(['revoke', serial, '--dir', dir], { env: sandbox.env });
    expect(revoke.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(revoke.code).toBe(0);
    const afterStep = await cli(['server', await makeCsr(sandbox.root, 'after-step'), '--dir', dir], { env: sandbox.env });
    expect([afterStep.code, afterStep.stdout]).toEqual([0, expect.stringMatching(/^server certificate issued/)]);
    expect(await readFile(join(dir, 'intermediate/index.txt'), 'utf8')).toContain(`\t${await serialOf(join(sandbox.root, 'after-step.crt'))}\t`);
    const verify = await cli(['audit', 'verify', '--dir', dir]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/\(warning\): time .* is earlier than line \d+'s .*clock stepped back/);
    const check = await cli(['check', '--dir', dir]);
    expect(check.stdout).not.toMatch(/^BROKEN/m);
    expect(check.code).toBe(0);
  });

  const damages: [string, (dir: string) => Promise<void>, RegExp][] = [
    ['deleted', (dir) => rm(join(dir, 'audit.log')), /newest \d+ record\(s\) were removed \(the log was deleted or emptied\)/],
    ['emptied', (dir) => writeFile(join(dir, 'audit.log'), ''), /newest \d+ record\(s\) were removed \(the log was deleted or emptied\)/],
    [
      'cut short by its last line',
      async (dir) => {
        const lines = (await readFile(join(dir, 'audit.log'), 'utf8')).trimEnd().split('\n');
        await writeFile(join(dir, 'audit.log'), `${lines.slice(0, -1).join('\n')}\n`);
      },
      /newest 1 record\(s\) were removed/,
    ],
    [
      'deleted together with audit.head',
      async (dir) => {
        await rm(join(dir, 'audit.log'));
        await rm(join(dir, 'audit.head'));
      },
      /has no init record/,
    ],
  ];
  it.each(damages)('a log %s is BROKEN for check and audit verify, and no change is made on it', async (_what, damage, pattern) => {
    const dir = await copyCa();
    await damage(dir);
    const check = await cli(['check', '--dir', dir]);
    expect(check.code).not.toBe(0);
    expect(check.stdout).toMatch(new RegExp(`^BROKEN .*${pattern.source}`, 'm'));
    const verify = await cli(['audit', 'verify', '--dir', dir]);
    expect(verify.code).not.toBe(0);
    expect(verify.stdout).toMatch(pattern);
    const before = await treeHash(dir);
    expectOneLineError(await cli(['crl', '--dir', dir], { env: sandbox.env }), /audit\.log is damaged .*nothing was changed/);
    expect(await treeHash(dir)).toEqual(before);
  });

  it('a change right after another still refuses a log edited in the middle, even with its size and mtime kept', async () => {
    const dir = await copyCa();
    expect((await cli(['crl', '--dir', dir], { env: sandbox.env })).code).toBe(0);
    const path = join(dir, 'audit.log');
    // touch -r copies the nanoseconds; utimes() from JavaScript would round them and change mtime itself.
    await mustExec('cp', ['-p', path, join(sandbox.root, 'mtime-reference')]);
    const original = await readFile(path, 'utf8');
    const edited = original.replace('"command":"root"', '"command":"r00t"');
    expect(edited).not.toBe(original);
    await writeFile(path, edited);
    await mustExec('touch', ['-m', '-r', join(sandbox.root, 'mtime-reference'), path]);
    expect((await stat(path, { bigint: true })).mtimeNs).toBe((await stat(join(sandbox.root, 'mtime-reference'), { bigint: true })).mtimeNs);
    const before = await treeHash(dir);
    expectOneLineError(await cli(['crl', '--dir', dir], { env: sandbox.env }), /audit\.log is damaged \(line \d+: prev does not match.*nothing was changed/);
    expect(await treeHash(dir)).toEqual(before);
  });

  it('names every certificate in the databases that has no record', async () => {
    const dir = await copyCa();
    await rm(join(dir, 'audit.log'));
    await rm(join(dir, 'audit.head'));
    const verify = await cli(['audit', 'verify', '--dir', dir]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(new RegExp(`intermediate/index.txt lists serial ${serial} .*no certificate-issued record`));
    expect(verify.stdout).toMatch(/\/index.txt lists serial [0-9A-F]+ .*Intermediate CA.*no certificate-issued record/);
  });
});
