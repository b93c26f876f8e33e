import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ceremony, cli, expectOneLineError, makeCsr, makeSandbox, mustExec, SOFTHSM_MODULE, SPY_MODULE, treeHash, type Result, type Sandbox } from './helpers.js';

/** Reads every process's command line now; what it finds containing `needle`. */
async function cmdlinesContaining(needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '');
    if (cmdline.includes(needle)) found.push(cmdline.replace(/\0/g, ' '));
  }
  return found;
}

describe('the PIN in /proc during a real ceremony', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox({ pin: '80261735' });
  });
  afterAll(() => sandbox.cleanup());

  it('is in no process\'s /proc/PID/cmdline while init, root, intermediate and server run', async () => {
    const seen: string[] = [];
    let scans = 0;
    let running = true;
    const scanner = (async () => {
      while (running) {
        seen.push(...(await cmdlinesContaining(sandbox.pin)));
        scans += 1;
      }
    })();
    try {
      await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
      const csr = await makeCsr(sandbox.root, 'proc');
      const signed = await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env });
      expect([signed.code, signed.stdout]).toEqual([0, expect.stringMatching(/^server certificate issued/)]);
    } finally {
      running = false;
      await scanner;
    }
    expect(scans).toBeGreaterThan(20);
    expect(seen).toEqual([]);
  });
});

describe('a PIN that is part of the data the tools print', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    // A PIN's digits occur by chance in an EC point or a key id; to be certain they occur, this PIN is a word
    // every pkcs11-tool listing prints ("  label:      root").
    sandbox = await makeSandbox({ pin: 'label' });
  });
  afterAll(() => sandbox.cleanup());

  it('does not change what is parsed: the ceremony and a signing succeed', async () => {
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
    const csr = await makeCsr(sandbox.root, 'digits');
    const signed = await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env });
    expect([signed.code, signed.stdout]).toEqual([0, expect.stringMatching(/^server certificate issued/)]);
  });
});

describe('the intermediate key missing from the token', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
  });
  afterAll(() => sandbox.cleanup());

  /** A server signing through pkcs11-spy: its result and the logins the token saw. */
  async function spiedServer(name: string): Promise<Result & { logins: number }> {
    const log = join(sandbox.root, `${name}.spy.log`);
    const csr = await makeCsr(sandbox.root, name);
    const result = await cli(['server', csr, '--dir', sandbox.caDir, '--module', SPY_MODULE], { env: { ...sandbox.env, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: log } });
    return { ...result, logins: ((await readFile(log, 'utf8')).match(/^\d+: C_Login$/gm) ?? []).length };
  }

  const deleteObject = (type: string): Promise<string> =>
    mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', sandbox.tokenLabel, '--login', '--pin', 'env:HSM_CA_PIN', '--delete-object', '--type', type, '--label', 'intermediate'], { env: sandbox.env });

  it('is there: a signing logs in once, in openssl; the key was found without a login', async () => {
    const shown = await spiedServer('shown');
    expect([shown.code, shown.logins]).toEqual([0, 1]);
  });

  it('is named, with the option to check, before openssl runs; the CA directory is unchanged', async () => {
    // Not shown without a login, so looked for once more with one: the only login of this run.
    await deleteObject('privkey');
    await deleteObject('pubkey');
    const before = await treeHash(sandbox.caDir);
    const missing = await spiedServer('missing');
    expectOneLineError(missing, /the intermediate key \(label 'intermediate', id [0-9a-f]+\) is not on token 'CA Token'; plug in the token that holds it, or check --token$/);
    expect(missing.logins).toBe(1);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
  });
});

describe('token trouble', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox({ pin: '4711' });
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
  });
  afterAll(() => sandbox.cleanup());

  it('a second key labelled like the intermediate does not change which key signs (URIs carry id= and object=)', async () => {
    await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', sandbox.tokenLabel, '--login', '--pin', 'env:HSM_CA_PIN', '--keypairgen', '--key-type', 'EC:secp256r1', '--label', 'intermediate', '--id', '00'], { env: sandbox.env });
    const csr = await makeCsr(sandbox.root, 'twin');
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env });
    expect(result.stdout).toMatch(/ok {2}signature valid under the intermediate key/);
    expect(result.code).toBe(0);
  });

  it('redacts the PIN from a tool\'s error even where it is part of a path', async () => {
    // The PIN 4711 is part of a path that openssl quotes in its error: the message shows *** instead.
    const bin = join(sandbox.root, 'echo-bin');
    await mkdir(bin);
    await writeFile(join(bin, 'openssl'), '#!/bin/bash\nif [ "$1" = ca ]; then echo "unable to load /srv/ca-4711/index.txt" >&2; exit 1; fi\nexec /usr/bin/openssl "$@"\n');
    await chmod(join(bin, 'openssl'), 0o755);
    const csr = await makeCsr(sandbox.root, 'redact');
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: { ...sandbox.env, PATH: `${bin}:${process.env['PATH']}` } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unable to load \/srv\/ca-\*\*\*\/index.txt/);
    expect(result.stdout + result.stderr).not.toContain(sandbox.pin);
  });

  it('a locked PIN stops the run with how to unblock it, and nothing else is tried', async () => {
    // SoftHSM2 never locks a PIN, so a pkcs11-tool stand-in answers the way OpenSC does for a blocked SmartCard-HSM.
    const bin = join(sandbox.root, 'locked-bin');
    const log = join(sandbox.root, 'locked.log');
    await mkdir(bin);
    await writeFile(join(bin, 'pkcs11-tool'), `#!/bin/bash\necho "pkcs11-tool $*" >> '${log}'\necho "error: PKCS11 function C_Login failed: rv = CKR_PIN_LOCKED (0xa4)" >&2\necho Aborting. >&2\nexit 1\n`);
    for (const tool of ['openssl', 'p11tool']) {
      await writeFile(join(bin, tool), `#!/bin/bash\necho "${tool} $*" >> '${log}'\nexec /usr/bin/${tool} "$@"\n`);
    }
    await Promise.all(['pkcs11-tool', 'openssl', 'p11tool'].map((tool) => chmod(join(bin, tool), 0o755)));
    const fresh = join(sandbox.root, 'fresh');
    expect((await cli(['init', '--dir', fresh, '--token', sandbox.tokenLabel, '--org', 'Locked'], { env: sandbox.env })).code).toBe(0);
    const before = await treeHash(fresh);
    const locked = await cli(['root', '--dir', fresh], { env: { ...sandbox.env, PATH: `${bin}:${process.env['PATH']}` } });
    expect(await treeHash(fresh)).toEqual(before);
    expect(locked.code).toBe(1);
    expect(locked.stderr.trim().split('\n').at(-1)).toMatch(/^hsm-openssl-ca: the token PIN is locked .*unblock it with the SO PIN/);
    const calls = (await readFile(log, 'utf8')).trim().split('\n');
    expect(calls.filter((call) => call.startsWith('pkcs11-tool'))).toHaveLength(1);
    expect(calls.filter((call) => call.startsWith('openssl'))).toEqual([]);
  });

  it('a token that disappears mid-run gives one clear error and leaves nothing half-written', async () => {
    const bin = join(sandbox.root, 'vanish-bin');
    await mkdir(bin);
    await writeFile(join(bin, 'openssl'), `#!/bin/bash\nif [ "$1" = ca ]; then softhsm2-util --delete-token --token '${sandbox.tokenLabel}' >/dev/null; fi\nexec /usr/bin/openssl "$@"\n`);
    await chmod(join(bin, 'openssl'), 0o755);
    const before = await treeHash(sandbox.caDir);
    const csr = await makeCsr(sandbox.root, 'vanish');
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: { ...sandbox.env, PATH: `${bin}:${process.env['PATH']}` } });
    expect(result.code).toBe(1);
    const errors = result.stderr.trim().split('\n').filter((line) => line.startsWith('hsm-openssl-ca:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^hsm-openssl-ca: openssl could not load the intermediate key \(.*private key.*\), and token 'CA Token' is no longer listed on \S+; plug it in again and run the command again$/);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
    await expect(readFile(join(sandbox.root, 'vanish.crt'))).rejects.toThrow(/ENOENT/);
  });

});
