import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cert, serialOf } from './certs.js';
import { cli, expectOneLineError, makeCsr, makeSandbox, mustExec, SOFTHSM_MODULE, treeHash, type Sandbox } from './helpers.js';

describe('an offline root on a token of its own', () => {
  let sandbox: Sandbox;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    sandbox = await makeSandbox({ tokenLabel: 'Online', pin: '314159' });
    env = { ...sandbox.env, HSM_CA_ROOT_PIN: '271828', SO_PIN: '87654321' };
    await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--slot-index', '1', '--init-token', '--label', 'Offline Root', '--so-pin', 'env:SO_PIN'], { env });
    await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', 'Offline Root', '--init-pin', '--login', '--login-type', 'so', '--so-pin', 'env:SO_PIN', '--new-pin', 'env:HSM_CA_ROOT_PIN'], { env });
  });
  afterAll(() => sandbox.cleanup());

  const keysOn = async (label: string, pinEnv: string): Promise<string[]> =>
    ((await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', label, '--login', '--pin', `env:${pinEnv}`, '--list-objects', '--type', 'privkey'], { env })).match(/label: +(\S+)/g) ?? []).map((l) => l.split(/ +/)[1]!);

  it('keeps the root key on the root token and the intermediate key on the online token, each with its own PIN', async () => {
    for (const args of [
      ['init', '--dir', sandbox.caDir, '--token', 'Online', '--root-token', 'Offline Root', '--org', 'Split Co', '--key-type', 'EC:secp256r1'],
      ['root', '--dir', sandbox.caDir],
      ['intermediate', '--dir', sandbox.caDir],
    ]) {
      const result = await cli(args, { env });
      expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    }
    expect(await keysOn('Offline Root', 'HSM_CA_ROOT_PIN')).toEqual(['root']);
    expect(await keysOn('Online', 'HSM_CA_PIN')).toEqual(['intermediate']);
  });

  it('says which token a step needs before asking for its PIN', async () => {
    const noRootPin = { ...env };
    delete noRootPin['HSM_CA_ROOT_PIN'];
    const result = await cli(['crl', '--root', '--dir', sandbox.caDir], { env: noRootPin });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/this step needs token 'Offline Root' \(root key\)[\s\S]*no PIN for token 'Offline Root' \(root key\): set HSM_CA_ROOT_PIN, pass --root-pin-file PATH/);
  });

  // Issue 7: a wrong root PIN names the root token and the variable it came from, not HSM_CA_PIN.
  it('a wrong root PIN names the root token and HSM_CA_ROOT_PIN; a wrong online PIN names HSM_CA_PIN', async () => {
    const wrongRoot = await cli(['crl', '--root', '--dir', sandbox.caDir], { env: { ...env, HSM_CA_ROOT_PIN: '999999' } });
    expectOneLineError(wrongRoot, /token 'Offline Root' \(root key\) rejected the PIN from HSM_CA_ROOT_PIN /);
    const wrongOnline = await cli(['crl', '--dir', sandbox.caDir], { env: { ...env, HSM_CA_PIN: '999999' } });
    expectOneLineError(wrongOnline, /token 'Online' \(intermediate key\) rejected the PIN from HSM_CA_PIN /);
  });

  it('signs an online CA\'s intermediate (intermediate --csr) with the offline root\'s token and PIN alone', async () => {
    await mustExec('openssl', ['req', '-new', '-nodes', '-batch', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', join(sandbox.root, 'online-ca.key'), '-subj', '/CN=Online Issuing CA', '-out', join(sandbox.root, 'online-ca.csr')]);
    const rootOnly = { ...env };
    delete rootOnly['HSM_CA_PIN'];
    const handOver = join(sandbox.root, 'online-handover');
    await mkdir(handOver);
    const signed = await cli(['intermediate', '--csr', join(sandbox.root, 'online-ca.csr'), '--dir', sandbox.caDir, '--out-dir', handOver], { env: rootOnly });
    expect(signed.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(signed.code).toBe(0);
    expect(signed.stderr).toMatch(/token 'Offline Root' \(root key\)/);
    expect(signed.stderr).not.toMatch(/token 'Online'/);
    const verified = await mustExec('openssl', ['verify', '-CAfile', join(sandbox.caDir, 'certs/root.crt'), join(handOver, 'intermediate.crt')]);
    expect(verified).toMatch(/: OK$/m);
    expect(await keysOn('Offline Root', 'HSM_CA_ROOT_PIN')).toEqual(['root']);
  });

  it('signs, revokes and publishes the intermediate CRL with the root token unplugged, and names it when it is needed', async () => {
    await mustExec('softhsm2-util', ['--delete-token', '--token', 'Offline Root'], { env });
    const csr = await makeCsr(sandbox.root, 'offline');
    const server = await cli(['server', csr, '--dir', sandbox.caDir], { env });
    expect([server.code, server.stdout]).toEqual([0, expect.stringMatching(/^server certificate issued/)]);
    const revoke = await cli(['revoke', join(sandbox.root, 'offline.crt'), '--dir', sandbox.caDir], { env });
    expect([revoke.code, revoke.stdout]).toEqual([0, expect.stringMatching(/^revoked serial [0-9A-F]+: CN=offline[\s\S]*revoked +1 certificate\(s\) on the CRL/)]);
    const crl = await cli(['crl', '--dir', sandbox.caDir], { env });
    expect([crl.code, crl.stdout]).toEqual([0, expect.stringMatching(/^CRL published: .*intermediate[\s\S]*revoked +1 certificate\(s\)/)]);
    const root = await cli(['crl', '--root', '--dir', sandbox.caDir], { env });
    expect(root.code).toBe(1);
    expect(root.stderr).toMatch(/token 'Offline Root' \(root key\) not found .*tokens present: 'Online'; plug the token in, or check --root-token/);
    const doctor = await cli(['doctor', '--dir', sandbox.caDir], { env });
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(/^warn  offline root token 'Offline Root' not plugged in/m);
  });
});

describe('inventory, renewal and the audit log', () => {
  let sandbox: Sandbox;
  let dir: string;

  beforeAll(async () => {
    sandbox = await makeSandbox();
    dir = sandbox.caDir;
    for (const args of [
      ['init', '--dir', dir, '--token', sandbox.tokenLabel, '--org', 'Ops Co', '--key-type', 'EC:secp256r1'],
      ['root', '--dir', dir],
      ['intermediate', '--dir', dir],
    ]) {
      const result = await cli(args, { env: sandbox.env });
      if (result.code !== 0) throw new Error(result.stderr);
    }
    for (const [name, days] of [['soon', '10'], ['later', '300']] as const) {
      const csr = await makeCsr(sandbox.root, name, { subject: `/CN=${name}.ops.test`, sans: `DNS:${name}.ops.test` });
      const result = await cli(['server', csr, '--dir', dir, '--days', days], { env: sandbox.env });
      if (result.code !== 0) throw new Error(result.stderr);
    }
  });
  afterAll(() => sandbox.cleanup());

  it('list shows serial, status, expiry, profile, subject and SANs, and filters', async () => {
    const all = await cli(['list', '--dir', dir]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^SERIAL +STATUS +NOT AFTER +PROFILE +SUBJECT +SANS$/m);
    expect(all.stdout).toMatch(/ valid +\d{4}-\d\d-\d\d +server +CN=soon.ops.test +DNS:soon.ops.test$/m);
    const listed = await cli(['list', '--dir', dir, '--expiring', '30', '--json']);
    expect(listed.code).toBe(0);
    const expiring = JSON.parse(listed.stdout) as Array<{ subject: string }>;
    expect(expiring.map((c) => c.subject)).toEqual(['CN=soon.ops.test']);
  });

  it('show summarises one certificate by file or serial', async () => {
    const serial = await serialOf(join(sandbox.root, 'later.crt'));
    for (const target of [join(sandbox.root, 'later.crt'), serial]) {
      const shown = await cli(['show', target, '--dir', dir]);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(new RegExp(`serial +${serial}`));
      expect(shown.stdout).toMatch(/status +valid/);
      expect(shown.stdout).toMatch(/SANs +DNS:later.ops.test/);
      expect(shown.stdout).toMatch(/ext\. usage +serverAuth/);
    }
  });

  it('renew re-signs the kept CSR with the same SANs and --revoke-old supersedes the old one', async () => {
    const old = join(sandbox.root, 'soon.crt');
    const oldSerial = await serialOf(old);
    const renewed = join(sandbox.root, 'soon-new.crt');
    const result = await cli(['renew', old, '--dir', dir, '--days', '90', '--revoke-old', '--out', renewed], { env: sandbox.env });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(result.code).toBe(0);
    const [renewedCert, oldCert] = [await Cert.load(renewed), await Cert.load(old)];
    expect(renewedCert.subjectAltNames).toContain('DNS:soon.ops.test');
    expect(renewedCert.subjectAltNames).toEqual(oldCert.subjectAltNames);
    expect(renewedCert.spki.toString('hex')).toBe(oldCert.spki.toString('hex'));
    const listed = await cli(['list', '--dir', dir, '--revoked', '--json']);
    expect(listed.code).toBe(0);
    const revoked = JSON.parse(listed.stdout) as Array<{ serial: string; reason: string }>;
    expect(revoked).toEqual([expect.objectContaining({ serial: oldSerial, reason: 'superseded' })]);
  });

  it('show finds a certificate by serial prefix, CN or SAN, shows CA certificates and CSRs, and asks for a serial when a name is ambiguous', async () => {
    const serial = await serialOf(join(sandbox.root, 'later.crt'));
    for (const target of [serial.slice(0, 8), serial.slice(0, 8).toLowerCase(), 'later.ops.test', 'LATER.OPS.TEST']) {
      const shown = await cli(['show', target, '--dir', dir]);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(new RegExp(`^certificate ${serial}\n(?:.*\n)*  serial +${serial}$`, 'm'));
    }
    const renewed = await cli(['show', 'soon.ops.test', '--dir', dir]);
    expect(renewed.code).toBe(0);
    expect(renewed.stdout).toMatch(/status +valid/);
    expect(renewed.stdout).toMatch(/older +1 other certificate\(s\) with this name/);
    const root = await cli(['show', join(dir, 'certs/root.crt'), '--dir', dir]);
    expect(root.code).toBe(0);
    expect(root.stdout).toMatch(/^root CA certificate\n  status +self-signed trust anchor$/m);
    expect(root.stdout).not.toMatch(/revok/i);
    const intermediate = await cli(['show', join(dir, 'intermediate/certs/intermediate.crt'), '--dir', dir]);
    expect(intermediate.code).toBe(0);
    expect(intermediate.stdout).toMatch(/^intermediate CA certificate\n  status +valid on the root's index\.txt$/m);
    expect(intermediate.stdout).toMatch(/CA +yes, pathlen 0/);
    const csr = await cli(['show', join(sandbox.root, 'later.csr'), '--dir', dir]);
    expect(csr.code).toBe(0);
    expect(csr.stdout).toMatch(/^certificate signing request .*later\.csr\n  subject +CN=later\.ops\.test\n(?:.*\n)*  SANs +DNS:later\.ops\.test$/m);
    expect(csr.stdout).toMatch(/sign it +hsm-openssl-ca server .*later\.csr --dir /);
    const unknown = await cli(['show', 'nobody.ops.test', '--dir', dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^hsm-openssl-ca: "nobody\.ops\.test" is not a file, not a serial .* and no issued certificate has it as CN or SAN/);
  });

  it('status with its defaults passes right after a CRL of the default 30 days, and exits 1 when the CRL is due within --crl-warn-days', async () => {
    const fine = await cli(['status', '--dir', dir]);
    expect(fine.code).toBe(0);
    expect(fine.stderr).toBe('');
    expect(fine.stdout).toMatch(/^root CA: .*Ops Co Root CA$/m);
    expect(fine.stdout).toMatch(/issued +3 \(1 revoked\)/);
    const rootDer = (await mustExec('openssl', ['x509', '-in', join(dir, 'certs/root.crt'), '-noout', '-fingerprint', '-sha256'])).trim().split('=')[1];
    expect(fine.stdout).toContain(`SHA-256   ${rootDer}`);
    const json = await cli(['status', '--dir', dir, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ title: expect.stringMatching(/^root CA: /), sha256: rootDer }),
      expect.objectContaining({ title: expect.stringMatching(/^intermediate CA: /), issued: '3 (1 revoked)' }),
    ]);
    const due = await cli(['status', '--dir', dir, '--crl-warn-days', '31']);
    expect(due.code).toBe(1);
    expect(due.stderr).toMatch(/^hsm-openssl-ca: the intermediate CRL's nextUpdate is .*, within --crl-warn-days 31 \(publish one with `hsm-openssl-ca crl`\)\n$/);
    const caExpiring = await cli(['status', '--dir', dir, '--warn-days', '4000']);
    expect(caExpiring.code).toBe(1);
    expect(caExpiring.stderr).toMatch(/the root CA certificate expires .*, within --warn-days 4000/);
  });

  it('the audit log records every change in a hash chain that audit verify checks', async () => {
    const log = (await readFile(join(dir, 'audit.log'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(log.map((r) => r['action'])).toEqual(['init', 'key-generated', 'certificate-issued', 'key-generated', 'certificate-issued', 'certificate-issued', 'certificate-issued', 'certificate-issued', 'revoked', 'crl-published']);
    expect(log[5]).toMatchObject({ command: 'server', subject: 'CN=soon.ops.test', sans: ['DNS:soon.ops.test'] });
    expect(log[5]!['certificateSha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(log.every((r) => typeof r['time'] === 'string' && typeof r['user'] === 'string' && typeof r['prev'] === 'string')).toBe(true);
    expect(JSON.stringify(log)).not.toContain(sandbox.pin);
    const verified = await cli(['audit', 'verify', '--dir', dir]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/records +10/);
  });

  it('an edited audit line fails audit verify, and no further change is made until it is restored', async () => {
    const path = join(dir, 'audit.log');
    const original = await readFile(path, 'utf8');
    await writeFile(path, original.replace('CN=soon.ops.test', 'CN=innocent.example.com'));
    const verified = await cli(['audit', 'verify', '--dir', dir]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/line \d+: /);
    const before = await treeHash(dir);
    const csr = await makeCsr(sandbox.root, 'blocked');
    const refused = await cli(['server', csr, '--dir', dir], { env: sandbox.env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/audit.log is damaged .*nothing was changed/);
    expect(await treeHash(dir)).toEqual(before);
    await writeFile(path, original);
    const restored = await cli(['server', csr, '--dir', dir], { env: sandbox.env });
    expect([restored.code, restored.stdout]).toEqual([0, expect.stringMatching(/^server certificate issued/)]);
    expect((await Cert.load(join(sandbox.root, 'blocked.crt'))).subject).toMatch(/CN=blocked\.example\.com$/);
  });

  it('a second run waits for the lock and gives up clearly after --lock-timeout', async () => {
    const lock = join(dir, '.hsm-openssl-ca.lock');
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    await writeFile(lock, `${holder.pid}\n`);
    try {
      const csr = await makeCsr(sandbox.root, 'waiting');
      const result = await cli(['server', csr, '--dir', dir, '--lock-timeout', '2'], { env: sandbox.env });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/waiting for another hsm-openssl-ca run[\s\S]*is locked by another hsm-openssl-ca run/);
      holder.kill();
      await new Promise((resolve) => holder.once('exit', resolve));
      // The owner is gone now: its lock is stale and the next run takes it over.
      const takeover = await cli(['server', csr, '--dir', dir], { env: sandbox.env });
      expect([takeover.code, takeover.stdout]).toEqual([0, expect.stringMatching(/^server certificate issued/)]);
      expect((await Cert.load(join(sandbox.root, 'waiting.crt'))).subject).toMatch(/CN=waiting\.example\.com$/);
    } finally {
      holder.kill();
    }
  });
});
