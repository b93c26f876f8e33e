/**
 * Issue 7, points 7, 10 and 11, on a real SoftHSM2 token: random serials that are unique against the database,
 * --out checked before the token is touched and written exclusively, and CRL entries for reason
 * `unspecified` without a reasonCode (RFC 5280 §5.3.1).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { access, chmod, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cert, Crl } from './certs.js';
import { ceremony, cli, expectOneLineError, makeCsr, makeSandbox, mustExec, SOFTHSM_MODULE, SPY_MODULE, treeHash, type Sandbox } from './helpers.js';

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);
const indexLines = async (databaseDir: string): Promise<string[]> => (await readFile(join(databaseDir, 'index.txt'), 'utf8')).trimEnd().split('\n').filter(Boolean);

describe('serials, --out and CRL reasons', () => {
  let sandbox: Sandbox;
  let intermediateDir: string;
  let realOpenssl: string;

  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox);
    intermediateDir = join(sandbox.caDir, 'intermediate');
    realOpenssl = (await mustExec('sh', ['-c', 'command -v openssl'])).trim();
  });
  afterAll(() => sandbox.cleanup());

  async function issue(name: string, extra: readonly string[] = []): Promise<string> {
    const csr = await makeCsr(sandbox.root, name);
    const out = join(sandbox.root, `${name}.crt`);
    const result = await cli(['server', csr, '--dir', sandbox.caDir, '--out', out, ...extra], { env: sandbox.env });
    if (result.code !== 0) throw new Error(`server ${name} exited ${result.code}: ${result.stderr}`);
    return out;
  }

  it('gives every certificate (root, intermediate, leaves) a random serial of 64 bits or more, never a counter', async () => {
    const leaves = [];
    for (let i = 0; i < 5; i += 1) leaves.push(await issue(`serial-${i}`));
    const paths = [join(sandbox.caDir, 'certs/root.crt'), join(intermediateDir, 'certs/intermediate.crt'), ...leaves];
    const values = await Promise.all(paths.map(async (path) => BigInt(`0x${(await Cert.load(path)).serial}`)));
    for (const value of values) {
      expect(value.toString(2).length).toBeGreaterThanOrEqual(64);
      expect(value.toString(2).length).toBeLessThanOrEqual(159); // positive within 20 octets: no sign bit to pad
    }
    expect(new Set(values).size).toBe(values.length);
    for (const a of values) for (const b of values) expect(a - b === 1n).toBe(false);
    // A new CA has no serial counter at all.
    expect(await exists(join(sandbox.caDir, 'serial'))).toBe(false);
    expect(await exists(join(intermediateDir, 'serial'))).toBe(false);
  });

  /**
   * An `openssl` in front of the real one that makes `openssl ca` sign serial SERIAL (drops rand_serial, writes
   * the staged database's `serial` file); with DROP=1 it also removes that serial's line from the staged
   * index.txt, so openssl's own duplicate check passes and only ours is left.
   */
  async function collidingOpenssl(serial: string, drop: boolean): Promise<NodeJS.ProcessEnv> {
    const bin = join(sandbox.root, `bin-${drop ? 'drop' : 'keep'}`);
    await mkdir(bin, { recursive: true });
    const script = `#!/bin/bash
config=""; signing=0; prev=""
for arg in "$@"; do
  [ "$prev" = "-config" ] && config="$arg"
  [ "$arg" = "-in" ] && signing=1
  prev="$arg"
done
if [ "$1" = "ca" ] && [ "$signing" = 1 ]; then
  dir=$(sed -n 's/^dir *= *//p' "$config")
  sed -i 's/^rand_serial .*$/serial = $dir\\/serial/' "$config"
  echo ${serial} > "$dir/serial"
  if [ "${drop ? 1 : 0}" = 1 ]; then sed -i "/\\t${serial}\\t/d" "$dir/index.txt"; fi
fi
exec ${realOpenssl} "$@"
`;
    await writeFile(join(bin, 'openssl'), script);
    await chmod(join(bin, 'openssl'), 0o755);
    return { ...sandbox.env, PATH: `${bin}:${process.env['PATH']}` };
  }

  it('refuses, and does not issue, a certificate whose serial index.txt already holds', async () => {
    const taken = (await Cert.load(await issue('collide-target'))).serial;
    for (const drop of [false, true]) {
      const csr = await makeCsr(sandbox.root, `collide-${drop}`);
      const out = join(sandbox.root, `collide-${drop}.crt`);
      const before = await treeHash(sandbox.caDir);
      const result = await cli(['server', csr, '--dir', sandbox.caDir, '--out', out], { env: await collidingOpenssl(taken, drop) });
      // Without DROP openssl ca refuses it itself; with DROP it signs, and our check refuses it before any commit.
      expectOneLineError(result, drop ? new RegExp(`openssl signed serial ${taken}, which index.txt already holds; nothing was changed`) : new RegExp(`openssl ca drew serial ${taken}, which index.txt already holds, and refused to sign; nothing was changed`));
      expect(await treeHash(sandbox.caDir)).toEqual(before);
      expect(await exists(out)).toBe(false);
    }
  });

  describe('--out', () => {
    async function refusedBeforeTheToken(out: string, pattern: RegExp): Promise<void> {
      const csr = join(sandbox.root, 'out-test.csr');
      if (!(await exists(csr))) await makeCsr(sandbox.root, 'out-test');
      const before = await treeHash(sandbox.caDir);
      const spyLog = join(sandbox.root, `spy-${Date.now()}.log`);
      const env = { ...sandbox.env, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog };
      const result = await cli(['server', csr, '--dir', sandbox.caDir, '--module', SPY_MODULE, '--out', out], { env });
      expectOneLineError(result, pattern);
      expect(result.code).toBe(2);
      expect(await treeHash(sandbox.caDir)).toEqual(before);
      expect(await readFile(spyLog, 'utf8').catch(() => '')).toBe(''); // no PKCS#11 call at all
    }

    it('is refused inside the CA directory, also through a symlink, before the token is touched', async () => {
      const inside = /is inside the CA directory .*; write it outside/;
      await refusedBeforeTheToken(join(intermediateDir, 'crl', 'intermediate.crl.pem'), inside);
      await refusedBeforeTheToken(join(sandbox.caDir, '.hsm-openssl-ca.lock'), inside);
      await symlink(join(intermediateDir, 'certs'), join(sandbox.root, 'looks-outside'));
      await refusedBeforeTheToken(join(sandbox.root, 'looks-outside', 'www.crt'), inside);
    });

    it('is refused in a missing directory with a clear error, and nothing is issued', async () => {
      const lines = await indexLines(intermediateDir);
      await refusedBeforeTheToken(join(sandbox.root, 'missing-dir', 'www.crt'), /the directory .*missing-dir does not exist; create it first or choose another --out/);
      expect(await indexLines(intermediateDir)).toEqual(lines);
    });

    it('is refused when the file exists, and renew checks it the same way', async () => {
      const existing = await issue('out-exists');
      await refusedBeforeTheToken(existing, /already exists; an existing file is never overwritten/);
      const before = await treeHash(sandbox.caDir);
      const result = await cli(['renew', existing, '--dir', sandbox.caDir, '--out', join(intermediateDir, 'x.crt')], { env: sandbox.env });
      expectOneLineError(result, /is inside the CA directory/);
      expect(await treeHash(sandbox.caDir)).toEqual(before);
    });

    it('three parallel runs with the same --out: exactly one issues, the others fail cleanly', async () => {
      const csrs = await Promise.all([0, 1, 2].map((i) => makeCsr(sandbox.root, `race-${i}`)));
      const out = join(sandbox.root, 'race.crt');
      const lines = (await indexLines(intermediateDir)).length;
      const newcerts = (await readdir(join(intermediateDir, 'newcerts'))).length;
      const results = await Promise.all(csrs.map((csr) => cli(['server', csr, '--dir', sandbox.caDir, '--out', out], { env: sandbox.env })));
      expect(results.filter((r) => r.code === 0)).toHaveLength(1);
      for (const failed of results.filter((r) => r.code !== 0)) expectOneLineError(failed, /race\.crt already exists; an existing file is never overwritten/);
      expect(await indexLines(intermediateDir)).toHaveLength(lines + 1);
      expect(await readdir(join(intermediateDir, 'newcerts'))).toHaveLength(newcerts + 1);
      const issued = await Cert.load(out);
      expect((await indexLines(intermediateDir)).at(-1)!.split('\t')[3]).toBe(issued.serial);
    });
  });

  it('lists a certificate revoked as unspecified on the CRL without a reasonCode, and keyCompromise with one', async () => {
    const unspecified = await issue('revoke-unspecified');
    const compromised = await issue('revoke-compromised');
    for (const [path, reason] of [[unspecified, 'unspecified'], [compromised, 'keyCompromise']] as const) {
      const result = await cli(['revoke', path, '--reason', reason, '--dir', sandbox.caDir], { env: sandbox.env });
      expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
      expect(result.code).toBe(0);
    }
    const crl = await Crl.load(join(intermediateDir, 'crl', 'intermediate.crl.pem'));
    const serialOfUnspecified = (await Cert.load(unspecified)).serial;
    const serialOfCompromised = (await Cert.load(compromised)).serial;
    expect(crl.entries.find((e) => e.serial === serialOfUnspecified)).toEqual({ serial: serialOfUnspecified, reason: undefined });
    expect(crl.entries.find((e) => e.serial === serialOfCompromised)).toEqual({ serial: serialOfCompromised, reason: 1 });
    // index.txt records no reason either, so every later CRL stays without one.
    const line = (await indexLines(intermediateDir)).find((l) => l.split('\t')[3] === serialOfUnspecified)!;
    expect(line.split('\t')[2]).toMatch(/^\d{12}Z$/);
  });
});
