import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ceremony, CLI, exec, makeCsr, makeSandbox, mustExec, type Result, type Sandbox } from './helpers.js';

const GROW = fileURLToPath(new URL('../../scripts/grow-ca.mjs', import.meta.url));
const ISSUED = 2000;

/** The CLI under a small open-file limit (prlimit execs it directly: still no shell). */
function cliWithFewFiles(args: readonly string[], sandbox: Sandbox): Promise<Result> {
  return exec('prlimit', ['--nofile=256', '--', process.execPath, CLI, ...args], { env: sandbox.env });
}

/** Issue 11: a CA with thousands of certificates stays usable, whatever `ulimit -n` says. */
describe(`a CA with ${ISSUED} issued certificates`, () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
    await mustExec(process.execPath, [CLI, 'server', await makeCsr(sandbox.root, 'first'), '--dir', sandbox.caDir], { env: sandbox.env });
    await mustExec(process.execPath, [GROW, '--dir', sandbox.caDir, '--count', String(ISSUED)], { env: sandbox.env });
  }, 300_000);
  afterAll(() => sandbox.cleanup());

  it('list shows every certificate under ulimit -n 256', async () => {
    const result = await cliWithFewFiles(['list', '--dir', sandbox.caDir, '--json'], sandbox);
    expect(result.stderr).toBe('');
    const listed = JSON.parse(result.stdout) as Array<{ serial: string; status: string }>;
    expect(listed).toHaveLength(ISSUED);
    expect(new Set(listed.map((c) => c.serial)).size).toBe(ISSUED);
    expect(listed.every((c) => c.status === 'valid')).toBe(true);
  });

  it('list answers a second time from its cache, yet reads again a certificate file that was replaced', async () => {
    const list = async (): Promise<Array<{ serial: string; subject: string; file: string }>> =>
      JSON.parse(await mustExec(process.execPath, [CLI, 'list', '--dir', sandbox.caDir, '--json'], { env: sandbox.env })) as Array<{ serial: string; subject: string; file: string }>;
    const first = await list();
    expect(readdirSync(join(sandbox.root, 'cache', 'hsm-openssl-ca')).filter((name) => name.startsWith('list-'))).toHaveLength(1);
    expect(await list()).toEqual(first);
    const [a, b] = [first[10]!, first.find((c) => c.subject !== first[10]!.subject)!];
    const original = readFileSync(a.file);
    try {
      copyFileSync(b.file, a.file);
      expect((await list()).find((c) => c.serial === a.serial)!.subject).toBe(b.subject);
    } finally {
      writeFileSync(a.file, original);
    }
    expect(await list()).toEqual(first);
  });

  it('status counts them under ulimit -n 256', async () => {
    const result = await cliWithFewFiles(['status', '--dir', sandbox.caDir, '--warn-days', '1'], sandbox);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`intermediate CA:[^]*issued +${ISSUED} \\(0 revoked\\)`));
  });

  it('check finds the grown CA intact', async () => {
    const result = await exec(process.execPath, [CLI, 'check', '--dir', sandbox.caDir], { env: sandbox.env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/every issuance and revocation recorded/);
  });
});
