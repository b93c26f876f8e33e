import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ToolFailedError, WrongPinError } from '../../../src/errors.js';
import { guardPin, readPinState } from '../../../src/ca/token/pin-state.js';
import { pinFailure, type Runner } from '../../../src/tools/run.js';

const MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so';
const role = { role: 'intermediate', module: MODULE, tokenLabel: 'OCK CA', pinEnv: 'HSM_CA_PIN', pinFile: undefined } as const;

function slots(wrong: number): string {
  return readFileSync(new URL(`../../fixtures/tool-output/pkcs11-tool/0.23.0/opencryptoki-list-token-slots-${wrong}-wrong.txt`, import.meta.url), 'utf8');
}

/**
 * A fake token: `--list-token-slots` answers with the fixture for the current count of wrong PINs, and
 * every login with a wrong PIN fails as pkcs11-tool does and counts one more.
 */
function fakeToken(wrong: number): { run: Runner; calls: string[][] } {
  const calls: string[][] = [];
  const run: Runner = async (tool, args) => {
    calls.push([tool, ...args]);
    if (args.includes('--list-token-slots')) return { stdout: slots(Math.min(wrong, 3)), stderr: '' };
    wrong += 1;
    throw pinFailure('error: PKCS11 function C_Login failed: rv = CKR_PIN_INCORRECT (0xa0)\nAborting.\n')!;
  };
  return { run, calls };
}

/** guardPin as openToken calls it: with the counters the token listing just read. */
async function guard(run: Runner, which: Parameters<typeof guardPin>[1], consent?: Parameters<typeof guardPin>[3]): Promise<Runner> {
  return guardPin(run, which, await readPinState(run, which.module, which.tokenLabel), consent);
}

const login = ['--module', MODULE, '--token-label', 'OCK CA', '--login', '--pin', 'env:HSM_CA_PIN', '--list-objects'];

async function refusal(run: Runner): Promise<WrongPinError> {
  const error = await run('pkcs11-tool', login).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(WrongPinError);
  return error as WrongPinError;
}

describe('guardPin', () => {
  const saved = { pin: process.env.HSM_CA_PIN, root: process.env.HSM_CA_ROOT_PIN };
  beforeEach(() => {
    process.env.HSM_CA_PIN = 'from-the-variable';
    delete process.env.HSM_CA_ROOT_PIN;
  });
  afterEach(() => {
    for (const [name, value] of [['HSM_CA_PIN', saved.pin], ['HSM_CA_ROOT_PIN', saved.root]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('refuses a locked token before any login, naming the SO-PIN unblock command', async () => {
    const token = fakeToken(3);
    const error = await guard(token.run, role).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(WrongPinError);
    expect((error as Error).message).toBe(
      `the token PIN is locked: token 'OCK CA' reports its user PIN locked after too many wrong PINs, so nothing was tried; unblock it with the SO PIN (pkcs11-tool --module ${MODULE} --token-label 'OCK CA' --login --login-type so --init-pin, also for a SmartCard-HSM), then run again`,
    );
    expect(token.calls).toEqual([['pkcs11-tool', '--module', MODULE, '--list-token-slots']]);
  });

  it.each([
    [0, /^token 'OCK CA' \(intermediate key\) rejected the PIN from HSM_CA_PIN .* and now reports few tries left before the PIN locks; correct that PIN and run again$/],
    [1, /^token 'OCK CA' \(intermediate key\) rejected the PIN from HSM_CA_PIN .* and now reports one try left before the PIN locks; correct that PIN before running again$/],
    [2, /^the token PIN is locked: token 'OCK CA' refused the PIN, and that was its last try; unblock it with the SO PIN \(pkcs11-tool --module \S+ --token-label 'OCK CA' --login --login-type so --init-pin/],
  ])('after a refused PIN (%i wrong before) names what the token reports, with one login only', async (before, message) => {
    const token = fakeToken(before);
    const error = await refusal(await guard(token.run, role, { yes: true, say: () => undefined }));
    expect(error.message).toMatch(message);
    expect(token.calls.filter((call) => call.includes('--login'))).toHaveLength(1);
    expect(token.calls.filter((call) => call.includes('--list-token-slots'))).toHaveLength(2);
  });

  // Issue 7: the message names the source that was used — variable, file or prompt — for the token that refused it.
  it('names the token and the PIN source it refused, also for a token that reports no counter (SoftHSM2)', async () => {
    const softhsm: Runner = async (_tool, args) => {
      if (args.includes('--list-token-slots')) return { stdout: 'Available slots:\nSlot 0 (0x1): SoftHSM\n  token label        : OCK CA\n  token flags        : login required, rng, token initialized, PIN initialized\n', stderr: '' };
      throw pinFailure('CKR_PIN_INCORRECT')!;
    };
    expect((await refusal(await guard(softhsm, role))).message).toBe(
      "token 'OCK CA' (intermediate key) rejected the PIN from HSM_CA_PIN (one failed login counted; not retried, since a SmartCard-HSM locks after 3); correct that PIN and run again",
    );
    const rootRole = { ...role, role: 'root', pinEnv: 'HSM_CA_ROOT_PIN', pinFile: '/etc/ca/root.pin' } as const;
    expect((await refusal(await guard(softhsm, rootRole))).message).toMatch(/^token 'OCK CA' \(root key\) rejected the PIN from --root-pin-file \/etc\/ca\/root.pin /);
    expect((await refusal(await guard(softhsm, { ...rootRole, pinFile: undefined }))).message).toMatch(/^token 'OCK CA' \(root key\) rejected the PIN typed at the prompt /);
  });

  it('goes on when the flags cannot be read, and passes other errors through untouched', async () => {
    const failing: Runner = async (tool, args) => {
      if (args.includes('--list-token-slots')) throw new ToolFailedError('pkcs11-tool failed (exit 1): no', tool, 'no');
      throw new ToolFailedError('openssl failed (exit 1): something else', tool, '');
    };
    const run = await guard(failing, role);
    await expect(run('openssl', ['req'])).rejects.toThrow(/^openssl failed \(exit 1\): something else$/);
  });

  it('spends a final try only with --yes: without it (and without a terminal) nothing is tried', async () => {
    const token = fakeToken(2);
    const error = await guard(token.run, role).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(WrongPinError);
    expect((error as Error).message).toBe(
      "token 'OCK CA' (intermediate key) reports ONE PIN try left: a wrong PIN now locks it (then only the SO PIN unblocks it); nothing was tried — check the PIN from HSM_CA_PIN, then run again with --yes to spend that last try",
    );
    expect(token.calls).toEqual([['pkcs11-tool', '--module', MODULE, '--list-token-slots']]);
    const said: string[] = [];
    await guard(fakeToken(2).run, role, { yes: true, say: (line) => said.push(line) });
    expect(said).toEqual(["token 'OCK CA' (intermediate key) reports ONE PIN try left: a wrong PIN now locks it (then only the SO PIN unblocks it); going on with the PIN from HSM_CA_PIN, as --yes says"]);
  });

  it('names a low count before the login and goes on; says nothing at a full count', async () => {
    const said: string[] = [];
    await guard(fakeToken(1).run, role, { yes: false, say: (line) => said.push(line) });
    expect(said).toEqual(["token 'OCK CA' (intermediate key) reports few PIN tries left: make sure the PIN from HSM_CA_PIN is right"]);
    said.length = 0;
    await guard(fakeToken(0).run, role, { yes: false, say: (line) => said.push(line) });
    expect(said).toEqual([]);
  });

  it('quotes a module path and label for the shell in the unblock command', async () => {
    const token = fakeToken(3);
    const error = await guard(token.run, { ...role, module: '/opt/my hsm/lib.so' }).then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toContain("pkcs11-tool --module '/opt/my hsm/lib.so' --token-label 'OCK CA' --login");
  });

  describe('when openssl is the login (pkcs11-provider says only "Could not read CA private key")', () => {
    const KEY_UNREADABLE = 'Could not read CA private key from pkcs11:token=OCK%20CA;id=%01;object=intermediate;type=private\n';
    const withPin = { secrets: { HSM_CA_PIN: 'x' } };

    /** A token whose openssl run fails as pkcs11-provider does; `refuses`: whether the failure was a refused login. */
    function providerToken(wrongBefore: number, refuses: boolean, stderr = KEY_UNREADABLE): { run: Runner; calls: string[][] } {
      let wrong = wrongBefore;
      const calls: string[][] = [];
      const run: Runner = async (tool, args) => {
        calls.push([tool, ...args]);
        if (args.includes('--list-token-slots')) return { stdout: slots(Math.min(wrong, 3)), stderr: '' };
        wrong = refuses ? wrong + 1 : 0;
        throw new ToolFailedError('openssl failed (exit 1): Could not read CA private key', tool, stderr);
      };
      return { run, calls };
    }

    it.each([
      [0, /^token 'OCK CA' \(intermediate key\) rejected the PIN from HSM_CA_PIN .* and now reports few tries left/],
      [1, /^token 'OCK CA' \(intermediate key\) rejected the PIN from HSM_CA_PIN .* and now reports one try left/],
      [2, /^the token PIN is locked: token 'OCK CA' refused the PIN, and that was its last try; unblock it/],
    ])('a refused login (%i wrong before) is named from the counters the token reports after it', async (before, message) => {
      const token = providerToken(before, true);
      const run = await guard(token.run, role, { yes: true, say: () => undefined });
      const error = await run('openssl', ['ca'], withPin).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(WrongPinError);
      expect((error as Error).message).toMatch(message);
      expect(token.calls.filter(([tool]) => tool === 'openssl')).toHaveLength(1);
    });

    it('a key openssl could not load after a good login (the counters cleared) is named with what to check', async () => {
      const token = providerToken(1, false);
      const run = await guard(token.run, role, { yes: true, say: () => undefined });
      await expect(run('openssl', ['ca'], withPin)).rejects.toThrow(
        `openssl could not load the intermediate key (Could not read CA private key from pkcs11:token=OCK%20CA;id=%01;object=intermediate;type=private); token 'OCK CA' reports no refused login, so the private key may be missing (pkcs11-tool --module ${MODULE} --token-label 'OCK CA' --login --list-objects lists it) — or the PIN from HSM_CA_PIN is wrong on a token that does not report refusals (nothing was retried)`,
      );
    });

    it('a flag already raised before the run counts only when openssl could not load the key', async () => {
      // SoftHSM2 keeps "user PIN count low" through further refusals: unchanged counters, the key unreadable.
      const unreadable = await guard(providerToken(1, true).run, role, { yes: true, say: () => undefined });
      await expect(unreadable('openssl', ['ca'], withPin)).rejects.toThrow(WrongPinError);
      const stillLow: Runner = async (tool, args) => {
        if (args.includes('--list-token-slots')) return { stdout: slots(1), stderr: '' };
        throw new ToolFailedError('openssl failed (exit 1): unable to write certificate', tool, 'unable to write certificate\n');
      };
      const other = await guard(stillLow, role, { yes: true, say: () => undefined });
      await expect(other('openssl', ['ca'], withPin)).rejects.toThrow(/^openssl failed \(exit 1\): unable to write certificate$/);
    });

    it('a run without the PIN (the shadow CA, a verify) is not looked into', async () => {
      const token = providerToken(0, true);
      const run = await guard(token.run, role);
      await expect(run('openssl', ['verify'])).rejects.toThrow(ToolFailedError);
      await expect(run('pkcs11-tool', ['--list-objects'], withPin)).rejects.toThrow(ToolFailedError);
      expect(token.calls.filter((call) => call.includes('--list-token-slots'))).toHaveLength(1);
    });
  });
});
