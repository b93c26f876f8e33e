import { describe, it, expect } from '@jest/globals';
import { lastMeaningfulLine, pinFailure } from '../../../src/tools/run.js';
import { CaError, WrongPinError } from '../../../src/errors.js';

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
    const { run } = await import('../../../src/tools/run.js');
    const { rememberSecret } = await import('../../../src/secrets.js');
    rememberSecret('58213');
    const failed = await run('sh', ['-c', 'echo "unable to load /srv/ca-58213/index.txt" >&2; exit 1']).then(() => undefined, (error: unknown) => error as Error);
    expect(failed?.message).toContain('unable to load /srv/ca-***/index.txt');
    expect(failed?.message).not.toContain('58213');
  });

  it('from the message of a failure that printed only to stdout', async () => {
    const { run } = await import('../../../src/tools/run.js');
    const failed = await run('sh', ['-c', 'echo "no such token 314159"; exit 1'], { secrets: { HSM_CA_PIN: '314159' } }).then(() => undefined, (error: unknown) => error as Error);
    expect(failed?.message).toBe('sh failed (exit 1): no such token ***');
  });

  it('but not from the data a tool prints, where the PIN\'s digits can occur by chance (an EC point)', async () => {
    const { run } = await import('../../../src/tools/run.js');
    const { rememberSecret } = await import('../../../src/secrets.js');
    rememberSecret('4711');
    expect((await run('sh', ['-c', 'echo 85eaf5dec4711ab; echo "stderr 4711" >&2'])).stdout).toBe('85eaf5dec4711ab\n');
    expect((await run('sh', ['-c', 'echo "stderr 4711" >&2'])).stderr).toBe('stderr ***\n');
  });
});
