import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaError } from '../../../src/errors.js';
import { openToken } from '../../../src/ca/token/token.js';
import { fakeModule, LISTED, NONE, OTHER } from './fake-module.js';

describe('openToken', () => {
  let dir: string;
  let module: string;
  const role = () => ({ role: 'intermediate', module, tokenLabel: 'CA Token', tokenOption: '--token', pinEnv: 'HSM_CA_PIN', pinFile: undefined }) as const;
  const listing = () => ['--batch', '--provider', module, '--list-tokens'];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsm-ca-unit-token-'));
    module = join(dir, 'libsofthsm2.so');
    await writeFile(module, '');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lists the tokens once when the first listing has the named token', async () => {
    const fake = fakeModule([LISTED]);
    const token = await openToken(fake.run, role());
    expect(token.url).toBe('pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=bdbaa403ac117fc8;token=CA%20Token');
    expect(fake.listings).toEqual([listing()]);
  });

  it.each([
    ['no token at all (SoftHSM2 read token.object while a login rewrote it)', NONE],
    ['only another token', OTHER],
  ])('lists once more when the first listing shows %s', async (_, first) => {
    const fake = fakeModule([first, LISTED]);
    const token = await openToken(fake.run, role());
    expect(token.label).toBe('CA Token');
    expect(fake.listings).toEqual([listing(), listing()]);
  });

  it.each([
    [NONE, 'none'],
    [OTHER, "'Other'"],
  ])('says which tokens the second listing shows when neither has the named one (%#)', async (both, present) => {
    const fake = fakeModule([both, both, LISTED]);
    const error = await openToken(fake.run, role()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CaError);
    expect((error as Error).message).toBe(
      `token 'CA Token' (intermediate key) not found on ${module}; tokens present: ${present}; plug the token in, or check --token`,
    );
    expect(fake.listings).toEqual([listing(), listing()]);
  });
});
