import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serialOf } from './certs.js';
import { ceremony, CLI, cli, expectOneLineError, makeCsr, makeSandbox, treeHash, type Sandbox } from './helpers.js';

/** Starts the CLI and kills it with `signal` after `afterMs`; resolves when it has exited. */
function runAndKill(args: readonly string[], env: NodeJS.ProcessEnv, signal: NodeJS.Signals, afterMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill(signal), afterMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Starts the CLI and kills it with `signal` once `file` exists; resolves with the exit code (null: died of the signal). */
function runAndKillOnceExists(args: readonly string[], env: NodeJS.ProcessEnv, signal: NodeJS.Signals, file: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: 'ignore' });
    const poll = setInterval(() => {
      if (existsSync(file)) {
        clearInterval(poll);
        child.kill(signal);
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve(code);
    });
  });
}

const serialsIn = async (dir: string): Promise<string[]> =>
  (await readFile(join(dir, 'intermediate/index.txt'), 'utf8')).trim().split('\n').filter(Boolean).map((line) => line.split('\t')[3]!);

describe('crash safety: SIGKILL at random moments during server and revoke', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
  });
  afterAll(() => sandbox.cleanup());

  it('leaves a directory that check passes (or says the next run repairs), and the next signing gets a fresh serial', async () => {
    const victims: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const csr = await makeCsr(sandbox.root, `victim${i}`);
      expect((await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env })).code).toBe(0);
      victims.push(csr.replace(/\.csr$/, '.crt'));
    }
    // Time one full signing: most kills land in its last tenth, where the results are committed.
    const started = Date.now();
    expect((await cli(['server', await makeCsr(sandbox.root, 'timed'), '--dir', sandbox.caDir], { env: sandbox.env })).code).toBe(0);
    const full = Date.now() - started;
    const kills = 30;
    for (let i = 0; i < kills; i += 1) {
      const afterMs = i % 3 === 0 ? Math.floor(Math.random() * full) : Math.floor(full * (0.85 + Math.random() * 0.2));
      if (i % 3 === 2) {
        await runAndKill(['revoke', victims[i % victims.length]!, '--dir', sandbox.caDir], sandbox.env, 'SIGKILL', afterMs);
      } else {
        await runAndKill(['server', await makeCsr(sandbox.root, `k${i}`), '--dir', sandbox.caDir], sandbox.env, 'SIGKILL', afterMs);
      }
      const check = await cli(['check', '--dir', sandbox.caDir]);
      expect({ kill: i, afterMs, broken: check.stdout.split('\n').filter((line) => line.startsWith('BROKEN')) }).toEqual({ kill: i, afterMs, broken: [] });
      expect(check.code).toBe(0);
    }
    const before = await serialsIn(sandbox.caDir);
    const fresh = await makeCsr(sandbox.root, 'after-the-storm');
    const next = await cli(['server', fresh, '--dir', sandbox.caDir], { env: sandbox.env });
    expect(next.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(next.code).toBe(0);
    const serial = await serialOf(fresh.replace(/\.csr$/, '.crt'));
    expect(before).not.toContain(serial);
    expect(await serialsIn(sandbox.caDir)).toContain(serial);
    const audit = await cli(['audit', 'verify', '--dir', sandbox.caDir]);
    expect([audit.code, audit.stdout]).toEqual([0, expect.stringMatching(/^  ok  hash chain intact/m)]);
  });
});

describe('SIGINT and SIGTERM', () => {
  let sandbox: Sandbox;
  let tmp: string;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
    tmp = join(sandbox.root, 'tmp');
    await mkdir(tmp);
  });
  afterAll(() => sandbox.cleanup());

  it.each(['SIGINT', 'SIGTERM'] as const)('%s mid-signing removes the workspace and the lock and changes nothing', async (signal) => {
    // A slow openssl (a shim that says it was reached, then waits before `ca`) gives the signal a moment when the
    // workspace and the lock surely exist; a fixed delay was too short when CI's load slowed the start-up.
    const bin = join(sandbox.root, `slow-${signal}`);
    const reached = join(sandbox.root, `reached-${signal}`);
    await mkdir(bin);
    await writeFile(join(bin, 'openssl'), `#!/bin/bash\nif [ "$1" = ca ]; then : > '${reached}'; sleep 3; fi\nexec /usr/bin/openssl "$@"\n`);
    await chmod(join(bin, 'openssl'), 0o755);
    const before = await treeHash(sandbox.caDir);
    const csr = await makeCsr(sandbox.root, `sig-${signal}`);
    const env = { ...sandbox.env, TMPDIR: tmp, PATH: `${bin}:${process.env['PATH']}` };
    const code = await runAndKillOnceExists(['server', csr, '--dir', sandbox.caDir], env, signal, reached);
    expect(existsSync(reached)).toBe(true);
    expect(code).toBe(signal === 'SIGINT' ? 130 : 143);
    expect(await readdir(tmp)).toEqual([]);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
  });

  it('a failed signing (wrong PIN) leaves no workspace behind either', async () => {
    const csr = await makeCsr(sandbox.root, 'failing');
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: { ...sandbox.env, HSM_CA_PIN: '000000', TMPDIR: tmp } });
    expect(result.code).toBe(1);
    expectOneLineError(result, /rejected the PIN from HSM_CA_PIN/);
    await expect(readFile(join(sandbox.root, 'failing.crt'))).rejects.toThrow(/ENOENT/);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('workspace files are 0600 in a 0700 directory while a signing runs', async () => {
    const bin = join(sandbox.root, 'mode-bin');
    const log = join(sandbox.root, 'modes.log');
    await mkdir(bin);
    // Records the mode of every workspace file openssl is handed, and of its directory.
    await writeFile(
      join(bin, 'openssl'),
      `#!/bin/bash\nfor a in "$@"; do case "$a" in ${tmp}/*) [ -e "$a" ] && stat -c '%a %n' "$a" "$(dirname "$a")" >> '${log}';; esac; done\nexec /usr/bin/openssl "$@"\n`,
    );
    await chmod(join(bin, 'openssl'), 0o755);
    const csr = await makeCsr(sandbox.root, 'modes');
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: { ...sandbox.env, TMPDIR: tmp, PATH: `${bin}:${process.env['PATH']}` } });
    expect([result.code, result.stdout]).toEqual([0, expect.stringMatching(/^server certificate issued/)]);
    const modes = (await readFile(log, 'utf8')).trim().split('\n');
    expect(modes.length).toBeGreaterThan(3);
    for (const line of modes) {
      const [mode, path] = line.split(' ') as [string, string];
      expect({ path, mode }).toEqual({ path, mode: /\.(cnf|ini|csr|crt|key|pem)$/.test(path) ? '600' : '700' });
    }
    expect(await readdir(tmp)).toEqual([]);
  });
});
