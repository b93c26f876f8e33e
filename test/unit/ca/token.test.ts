import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaError } from '../../../src/errors.js';
import { openToken } from '../../../src/ca/token/token.js';
import { fakeModule, NO_SLOTS, OTHER_SLOTS, SLOTS } from './fake-module.js';

describe('openToken', () => {
  let dir: string;
  let module: string;
  const role = () => ({ role: 'intermediate', module, tokenLabel: 'CA Token', tokenOption: '--token', pinEnv: 'HSM_CA_PIN', pinFile: undefined }) as const;
  const listing = () => ['--module', module, '--list-token-slots'];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsm-ca-unit-token-'));
    module = join(dir, 'libsofthsm2.so');
    await writeFile(module, '');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lists the tokens once when the first listing has the named token: one listing, the token and its PIN counters', async () => {
    const fake = fakeModule([SLOTS], 'pkcs11-tool');
    const token = await openToken(fake.run, role());
    expect(token).toMatchObject({ module, label: 'CA Token' });
    expect(fake.listings).toEqual([listing()]);
  });

  it('refuses a token whose listing reports its user PIN locked, from that same listing', async () => {
    const fake = fakeModule([SLOTS.replace('PIN initialized,', 'PIN initialized, user PIN locked,')], 'pkcs11-tool');
    await expect(openToken(fake.run, role())).rejects.toThrow(/^the token PIN is locked: token 'CA Token' reports its user PIN locked/);
    expect(fake.listings).toEqual([listing()]);
  });

  it.each([
    ['no token at all (SoftHSM2 read token.object while a login rewrote it)', NO_SLOTS],
    ['only another token', OTHER_SLOTS],
  ])('lists once more when the first listing shows %s', async (_, first) => {
    const fake = fakeModule([first, SLOTS], 'pkcs11-tool');
    const token = await openToken(fake.run, role());
    expect(token.label).toBe('CA Token');
    expect(fake.listings).toEqual([listing(), listing()]);
  });

  it.each([
    [NO_SLOTS, 'none'],
    [OTHER_SLOTS, "'Other'"],
  ])('says which tokens the second listing shows when neither has the named one (%#)', async (both, present) => {
    const fake = fakeModule([both, both, SLOTS], 'pkcs11-tool');
    const error = await openToken(fake.run, role()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CaError);
    expect((error as Error).message).toBe(
      `token 'CA Token' (intermediate key) not found on ${module}; tokens present: ${present}; plug the token in, or check --token`,
    );
    expect(fake.listings).toEqual([listing(), listing()]);
  });
});
