import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { requireCaKeys } from '../../../src/ca/token/signer.js';
import type { TokenRole } from '../../../src/ca/directory/context.js';
import type { Runner } from '../../../src/tools/run.js';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const role: TokenRole = { role: 'intermediate', module: MODULE, tokenLabel: 'CA Keys', pinEnv: 'HSM_CA_PIN', pinFile: undefined, tokenOption: '--token', backend: 'auto' };
const fixture = (file: string): string => readFileSync(new URL(`../../fixtures/tool-output/pkcs11-tool/${file}`, import.meta.url), 'utf8');
/** The token's objects after a login: the two public keys it shows to anyone, and their private keys. */
const WITH_LOGIN = `${fixture('0.23.0/list-objects-no-login.txt')}Private Key Object; EC\n  label:      root\n  ID:         0a1b2c\n  Usage:      sign\nPrivate Key Object; EC\n  label:      intermediate\n  ID:         3d4e5f\n  Usage:      sign\n`;

/** A token whose listing without a login shows `shown`, and with one every key; records each listing's argv. */
function token(shown: string): { run: Runner; calls: string[][] } {
  const calls: string[][] = [];
  const run: Runner = async (_tool, args) => {
    calls.push([...args]);
    return { stdout: args.includes('--login') ? WITH_LOGIN : shown, stderr: '' };
  };
  return { run, calls };
}

const key = (label: string, idHex: string) => ({ label, idHex, uri: `pkcs11:token=CA%20Keys;object=${label};type=private` });

describe('requireCaKeys finds the CA keys without a login where the token shows them', () => {
  it.each(['0.23.0', '0.26.1', '0.27.1'])('with OpenSC %s: one listing, no login, for the keys it shows', async (release) => {
    const { run, calls } = token(fixture(`${release}/list-objects-no-login.txt`));
    await requireCaKeys({ run, module: MODULE, label: 'CA Keys' }, 'pin', [key('intermediate', '3d4e5f'), key('root', '0a1b2c')], role);
    expect(calls).toEqual([['--module', MODULE, '--token-label', 'CA Keys', '--list-objects']]);
  });

  it('looks again with one login for a key the token does not show without it', async () => {
    const { run, calls } = token('');
    await requireCaKeys({ run, module: MODULE, label: 'CA Keys' }, 'pin', [key('intermediate', '3d4e5f')], role);
    expect(calls.map((args) => args.includes('--login'))).toEqual([false, true]);
  });

  it('at the final PIN try logs in with pkcs11-tool, since pkcs11-provider would not log in at all', async () => {
    const { run, calls } = token(fixture('0.27.1/list-objects-no-login.txt'));
    await requireCaKeys({ run, module: MODULE, label: 'CA Keys', pinState: 'finalTry' }, 'pin', [key('intermediate', '3d4e5f')], role);
    expect(calls.map((args) => args.includes('--login'))).toEqual([true]);
  });

  it('names a key that is on the token under neither label and id, and the option to check', async () => {
    const { run } = token(fixture('0.27.1/list-objects-no-login.txt'));
    await expect(requireCaKeys({ run, module: MODULE, label: 'CA Keys' }, 'pin', [key('intermediate', '3d4e5f'), key('intermediate', '0a1b2c')], role)).rejects.toThrow(
      "the intermediate key (label 'intermediate', id 0a1b2c) is not on token 'CA Keys'; plug in the token that holds it, or check --token",
    );
  });
});
