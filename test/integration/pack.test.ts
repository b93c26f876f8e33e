import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, makeCsr, makeSandbox, mustExec, type Sandbox } from './helpers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

describe('the npm package', () => {
  let sandbox: Sandbox;
  let tarball: string;
  let app: string;

  beforeAll(async () => {
    sandbox = await makeSandbox();
    // dist/ is fresh: `npm test` builds before running jest, so the pack skips its prepack build.
    const packed = await mustExec('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', sandbox.root], { cwd: REPO });
    tarball = join(sandbox.root, packed.trim().split('\n').at(-1)!);
    app = join(sandbox.root, 'app');
    await mkdir(app);
    await mustExec('npm', ['init', '-y'], { cwd: app });
    await mustExec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app });
  }, 300_000);
  afterAll(() => sandbox.cleanup());

  it('carries the compiled code and the templates, not the sources or tests', async () => {
    const files = (await mustExec('tar', ['-tzf', tarball])).trim().split('\n');
    expect(files).toContain('package/dist/cli.js');
    for (const template of ['create_root_cert.ini', 'create_intermediate_csr.ini', 'sign_intermediate_csr.ini', 'sign_server_csrs.ini']) {
      expect(files).toContain(`package/templates/${template}.hbs`);
    }
    expect(files.filter((file) => /^package\/(src|test)\//.test(file))).toEqual([]);
  });

  it('carries the MIT licence its package.json names, and no source maps without their sources', async () => {
    const files = (await mustExec('tar', ['-tzf', tarball])).trim().split('\n');
    expect(files).toContain('package/LICENSE');
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
    const licence = await mustExec('tar', ['-xzOf', tarball, 'package/LICENSE']);
    expect(licence).toMatch(/^MIT License\n/);
    expect(JSON.parse(await mustExec('tar', ['-xzOf', tarball, 'package/package.json']))).toMatchObject({ license: 'MIT' });
  });

  it('runs as `npx hsm-openssl-ca` from an empty folder and performs the whole ceremony', async () => {
    const help = await exec('npx', ['--no-install', 'hsm-openssl-ca', '--help'], { cwd: app, env: sandbox.env });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/init .*\n.*root .*\n.*intermediate .*\n.*server/s);
    const dir = join(sandbox.root, 'ca');
    const steps = [
      ['init', '--dir', dir, '--token', sandbox.tokenLabel, '--org', 'Packed'],
      ['root', '--dir', dir],
      ['intermediate', '--dir', dir],
      ['server', await makeCsr(sandbox.root, 'packed', { sans: 'DNS:packed.example.com' }), '--dir', dir],
    ];
    for (const args of steps) {
      const result = await exec('npx', ['--no-install', 'hsm-openssl-ca', ...args], { cwd: app, env: sandbox.env });
      expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
      expect(result.code).toBe(0);
    }
    await expect(mustExec('openssl', ['verify', '-CAfile', join(dir, 'certs/root.crt'), '-untrusted', join(dir, 'intermediate/certs/intermediate.crt'), join(sandbox.root, 'packed.crt')])).resolves.toMatch(/OK/);
  });
});
