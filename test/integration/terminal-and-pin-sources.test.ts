import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, cli, exec, makeCsr, makeSandbox, treeHash, type Result, type Sandbox } from './helpers.js';

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`, flushing its typescript as it goes) and types
 * each step's keys once the CLI has printed that step's prompt: typed earlier, the terminal would still
 * echo them, and a line typed before its question would be lost. A string is one step after the first
 * question.
 */
function onTerminal(args: readonly string[], steps: string | ReadonlyArray<readonly [prompt: string, keys: string]>, env: NodeJS.ProcessEnv): Promise<Result> {
  const command = [process.execPath, CLI, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const list = typeof steps === 'string' ? [['PIN for token|Sign the certificate|Revoke the certificate', steps] as const] : steps;
  const stepEnv = Object.fromEntries(list.flatMap(([prompt, keys], i) => [[`PROMPT${i}`, prompt], [`KEYS${i}`, keys]]));
  const typeAfterPrompts = list
    .map((_, i) => `for t in $(seq 600); do grep -qE "$PROMPT${i}" "$TYPESCRIPT" 2>/dev/null && break; sleep 0.1; done; printf "%s" "$KEYS${i}"`)
    .join('; ');
  return exec('bash', ['-c', `TYPESCRIPT=$(mktemp); (${typeAfterPrompts}) | script -qefc "$COMMAND" "$TYPESCRIPT"; status=$?; rm -f "$TYPESCRIPT"; exit $status`], {
    env: { ...env, ...stepEnv, COMMAND: command },
  });
}

describe('PIN sources and the terminal', () => {
  let sandbox: Sandbox;
  let noPinEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    sandbox = await makeSandbox({ pin: '583920' });
    noPinEnv = { ...sandbox.env };
    delete noPinEnv['HSM_CA_PIN'];
    const init = await cli(['init', '--dir', sandbox.caDir, '--token', sandbox.tokenLabel, '--org', 'Tty Test', '--key-type', 'EC:secp256r1'], { env: noPinEnv });
    expect([init.code, init.stdout]).toEqual([0, expect.stringContaining(`CA directory created: ${sandbox.caDir}`)]);
  });
  afterAll(() => sandbox.cleanup());

  it('asks for the PIN on a terminal without echoing it; Ctrl-U clears what was typed and arrow keys never reach the PIN', async () => {
    const result = await onTerminal(['root', '--dir', sandbox.caDir], `99\u0015${sandbox.pin.slice(0, 3)}\u001b[D\u001b[C${sandbox.pin.slice(3)}\r`, noPinEnv);
    expect(result.stdout).toMatch(/PIN for token 'CA Token' \(root key\):/);
    expect(result.stdout).toMatch(/root CA created/);
    expect(result.stdout).not.toContain(sandbox.pin);
  });

  it('reads the PIN from --pin-file, dropping its trailing newline', async () => {
    const pinFile = join(sandbox.root, 'pin.txt');
    await writeFile(pinFile, `${sandbox.pin}\n`, { mode: 0o600 });
    const result = await cli(['intermediate', '--dir', sandbox.caDir, '--pin-file', pinFile], { env: noPinEnv });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect([result.code, result.stdout]).toEqual([0, expect.stringMatching(/^intermediate CA created: /m)]);
  });

  it('shows what is about to be signed and signs nothing when the answer is no', async () => {
    const before = await treeHash(sandbox.caDir);
    const csr = await makeCsr(sandbox.root, 'asked', { sans: 'DNS:asked.example.com' });
    const result = await onTerminal(['server', csr, '--dir', sandbox.caDir], 'n\r', sandbox.env);
    expect(result.stdout).toMatch(/About to sign with the intermediate key \(server certificate\):[\s\S]*DNS:asked\.example\.com[\s\S]*Sign the certificate\? \[y\/n\]/);
    expect(result.stdout).toMatch(/not signed \(answered no\)/);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
    await expect(readFile(join(sandbox.root, 'asked.crt'))).rejects.toThrow(/ENOENT/);
  });

  it('asks again after an unclear answer, and signs on yes', async () => {
    const csr = await makeCsr(sandbox.root, 'unclear');
    const result = await onTerminal(['server', csr, '--dir', sandbox.caDir], [['Sign the certificate', 'maybe\r'], ['Please answer y or n', 'y\r']], sandbox.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Sign the certificate\? \[y\/n\]: [\s\S]*maybe[\s\S]*Please answer y or n: /);
    expect(result.stdout).toMatch(/server certificate issued/);
  });

  it('revoke shows the certificate and asks first; no revokes nothing', async () => {
    const crt = join(sandbox.root, 'unclear.crt');
    const before = await treeHash(sandbox.caDir);
    const result = await onTerminal(['revoke', crt, '--dir', sandbox.caDir, '--reason', 'keyCompromise'], 'n\r', sandbox.env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/About to revoke with the intermediate key, and publish its CRL:[\s\S]*subject +CN=[\s\S]*reason +keyCompromise[\s\S]*Revoke the certificate\? \[y\/n\]/);
    expect(result.stdout).toMatch(/not revoked \(answered no\); nothing was changed/);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
  });

  it('signs when the answer is yes', async () => {
    const csr = await makeCsr(sandbox.root, 'agreed');
    const result = await onTerminal(['server', csr, '--dir', sandbox.caDir], 'y\r', sandbox.env);
    expect(result.stdout).toMatch(/server certificate issued/);
  });
});

describe('an openssl killed by a signal (libp11 0.4.12 segfaults on key-load failures)', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    expect((await cli(['init', '--dir', sandbox.caDir, '--token', sandbox.tokenLabel, '--org', 'Crash Test'], { env: sandbox.env })).code).toBe(0);
  });
  afterAll(() => sandbox.cleanup());

  it('is a failure with a message naming the fix, and the CA directory is unchanged', async () => {
    const bin = join(sandbox.root, 'crash-bin');
    await mkdir(bin);
    await writeFile(join(bin, 'openssl'), '#!/bin/bash\nif [ "$1" = req ]; then echo "PKCS11_get_private_key returned NULL" >&2; kill -SEGV $$; fi\nexec /usr/bin/openssl "$@"\n');
    await chmod(join(bin, 'openssl'), 0o755);
    const before = await treeHash(sandbox.caDir);
    const result = await cli(['root', '--dir', sandbox.caDir], { env: { ...sandbox.env, PATH: `${bin}:${process.env['PATH']}` } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/openssl was killed by SIGSEGV .*libengine-pkcs11-openssl >= 0\.4\.13/);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
    // The key pair made for the failed root was removed, so the same label can be used again.
    const retry = await cli(['root', '--dir', sandbox.caDir], { env: sandbox.env });
    expect(retry.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect([retry.code, retry.stdout]).toEqual([0, expect.stringMatching(/^root CA created: /m)]);
  });
});
