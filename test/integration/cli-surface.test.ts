import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, CLI, exec } from './helpers.js';

/** What a script or a newcomer meets before any token is involved: version, help pages, the CA directory from the environment. */
describe('the command line itself', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'hsm-ca-cli-'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it('--version prints the package version and exits 0', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await cli([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`${version}\n`);
    }
  });

  it('a reader that closes the pipe early (`--help | head`) gets no stack trace and exit 0', async () => {
    // `true` exits before node has written anything, so every write meets a closed pipe (EPIPE).
    const result = await exec('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${CLI}" intermediate --help | true`]);
    expect([result.code, result.stderr]).toEqual([0, '']);
  });

  it('the main help lists the exit codes and HSM_CA_DIR', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Exit codes:\n  0 .*\n  1 .*\n(?:.*\n)*  2   bad usage.*\n  70  internal error/m);
    expect(help.stdout).toContain('--dir, else HSM_CA_DIR');
  });

  const commands = ['init', 'root', 'intermediate', 'server', 'client', 'revoke', 'crl', 'renew', 'list', 'show', 'status', 'check', 'doctor', 'audit verify'];
  it.each(commands)('`%s --help` shows an example that starts with the program name', async (command) => {
    const help = await cli([...command.split(' '), '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`\\nExamples?:\\n  \\$ hsm-openssl-ca ${command} `));
  });

  it('server, client and renew offer no option of the root token; root, intermediate, revoke and crl do', async () => {
    for (const command of ['server', 'client', 'renew']) {
      const help = await cli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('--pin-file');
      expect(help.stdout).not.toMatch(/--root-(module|token|pin-file)/);
      const refused = await cli([command, 'x.csr', '--root-pin-file', '/dev/null']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^error: unknown option '--root-pin-file'/);
    }
    for (const command of ['root', 'intermediate', 'revoke', 'crl']) {
      expect((await cli([command, '--help'])).stdout).toMatch(/--root-pin-file <path>/);
    }
  });

  it('a second CSR makes a batch, never silently ignored: with --out (one certificate) it is refused with exit 2', async () => {
    const result = await cli(['server', 'a.csr', 'b.csr', '--out', 'a.crt', '--dir', work]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^hsm-openssl-ca: --out names one certificate; for several CSRs pass --out-dir DIR/);
  });

  it('--json on any command: one JSON document on stdout, errors as {"error": {"code", "message"}}', async () => {
    const dir = join(work, 'json-ca');
    const made = await cli(['init', '--dir', dir, '--org', 'Json Co', '--token', 'Json Token', '--json']);
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ title: `CA directory created: ${dir}`, token: 'Json Token', next: `hsm-openssl-ca root --dir ${dir}` });
    const checked = await cli(['check', '--dir', dir, '--json']);
    expect(checked.code).toBe(0);
    expect(JSON.parse(checked.stdout)).toEqual({ findings: expect.arrayContaining([{ level: 'ok', text: expect.stringMatching(/^settings /) }]) });
    const usage = await cli(['server', '--json']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({ error: { code: 2, message: 'name the CSR(s) to sign, pass --from-dir DIR, or pass --new-key NAME to have the key made here' } });
    const refused = await cli(['list', '--dir', dir, '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toEqual({ error: { code: 1, message: `no intermediate CA yet in ${dir}; run \`hsm-openssl-ca intermediate --dir ${dir}\` first` } });
    for (const command of ['root', 'intermediate', 'server', 'client', 'revoke', 'crl', 'renew', 'show', 'status', 'check', 'doctor', 'audit verify']) {
      expect((await cli([...command.split(' '), '--help'])).stdout).toContain('--json');
    }
  });

  it('HSM_CA_DIR stands for --dir, and --dir wins over it', async () => {
    const dir = join(work, 'ca');
    const made = await cli(['init', '--org', 'Env Co', '--token', 'Env Token'], { env: { ...process.env, HSM_CA_DIR: dir }, cwd: work });
    expect([made.code, made.stdout]).toEqual([0, expect.stringContaining(`CA directory created: ${dir}`)]);
    expect(JSON.parse(await readFile(join(dir, 'hsm-openssl-ca.json'), 'utf8'))).toMatchObject({ subject: expect.objectContaining({ organization: 'Env Co' }) });
    const listed = await cli(['list'], { env: { ...process.env, HSM_CA_DIR: dir }, cwd: work });
    expect(listed.code).toBe(1);
    expect(listed.stderr).toBe(`hsm-openssl-ca: no intermediate CA yet in ${dir}; run \`hsm-openssl-ca intermediate --dir ${dir}\` first\n`);
    const elsewhere = await cli(['list', '--dir', join(work, 'none')], { env: { ...process.env, HSM_CA_DIR: dir }, cwd: work });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/no CA in .*none/);
  });
});
