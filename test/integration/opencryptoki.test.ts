import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cert, OIDS } from './certs.js';
import { cli, exec, expectOneLineError, makeCsr, mustExec, SPY_MODULE, type Result } from './helpers.js';

/**
 * openCryptoki's soft token: a second PKCS#11 implementation, and one that really counts wrong PINs and
 * locks after three (SoftHSM2 never does). Its tokens live in one system-wide store served by the
 * pkcsslotd daemon, so every openCryptoki test is in this one file (jest runs a file's tests in order,
 * and files in parallel) and the token is re-initialised with the SO PIN first. Set-up: run
 * scripts/setup-opencryptoki.sh (scripts/install-system-deps.sh does); this file starts pkcsslotd.
 */
const SETUP = fileURLToPath(new URL('../../scripts/setup-opencryptoki.sh', import.meta.url));
const CONF = '/etc/opencryptoki/opencryptoki.conf';
const LABEL = 'hsm-ca OCK';
/** The soft token's default SO PIN; its PINs are 4 to 8 characters. */
const SO_PIN = '87654321';
const PIN = '51842967';
const WRONG_PIN = '11223344';

async function findModule(): Promise<string> {
  for (const dir of (await readdir('/usr/lib')).filter((d) => d.endsWith('-linux-gnu'))) {
    const path = `/usr/lib/${dir}/pkcs11/libopencryptoki.so`;
    if (await access(path).then(() => true, () => false)) return path;
  }
  throw new Error('openCryptoki is not installed; run `sudo bash scripts/setup-opencryptoki.sh` (scripts/install-system-deps.sh does)');
}

/** The slot number of the soft token in openCryptoki's config (it is the PKCS#11 slot id). */
async function softTokenSlot(): Promise<string> {
  const slot = /slot\s+(\d+)\s*\{[^}]*stdll\s*=\s*libpkcs11_sw\.so/.exec(await readFile(CONF, 'utf8'));
  if (!slot) throw new Error(`${CONF} has no slot for libpkcs11_sw.so; run scripts/setup-opencryptoki.sh`);
  return slot[1]!;
}

async function daemonRunning(): Promise<boolean> {
  for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
    if ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'pkcsslotd') return true;
  }
  return false;
}

/**
 * The token store is system-wide, so two runs of this file on one machine (two people's `npm test`)
 * would re-initialise the token under each other: the file holds a lock directory for its whole run.
 */
const LOCK = '/run/lock/hsm-openssl-ca-opencryptoki-test';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquireLock(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(join(LOCK, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(await readFile(join(LOCK, 'pid'), 'utf8').catch(() => '0'));
    if (holder > 0 && !alive(holder)) {
      await rm(LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another run of this file (pid ${holder}) holds ${LOCK}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** C_Login calls in an OpenSC pkcs11-spy log, and how many the token refused. */
async function loginsIn(spyLog: string): Promise<{ total: number; incorrect: number; locked: number }> {
  const text = await readFile(spyLog, 'utf8').catch(() => '');
  return {
    total: (text.match(/^\d+: C_Login$/gm) ?? []).length,
    incorrect: (text.match(/CKR_PIN_INCORRECT/g) ?? []).length,
    locked: (text.match(/CKR_PIN_LOCKED/g) ?? []).length,
  };
}

describe('openCryptoki soft token', () => {
  let module: string;
  let root: string;
  let caDir: string;
  let env: NodeJS.ProcessEnv;
  let setupEnv: NodeJS.ProcessEnv;
  let spyRuns = 0;

  /** pkcs11-tool on the soft token, PINs from the environment. */
  const p11 = (args: readonly string[]): Promise<string> => mustExec('pkcs11-tool', ['--module', module, ...args], { env: setupEnv });
  const flags = async (): Promise<string> => /token label\s*:\s*hsm-ca OCK\n(?:.*\n)*?\s*token flags\s*:\s*(.*)/.exec(await p11(['--list-token-slots']))![1]!;
  const unblock = (): Promise<string> => p11(['--token-label', LABEL, '--login', '--login-type', 'so', '--so-pin', 'env:SO_PIN', '--init-pin', '--new-pin', 'env:HSM_CA_PIN']);

  /** A signing run through OpenSC's pkcs11-spy, which logs every PKCS#11 call the run makes. */
  async function spiedServer(pin: string, extra: readonly string[] = []): Promise<{ result: Result; logins: Awaited<ReturnType<typeof loginsIn>> }> {
    spyRuns += 1;
    const spyLog = join(root, `spy-${spyRuns}.log`);
    const csr = await makeCsr(root, `spied-${spyRuns}`);
    const result = await cli(['server', csr, '--dir', caDir, '--module', SPY_MODULE, ...extra], {
      env: { ...env, HSM_CA_PIN: pin, PKCS11SPY: module, PKCS11SPY_OUTPUT: spyLog },
    });
    return { result, logins: await loginsIn(spyLog) };
  }

  beforeAll(async () => {
    module = await findModule();
    await acquireLock(10 * 60_000);
    if (!(await daemonRunning())) {
      if (process.getuid?.() !== 0) throw new Error('pkcsslotd is not running; start it with `sudo bash scripts/setup-opencryptoki.sh --start`');
      await mustExec('bash', [SETUP, '--start']);
    }
    root = await mkdtemp(join(tmpdir(), 'hsm-ca-ock-'));
    caDir = join(root, 'ca');
    env = { ...process.env, HSM_CA_PIN: PIN };
    setupEnv = { ...env, SO_PIN };
    // A fresh token every run: init-token with the SO PIN wipes the keys of earlier runs.
    await p11(['--slot', await softTokenSlot(), '--init-token', '--label', LABEL, '--so-pin', 'env:SO_PIN']);
    await unblock();
  }, 12 * 60_000);

  afterAll(async () => {
    // Leave the shared token usable for the next run, whatever happened.
    if (module) await exec('pkcs11-tool', ['--module', module, '--token-label', LABEL, '--login', '--login-type', 'so', '--so-pin', 'env:SO_PIN', '--init-pin', '--new-pin', 'env:HSM_CA_PIN'], { env: setupEnv });
    if (root) await rm(root, { recursive: true, force: true });
    if ((await readFile(join(LOCK, 'pid'), 'utf8').catch(() => '')) === String(process.pid)) await rm(LOCK, { recursive: true, force: true });
  });

  it('runs the ceremony with rsa:2048: root, intermediate, a server certificate that verifies against the chain', async () => {
    for (const args of [
      // The engine: pkcs11-provider 1.0 signs RSA on this token (no CKM_SHA256_RSA_PKCS) without the
      // DigestInfo, a signature our verifier rejects; see the last test.
      ['init', '--dir', caDir, '--module', module, '--token', LABEL, '--org', 'OCK Test', '--key-type', 'rsa:2048', '--backend', 'engine'],
      ['root', '--dir', caDir],
      ['intermediate', '--dir', caDir],
    ]) {
      const result = await cli(args, { env });
      if (result.code !== 0) throw new Error(`${args[0]} exited ${result.code}: ${result.stderr}`);
    }
    const csr = await makeCsr(root, 'www', { sans: 'DNS:www.example.com' });
    const server = await cli(['server', csr, '--dir', caDir], { env });
    expect(server.stderr).not.toMatch(/^hsm-openssl-ca:/m);
    expect(server.code).toBe(0);
    await expect(
      mustExec('openssl', ['verify', '-x509_strict', '-CAfile', join(caDir, 'certs/root.crt'), '-untrusted', join(caDir, 'intermediate/certs/intermediate.crt'), join(root, 'www.crt')]),
    ).resolves.toMatch(/www\.crt: OK/);
    const www = await Cert.load(join(root, 'www.crt'));
    expect(www.x509.subjectAltName).toBe('DNS:www.example.com');
    expect(www.signatureAlgorithm).toBe(OIDS.sha256WithRSAEncryption);
  });

  it('runs the ceremony with EC:secp384r1 where the soft token can make EC keys (3.8 in Debian 12 cannot)', async () => {
    if (!/EC-KEY-PAIR-GEN|ECDSA-KEY-PAIR-GEN/.test(await p11(['--slot', await softTokenSlot(), '--list-mechanisms']))) return;
    const ec = join(root, 'ca-ec');
    for (const args of [
      ['init', '--dir', ec, '--module', module, '--token', LABEL, '--org', 'OCK EC', '--key-type', 'EC:secp384r1'],
      ['root', '--dir', ec, '--label', 'ec-root'],
      ['intermediate', '--dir', ec, '--label', 'ec-intermediate'],
    ]) {
      const result = await cli(args, { env });
      if (result.code !== 0) throw new Error(`${args[0]} exited ${result.code}: ${result.stderr}`);
    }
    const csr = await makeCsr(root, 'ec-www');
    expect((await cli(['server', csr, '--dir', ec], { env })).code).toBe(0);
    await expect(
      mustExec('openssl', ['verify', '-x509_strict', '-CAfile', join(ec, 'certs/root.crt'), '-untrusted', join(ec, 'intermediate/certs/intermediate.crt'), join(root, 'ec-www.crt')]),
    ).resolves.toMatch(/OK/);
  });

  it('one wrong PIN costs one try and says few tries are left; the right PIN then works and resets the count', async () => {
    const wrong = await spiedServer(WRONG_PIN);
    expectOneLineError(wrong.result, /token 'hsm-ca OCK' \(intermediate key\) rejected the PIN from HSM_CA_PIN \(one failed login counted; not retried, since a SmartCard-HSM locks after 3\) and now reports few tries left before the PIN locks; correct that PIN and run again$/);
    expect(wrong.logins).toEqual({ total: 1, incorrect: 1, locked: 0 });
    expect(await flags()).toMatch(/user PIN count low/);

    const right = await spiedServer(PIN);
    expect(right.result.code).toBe(0);
    expect(await flags()).not.toMatch(/user PIN count low|final user PIN try|user PIN locked/);
  });

  it('the second wrong PIN says one try is left; the final try is spent only with --yes, and then locks the PIN and names the SO-PIN unblock', async () => {
    const first = await spiedServer(WRONG_PIN);
    expectOneLineError(first.result, /now reports few tries left before the PIN locks/);
    const second = await spiedServer(WRONG_PIN);
    expectOneLineError(second.result, /now reports one try left before the PIN locks; correct that PIN before running again$/);
    expect(await flags()).toMatch(/final user PIN try/);
    const unasked = await spiedServer(WRONG_PIN);
    expectOneLineError(unasked.result, /^hsm-openssl-ca: token 'hsm-ca OCK' \(intermediate key\) reports ONE PIN try left: a wrong PIN now locks it \(then only the SO PIN unblocks it\); nothing was tried — check the PIN from HSM_CA_PIN, then run again with --yes to spend that last try$/);
    expect(unasked.logins.total).toBe(0);
    expect(await flags()).toMatch(/final user PIN try/);
    const third = await spiedServer(WRONG_PIN, ['--yes']);
    expect(third.result.stderr).toMatch(/reports ONE PIN try left: .*; going on with the PIN from HSM_CA_PIN, as --yes says/);
    expectOneLineError(
      third.result,
      /^hsm-openssl-ca: the token PIN is locked: token 'hsm-ca OCK' refused the PIN, and that was its last try; unblock it with the SO PIN \(pkcs11-tool --module \S+ --token-label 'hsm-ca OCK' --login --login-type so --init-pin, also for a SmartCard-HSM\), then run again$/,
    );
    for (const run of [first, second, third]) expect(run.logins).toEqual({ total: 1, incorrect: 1, locked: 0 });
    expect(await flags()).toMatch(/user PIN locked/);
  });

  it('a locked PIN is never tried again: even the right PIN is refused before any login', async () => {
    const before = await flags();
    const { result, logins } = await spiedServer(PIN);
    expectOneLineError(result, /^hsm-openssl-ca: the token PIN is locked: token 'hsm-ca OCK' reports its user PIN locked after too many wrong PINs, so nothing was tried; unblock it with the SO PIN \(pkcs11-tool --module \S+ --token-label 'hsm-ca OCK' --login --login-type so --init-pin/);
    expect(logins.total).toBe(0);
    expect(await flags()).toBe(before);
  });

  it('after the unblock with the SO PIN the right PIN signs again', async () => {
    await unblock();
    expect(await flags()).not.toMatch(/user PIN locked/);
    const csr = await makeCsr(root, 'after-unblock');
    const result = await cli(['server', csr, '--dir', caDir], { env });
    expect(result.stderr).not.toMatch(/^hsm-openssl-ca:/m);
    expect(result.code).toBe(0);
  });

  it('with pkcs11-provider, an RSA root signature the token got wrong is caught before anything is written', async () => {
    // pkcs11-provider 1.0 (bookworm-backports) signs with CKM_RSA_PKCS over the bare digest when the token
    // lacks CKM_SHA256_RSA_PKCS, as openCryptoki 3.8's soft token does: a PKCS#1 block without DigestInfo.
    // `openssl verify` does not check a trust anchor's own signature; our verifier does. A fixed provider passes.
    const provider = join(caDir, '..', 'ca-provider');
    const init = await cli(['init', '--dir', provider, '--module', module, '--token', LABEL, '--org', 'OCK Provider', '--key-type', 'rsa:2048', '--backend', 'provider'], { env });
    expect([init.code, init.stdout]).toEqual([0, expect.stringContaining(`CA directory created: ${provider}`)]);
    const result = await cli(['root', '--dir', provider, '--label', 'provider-root'], { env });
    if (/backend|provider/i.test(result.stderr) && !/failed verification/.test(result.stderr) && result.code !== 0) return; // pkcs11-provider not installed
    if (result.code === 0) {
      await expect(mustExec('openssl', ['verify', '-check_ss_sig', '-CAfile', join(provider, 'certs/root.crt'), join(provider, 'certs/root.crt')])).resolves.toMatch(/OK/);
      return;
    }
    expectOneLineError(result, /the root certificate failed verification: signature valid under the own key; nothing was written/);
    await expect(access(join(provider, 'certs/root.crt'))).rejects.toThrow(/ENOENT/);
    expect(await p11(['--token-label', LABEL, '--login', '--pin', 'env:HSM_CA_PIN', '--list-objects'])).not.toMatch(/provider-root/);
  });
});
