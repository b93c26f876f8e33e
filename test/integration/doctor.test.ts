import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ceremony, cli, makeSandbox, type Sandbox } from './helpers.js';

describe('doctor', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
  });
  afterAll(() => sandbox.cleanup());

  it('reports the tools, libp11, both backends, the token and both CA certificates, without a PIN', async () => {
    const env = { ...sandbox.env };
    delete env['HSM_CA_PIN'];
    const result = await cli(['doctor', '--dir', sandbox.caDir], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok {4}tools: OpenSSL 3\./m);
    expect(result.stdout).toMatch(/^ok {4}libp11 (0\.4\.(1[3-9]|2\d)|engine: no Debian package installed)/m);
    // Both backends are reported, the provider loading wherever this suite runs, and the one this CA uses.
    expect(result.stdout).toMatch(/^ok {4}OpenSSL backends with \S+: provider loads \(pkcs11-provider [^)]+\); engine (loads|does not load) \([^)]+\); this CA uses (provider|engine) \(--backend (auto|engine|provider)\)$/m);
    expect(result.stdout).toMatch(/'CA Token' present/);
    expect(result.stdout).toMatch(/^ok {4}root CA: expires \d{4}-\d\d-\d\d \(36\d\d days\)$/m);
    expect(result.stdout).toMatch(/^ok {4}intermediate CA: expires/m);
  });

  it('fails, listing the tokens present, when the token is not there', async () => {
    const result = await cli(['doctor', '--dir', sandbox.caDir, '--token', 'Elsewhere'], { env: sandbox.env });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL {2}token 'Elsewhere' not found .*tokens present: 'CA Token'$/m);
  });
});
