import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnose } from '../../../src/ca/check/doctor.js';
import { fakeModule, LISTED, NONE, OTHER } from './fake-module.js';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const LISTING = ['--batch', '--provider', MODULE, '--list-tokens'];

describe('doctor: the token check', () => {
  let dir: string;
  beforeAll(async () => {
    // No CA here: only the module and --token say what to look for.
    dir = await mkdtemp(join(tmpdir(), 'hsm-ca-unit-doctor-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function tokenFinding(listings: string[], token: string | undefined) {
    const fake = fakeModule(listings);
    const findings = await diagnose({ run: fake.run, dir, module: MODULE, token });
    return { finding: findings.find((f) => /^(module|token) /.test(f.text)), listings: fake.listings };
  }

  it('lists the tokens once more when the first listing misses the named token (SoftHSM2 rewriting token.object)', async () => {
    const { finding, listings } = await tokenFinding([NONE, LISTED], 'CA Token');
    expect(finding?.level).toBe('ok');
    expect(finding?.text).toMatch(new RegExp(`^module ${MODULE}: 1 token\\(s\\), 'CA Token' present — pkcs11:`));
    expect(listings).toEqual([LISTING, LISTING]);
  });

  it('fails, naming the tokens of the second listing, when neither has the named token', async () => {
    const { finding, listings } = await tokenFinding([NONE, OTHER, LISTED], 'CA Token');
    expect(finding).toEqual({ level: 'fail', text: `token 'CA Token' not found on ${MODULE}; tokens present: 'Other'` });
    expect(listings).toEqual([LISTING, LISTING]);
  });

  it('lists once when the first listing has the token, or when no token is named', async () => {
    expect((await tokenFinding([LISTED], 'CA Token')).listings).toEqual([LISTING]);
    const unnamed = await tokenFinding([NONE, LISTED], undefined);
    expect(unnamed.finding).toEqual({ level: 'ok', text: `module ${MODULE}: 0 token(s) — none` });
    expect(unnamed.listings).toEqual([LISTING]);
  });
});
