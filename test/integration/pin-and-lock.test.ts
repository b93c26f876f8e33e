import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serialOf } from './certs.js';
import { allFileText, ceremony, cli, makeCsr, makeSandbox, mustExec, type Sandbox } from './helpers.js';

const TOOLS = ['openssl', 'pkcs11-tool', 'p11tool'];

/** Set in the CLI's environment for an offline root's token: no child may inherit it. */
const ROOT_PIN = '5550173';

/**
 * Puts a logging shim for each tool first on PATH: it records the argv, whether the PIN is in the
 * environment, and whether HSM_CA_ROOT_PIN's value is, then runs the real program.
 */
async function argvShims(dir: string, pin: string): Promise<{ path: string; log: string }> {
  const bin = join(dir, 'shim-bin');
  const log = join(dir, 'argv.log');
  await mkdir(bin, { recursive: true });
  for (const tool of TOOLS) {
    const shim = join(bin, tool);
    await writeFile(
      shim,
      `#!/bin/bash\nif env | grep -qF -- '${pin}'; then where=env; else where=none; fi\nif env | grep -qF -- '${ROOT_PIN}'; then root=root-pin; else root=-; fi\nprintf '%s\\t%s\\t%s\\n' "$where" "${tool} $*" "$root" >> '${log}'\nexec /usr/bin/${tool} "$@"\n`,
    );
    await chmod(shim, 0o755);
  }
  return { path: `${bin}:${process.env['PATH']}`, log };
}

describe('the PIN', () => {
  let sandbox: Sandbox;
  let log: string;
  const outputs: string[] = [];

  beforeAll(async () => {
    sandbox = await makeSandbox({ pin: '7391548' });
    const shims = await argvShims(sandbox.root, sandbox.pin);
    log = shims.log;
    const env = { ...sandbox.env, PATH: shims.path, HSM_CA_ROOT_PIN: ROOT_PIN };
    for (const args of [
      ['init', '--dir', sandbox.caDir, '--token', sandbox.tokenLabel, '--org', 'Pin Test'],
      ['root', '--dir', sandbox.caDir],
      ['intermediate', '--dir', sandbox.caDir],
      ['server', await makeCsr(sandbox.root, 'svc', { sans: 'DNS:svc.example.com' }), '--dir', sandbox.caDir],
    ]) {
      const result = await cli(args, { env });
      if (result.code !== 0) throw new Error(result.stderr);
      outputs.push(result.stdout, result.stderr);
    }
  });
  afterAll(() => sandbox.cleanup());

  it('never appears in any child process\'s argv', async () => {
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const tool of TOOLS) expect(lines.some((line) => line.includes(`\t${tool} `))).toBe(true);
    for (const line of lines) expect(line.split('\t')[1]).not.toContain(sandbox.pin);
  });

  it('reaches a child only through its environment, and only when it logs in', async () => {
    const lines = (await readFile(log, 'utf8')).trim().split('\n').map((line) => line.split('\t') as [string, string]);
    const withPin = lines.filter(([where]) => where === 'env').map(([, command]) => command);
    const withoutPin = lines.filter(([where]) => where === 'none').map(([, command]) => command);
    expect(withPin.every((command) => /--login|-passin env:HSM_CA_PIN/.test(command))).toBe(true);
    expect(withoutPin.some((command) => command.includes('--list-tokens'))).toBe(true);
    expect(withoutPin.some((command) => command.startsWith('openssl verify'))).toBe(true);
    expect(withPin.some((command) => command.includes('--pin env:HSM_CA_PIN'))).toBe(true);
  });

  it('HSM_CA_ROOT_PIN reaches no child: a PIN goes only to a tool that logs in, as that call\'s HSM_CA_PIN', async () => {
    const lines = (await readFile(log, 'utf8')).trim().split('\n').map((line) => line.split('\t'));
    expect(lines.filter(([, , root]) => root !== '-').map(([, command]) => command)).toEqual([]);
  });

  it('is in no output and no file of the CA directory', async () => {
    expect(outputs.join('\n')).not.toContain(sandbox.pin);
    expect(await allFileText(sandbox.caDir)).not.toContain(sandbox.pin);
  });
});

describe('the CA lock', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
  });
  afterAll(() => sandbox.cleanup());

  it('serialises parallel signings: every certificate gets its own serial and index line', async () => {
    const count = 20;
    const csrs = await Promise.all(Array.from({ length: count }, (_, i) => makeCsr(sandbox.root, `p${i}`)));
    const results = await Promise.all(csrs.map((csr) => cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env })));
    for (const result of results) expect({ code: result.code, errors: result.stderr.split('\n').filter((l) => l.startsWith('hsm-openssl-ca:')) }).toEqual({ code: 0, errors: [] });
    const serials = await Promise.all(csrs.map((csr) => serialOf(csr.replace(/\.csr$/, '.crt'))));
    expect(new Set(serials).size).toBe(count);
    const index = (await readFile(join(sandbox.caDir, 'intermediate/index.txt'), 'utf8')).trim().split('\n');
    expect(index).toHaveLength(count);
    for (const csr of csrs) {
      await expect(mustExec('openssl', ['verify', '-CAfile', join(sandbox.caDir, 'certs/root.crt'), '-untrusted', join(sandbox.caDir, 'intermediate/certs/intermediate.crt'), csr.replace(/\.csr$/, '.crt')])).resolves.toMatch(/OK/);
    }
  });
});
