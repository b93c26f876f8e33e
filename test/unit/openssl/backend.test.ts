import { describe, it, expect } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBackendChoice, providerListed, resolveBackend, type BackendName } from '../../../src/openssl/backend.js';
import { createCsr, createSelfSigned, generateCrl, revoke, signWithCa, type SigningContext } from '../../../src/tools/openssl.js';
import type { Runner, RunOptions } from '../../../src/tools/run.js';
import { UsageError, CaError } from '../../../src/errors.js';

interface Call {
  tool: string;
  args: readonly string[];
  options: RunOptions | undefined;
}

/** A runner that records every call and answers like openssl would for the given set-up. */
function fakeRunner(installed: { engine: boolean; provider: boolean }): { run: Runner; calls: Call[] } {
  const calls: Call[] = [];
  const run: Runner = async (tool, args, options) => {
    calls.push({ tool, args, options });
    if (args[0] === 'engine') return { stdout: installed.engine ? '(pkcs11) pkcs11 engine\n     [ available ]\n' : '', stderr: '' };
    if (args[0] === 'list') {
      const provider = installed.provider ? '  pkcs11\n    name: PKCS#11 Provider\n    version: 3.0.16\n    status: active\n' : '';
      return { stdout: `Providers:\n  default\n    name: OpenSSL Default Provider\n    version: 3.0.22\n    status: active\n${provider}`, stderr: '' };
    }
    return { stdout: '', stderr: '' };
  };
  return { run, calls };
}

async function inTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'backend-test-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const KEY = 'pkcs11:token=CA%20Token;id=%01;object=root;type=private';

describe('resolveBackend', () => {
  it.each([
    [{ engine: true, provider: true }, 'provider'],
    [{ engine: true, provider: false }, 'engine'],
    [{ engine: false, provider: true }, 'provider'],
  ] as Array<[{ engine: boolean; provider: boolean }, BackendName]>)('auto with %o takes the %s', async (installed, expected) => {
    await inTempDir(async (dir) => {
      const { run } = fakeRunner(installed);
      const resolved = await resolveBackend(run, 'auto', MODULE, dir, 'root');
      expect(resolved.backend).toBe(expected);
      expect(await readFile(resolved.config, 'utf8')).toContain(expected === 'engine' ? 'engine_id = pkcs11' : `pkcs11-module-path = ${MODULE}`);
    });
  });

  it('refuses an explicit backend that does not load, naming its package, before anything signs', async () => {
    await inTempDir(async (dir) => {
      const { run, calls } = fakeRunner({ engine: false, provider: true });
      await expect(resolveBackend(run, 'engine', MODULE, dir, 'root')).rejects.toThrow(/libengine-pkcs11-openssl/);
      expect(calls.map((c) => c.args[0])).toEqual(['engine']);
    });
  });

  it('refuses auto when neither loads, naming both packages', async () => {
    await inTempDir(async (dir) => {
      const { run } = fakeRunner({ engine: false, provider: false });
      const error = await resolveBackend(run, 'auto', MODULE, dir, 'root').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CaError);
      expect((error as Error).message).toMatch(/pkcs11-provider.*libengine-pkcs11-openssl/);
    });
  });

  it('probes with the rendered config as OPENSSL_CONF, never with a PIN', async () => {
    await inTempDir(async (dir) => {
      const { run, calls } = fakeRunner({ engine: true, provider: true });
      const resolved = await resolveBackend(run, 'provider', MODULE, dir, 'root');
      expect(calls).toEqual([{ tool: 'openssl', args: ['list', '-providers'], options: { env: { OPENSSL_CONF: resolved.config } } }]);
    });
  });
});

describe('providerListed', () => {
  it('needs the pkcs11 provider listed as active', () => {
    expect(providerListed('Providers:\n  default\n    status: active\n  pkcs11\n    name: PKCS#11 Provider\n    version: 3.0.16\n    status: active\n')).toBe(true);
    expect(providerListed('Providers:\n  default\n    name: OpenSSL Default Provider\n    status: active\n')).toBe(false);
    expect(providerListed('Providers:\n  pkcs11\n    name: PKCS#11 Provider\n    status: inactive\n  default\n    status: active\n')).toBe(false);
  });
});

describe('parseBackendChoice', () => {
  it('accepts auto, engine and provider, and refuses anything else with the choices', () => {
    expect(['auto', 'ENGINE', 'provider'].map((v) => parseBackendChoice(v))).toEqual(['auto', 'engine', 'provider']);
    expect(() => parseBackendChoice('pkcs11')).toThrow(UsageError);
    expect(() => parseBackendChoice('pkcs11')).toThrow(/auto, engine, provider/);
  });
});

/** The argv each backend gives openssl: the same command, with only the key-loading options differing. */
describe.each(['engine', 'provider'] as BackendName[])('openssl argv with the %s', (backend) => {
  const keyLoad = backend === 'engine' ? ['-engine', 'pkcs11', '-keyform', 'engine'] : [];
  const token = [...keyLoad, '-passin', 'env:HSM_CA_PIN'];

  async function argvOf(call: (context: SigningContext) => Promise<unknown>): Promise<Call> {
    const { run, calls } = fakeRunner({ engine: true, provider: true });
    await call({ run, backend, config: '/ws/openssl.cnf', pin: '648213' });
    expect(calls).toHaveLength(1);
    return calls[0]!;
  }

  it('passes the PIN only as a secret in the environment, and OPENSSL_CONF for the child alone', async () => {
    const call = await argvOf((c) => createSelfSigned(c, { config: 'root.ini', keyUri: KEY, days: 10, digest: 'sha384', out: 'root.crt' }));
    expect(call.options).toEqual({ env: { OPENSSL_CONF: '/ws/openssl.cnf' }, secrets: { HSM_CA_PIN: '648213' } });
    expect(call.args.join(' ')).not.toContain('648213');
  });

  it('req -x509, req -new, ca, ca -revoke and ca -gencrl', async () => {
    expect((await argvOf((c) => createSelfSigned(c, { config: 'root.ini', keyUri: KEY, days: 10, digest: 'sha384', out: 'root.crt' }))).args).toEqual(
      ['req', '-config', 'root.ini', ...token, '-key', KEY, '-new', '-x509', '-days', '10', '-sha384', '-extensions', 'v3_ca', '-batch', '-out', 'root.crt'],
    );
    expect((await argvOf((c) => createCsr(c, { config: 'csr.ini', keyUri: KEY, digest: 'sha256', out: 'i.csr' }))).args).toEqual(
      ['req', '-config', 'csr.ini', ...token, '-key', KEY, '-new', '-sha256', '-batch', '-out', 'i.csr'],
    );
    expect((await argvOf((c) => signWithCa(c, { config: 'ca.ini', extensions: 'server_cert', days: 30, digest: 'sha256', csr: 'r.csr', out: 'r.crt' }))).args).toEqual(
      ['ca', '-config', 'ca.ini', ...token, '-batch', '-notext', '-extensions', 'server_cert', '-days', '30', '-md', 'sha256', '-in', 'r.csr', '-out', 'r.crt'],
    );
    // A batch's shared run: -infiles last (it takes every argument after it), -out before it.
    expect((await argvOf((c) => signWithCa(c, { config: 'ca.ini', extensions: 'server_cert', days: 30, digest: 'sha256', csr: 'a.csr', infiles: ['a.csr', 'b.csr'], out: 'r.crt' }))).args).toEqual(
      ['ca', '-config', 'ca.ini', ...token, '-batch', '-notext', '-extensions', 'server_cert', '-days', '30', '-md', 'sha256', '-out', 'r.crt', '-infiles', 'a.csr', 'b.csr'],
    );
    expect((await argvOf((c) => revoke(c, { config: 'ca.ini', certificate: 'r.crt', reason: 'keyCompromise' }))).args).toEqual(
      ['ca', '-config', 'ca.ini', ...token, '-batch', '-revoke', 'r.crt', '-crl_reason', 'keyCompromise'],
    );
    expect((await argvOf((c) => generateCrl(c, { config: 'ca.ini', days: 7, digest: 'sha512', out: 'c.pem' }))).args).toEqual(
      ['ca', '-config', 'ca.ini', ...token, '-batch', '-gencrl', '-crldays', '7', '-md', 'sha512', '-out', 'c.pem'],
    );
  });
});
