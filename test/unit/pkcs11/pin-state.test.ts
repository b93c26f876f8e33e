import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { WrongPinError } from '../../../src/errors.js';
import { pinState, type PinState } from '../../../src/pkcs11/pin-state.js';
import { parseTokens } from '../../../src/tools/parse/p11tool.js';
import { parseTokenSlots } from '../../../src/tools/parse/pkcs11-tool.js';
import { pinFailure } from '../../../src/tools/run.js';

/** Captured by scripts/capture-opencryptoki-output.sh on openCryptoki 3.8.1's soft token (Debian 12). */
function fixture(path: string): string {
  return readFileSync(new URL(`../../fixtures/tool-output/${path}`, import.meta.url), 'utf8');
}

const slots = (wrong: number): string => fixture(`pkcs11-tool/0.23.0/opencryptoki-list-token-slots-${wrong}-wrong.txt`);

describe('parseTokenSlots', () => {
  it('reads the label and flags of openCryptoki\'s soft token', () => {
    expect(parseTokenSlots(slots(1))).toEqual([
      {
        tokenLabel: 'OCK CA',
        flags: ['login required', 'rng', 'SO PIN to be changed', 'token initialized', 'user PIN count low', 'PIN initialized', 'other flags=0x40'],
      },
    ]);
  });

  it('reads a field whose value follows the colon without a space', () => {
    expect(parseTokenSlots('Slot 0 (0x0): SoftHSM\n  token label:Bench\n')).toEqual([{ tokenLabel: 'Bench', flags: [] }]);
  });

  it('leaves out slots without an initialised token, and empty readers', () => {
    const text = [
      'Available slots:',
      'Slot 0 (0x1d4c8a2e): SoftHSM slot ID 0x1d4c8a2e',
      '  token label        : CA Token',
      '  token flags        : login required, rng, token initialized, PIN initialized, other flags=0x20',
      '  uri                : pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=b6eaebb3d6563411;token=CA%20Token',
      'Slot 1 (0x1): SoftHSM slot ID 0x1',
      '  token state:   uninitialized',
      'Slot 2 (0x4): Nitrokey Nitrokey HSM 00 00',
      '  (empty)',
    ].join('\n');
    expect(parseTokenSlots(text)).toEqual([{ tokenLabel: 'CA Token', flags: ['login required', 'rng', 'token initialized', 'PIN initialized', 'other flags=0x20'] }]);
  });

  it('returns [] for "No slots." and refuses a line it does not know', () => {
    expect(parseTokenSlots('Available slots:\nNo slots.\n')).toEqual([]);
    expect(parseTokenSlots('No slots\n')).toEqual([]);
    expect(() => parseTokenSlots('Available slots:\nsomething else\n')).toThrow(/unexpected line "something else"/);
  });

  it('reads slot numbers of more than one digit', () => {
    expect(parseTokenSlots('Slot 12 (0x1c): SoftHSM slot\n  token label        : Twelve\n')).toEqual([{ tokenLabel: 'Twelve', flags: [] }]);
  });

  it.each([
    'xAvailable slots:',
    'Available slots: 3',
    'Not No slots',
    'No slots..',
    'x(empty)',
    '(empty) reader',
    'xSlot 0 (0x1): SoftHSM slot',
    'token label : unindented',
    'note: a field: like tail',
  ])('refuses %j after a slot as a line it does not know', (line) => {
    expect(() => parseTokenSlots(`Slot 0 (0x1): SoftHSM slot\n  token label        : A\n${line}\n`)).toThrow(/pkcs11-tool's slot list \(unexpected line/);
  });
});

describe('pinState from pkcs11-tool\'s token flags', () => {
  it.each<[number, PinState]>([
    [0, 'ok'],
    [1, 'countLow'],
    [2, 'finalTry'],
    [3, 'locked'],
  ])('after %i wrong PINs the soft token reports %s', (wrong, state) => {
    expect(pinState(parseTokenSlots(slots(wrong))[0]!.flags)).toBe(state);
  });

  it('takes the worst flag when several are set, and ok for a token that reports none (SoftHSM2)', () => {
    expect(pinState(['user PIN count low', 'user PIN locked'])).toBe('locked');
    expect(pinState(['user PIN count low', 'final user PIN try'])).toBe('finalTry');
    expect(pinState(['login required', 'rng', 'token initialized', 'PIN initialized', 'other flags=0x20'])).toBe('ok');
    expect(pinState([])).toBe('ok');
  });
});

describe('p11tool 3.7.9\'s Flags line (why the PIN state is read with pkcs11-tool)', () => {
  const flags = (wrong: number): readonly string[] => parseTokens(fixture(`p11tool/3.7.9/opencryptoki-list-tokens-${wrong}-wrong.txt`))[0]!.flags;

  it('says "uPIN locked" on the final try, and nothing once the PIN is locked', () => {
    expect(flags(1)).toContain('uPIN low count');
    expect(flags(2)).toEqual(['RNG', 'Requires login', 'Final uPIN attempt', 'uPIN locked']);
    expect(flags(3)).toEqual(['RNG', 'Requires login']);
  });
});

describe('pinFailure on the soft token\'s real login errors', () => {
  it.each([
    ['pkcs11-tool/0.23.0/opencryptoki-login-wrong-pin.txt'],
    ['p11tool/3.7.9/opencryptoki-login-wrong-pin.txt'],
    ['openssl/3.0.22-libp11-0.4.13/opencryptoki-req-wrong-pin.txt'],
  ])('a wrong PIN: %s', (path) => {
    const error = pinFailure(fixture(path));
    expect(error).toBeInstanceOf(WrongPinError);
    expect(error!.message).toMatch(/^the token rejected the PIN/);
  });

  it.each([
    ['pkcs11-tool/0.23.0/opencryptoki-login-locked.txt'],
    ['p11tool/3.7.9/opencryptoki-login-locked.txt'],
    ['openssl/3.0.22-libp11-0.4.13/opencryptoki-req-locked.txt'],
  ])('a locked PIN: %s', (path) => {
    const error = pinFailure(fixture(path));
    expect(error).toBeInstanceOf(WrongPinError);
    expect(error!.message).toMatch(/^the token PIN is locked .*unblock it with the SO PIN \(pkcs11-tool --login --login-type so --init-pin/);
  });
});

describe.each(['0.23.0', '0.26.1', '0.27.1'])('parseTokenSlots on the SoftHSM2 slot list of OpenSC %s', (release) => {
  it('finds the token by label with its flags (the uri line of 0.26+ included)', () => {
    const text = readFileSync(new URL(`../../fixtures/tool-output/pkcs11-tool/${release}/list-slots.txt`, import.meta.url), 'utf8');
    const [token, ...others] = parseTokenSlots(text);
    expect(others).toEqual([]);
    expect(token!.tokenLabel).toBe('CA Token');
    expect(token!.flags).toEqual(expect.arrayContaining(['login required', 'token initialized', 'PIN initialized']));
    expect(pinState(token!.flags)).toBe('ok');
  });
});
