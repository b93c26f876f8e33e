import { describe, it, expect } from '@jest/globals';
import { lastMeaningfulLine, pinFailure, redact } from '../../../src/tools/run.js';
import { CaError, WrongPinError } from '../../../src/errors.js';

describe('redact', () => {
  it('hides every occurrence of a secret', () => {
    expect(redact('pin=1234 again 1234', ['1234'])).toBe('pin=*** again ***');
  });

  it('hides a PIN that also occurs inside a path', () => {
    const out = redact("openssl: cannot open '/tmp/1234/x' with PIN 1234", ['1234']);
    expect(out).toBe("openssl: cannot open '/tmp/***/x' with PIN ***");
    expect(out).not.toContain('1234');
  });

  it('hides overlapping secrets completely, longest first', () => {
    const out = redact('user 123456 so 1234', ['1234', '123456']);
    expect(out).toBe('user *** so ***');
    expect(out).not.toMatch(/[0-9]/);
  });

  it('ignores empty secrets', () => {
    expect(redact('nothing secret here', ['', 'zzz'])).toBe('nothing secret here');
    expect(redact('abc', [''])).toBe('abc');
  });

  it('treats secrets literally, not as regular expressions', () => {
    expect(redact('pin a.b+c$ and axbbc', ['a.b+c$'])).toBe('pin *** and axbbc');
  });

  it('returns the text unchanged without secrets and does not reorder the array it got', () => {
    expect(redact('x', [])).toBe('x');
    const secrets = ['12', '1234'];
    redact('1234', secrets);
    expect(secrets).toEqual(['12', '1234']);
  });
});

describe('lastMeaningfulLine', () => {
  it('skips the engine banner and "Aborting."', () => {
    const stderr = 'Engine "pkcs11" set.\nCould not read private key from org.openssl.engine:pkcs11:pkcs11:token=X\n  \nAborting.\n';
    expect(lastMeaningfulLine(stderr)).toBe('Could not read private key from org.openssl.engine:pkcs11:pkcs11:token=X');
  });

  it('trims the line and ignores CRLF', () => {
    expect(lastMeaningfulLine('first\r\n   second line   \r\n\r\n')).toBe('second line');
  });

  it('says so when there is nothing to show', () => {
    expect(lastMeaningfulLine('')).toBe('(no error output)');
    expect(lastMeaningfulLine('Engine "pkcs11" set.\nAborting.\n')).toBe('(no error output)');
  });

  it('keeps lines that only contain the noise as a part', () => {
    expect(lastMeaningfulLine('x\nAborting. because of y\n')).toBe('Aborting. because of y');
  });
});

describe('pinFailure', () => {
  const wrongPin = (output: string): CaError | undefined => pinFailure(output);

  it.each([
    ['pkcs11-tool', 'Using slot 0 with a present token (0x0)\nLogging in to "CA Token".\nerror: PKCS11 function C_Login failed: rv = CKR_PIN_INCORRECT (0xa0)\nAborting.\n'],
    [
      'openssl/libp11',
      'Engine "pkcs11" set.\n40E7A4A3E07F0000:error:41000082:PKCS#11 module:pkcs11_login:PIN incorrect:p11_slot.c:243:\nCould not read private key\n',
    ],
    ['p11tool', 'Cannot continue with a wrong password in the environment.\n'],
  ])('recognises a wrong PIN from %s', (_tool, output) => {
    const error = wrongPin(output);
    expect(error).toBeInstanceOf(WrongPinError);
    expect(error!.message).toMatch(/rejected the PIN/);
    expect(error!.message).not.toMatch(/SO PIN/);
    expect(error!.exitCode).toBe(1);
  });

  it('recognises a locked PIN and points to the SO PIN', () => {
    const error = pinFailure('error: PKCS11 function C_Login failed: rv = CKR_PIN_LOCKED (0xa4)\nAborting.\n');
    expect(error).toBeInstanceOf(WrongPinError);
    expect(error!.message).toMatch(/locked/);
    expect(error!.message).toContain('SO PIN');
  });

  it('prefers the locked message when both appear', () => {
    const error = pinFailure('C_Login: CKR_PIN_INCORRECT\nC_Login: CKR_PIN_LOCKED\n');
    expect(error!.message).toContain('SO PIN');
  });

  it.each([
    ['an empty string', ''],
    ['a missing key', 'error: PKCS11 function C_FindObjects failed: rv = CKR_KEY_HANDLE_INVALID (0x60)\nAborting.\n'],
    ['an openssl engine error', 'Engine "pkcs11" set.\nCould not read private key from org.openssl.engine:pkcs11:pkcs11:token=X\n'],
    ['a p11tool token miss', 'No matching objects found\n'],
    ['a missing module', 'error: Failed to load pkcs11 module\nAborting.\n'],
    ['a wrong PIN length', 'error: PKCS11 function C_Login failed: rv = CKR_PIN_LEN_RANGE (0xa2)\n'],
  ])('returns undefined for %s', (_what, output) => {
    expect(pinFailure(output)).toBeUndefined();
  });
});

describe('run redacts every PIN this process has read', () => {
  it('also from a child that was never given it (the shadow CA\'s openssl)', async () => {
    const { rememberSecret, run } = await import('../../../src/tools/run.js');
    rememberSecret('58213');
    const failed = await run('sh', ['-c', 'echo "unable to load /srv/ca-58213/index.txt" >&2; exit 1']).then(() => undefined, (error: unknown) => error as Error);
    expect(failed?.message).toContain('unable to load /srv/ca-***/index.txt');
    expect(failed?.message).not.toContain('58213');
    expect((await run('sh', ['-c', 'echo 58213'])).stdout).toBe('***\n');
  });
});
