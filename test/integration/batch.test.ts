import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeCertificate, formatName, pemToDer, type DecodedCertificate } from '../../src/x509/decode.js';
import { sanStrings } from '../../src/x509/san.js';
import { extension } from '../../src/x509/verify.js';
import { ceremony, cli, exec, makeCsr, makeSandbox, SOFTHSM_MODULE, SPY_MODULE, treeHash, type Sandbox } from './helpers.js';

/**
 * Batch signing (issue 11): many CSRs, one question and one PIN entry, as few `openssl ca` runs as the
 * requests allow (one login each, plus pkcs11-tool's one check of the key), every certificate verified, the
 * bad CSRs reported and left out (or, with --strict, the whole batch refused), everything committed at once.
 */

/** An issued certificate file, decoded (never OpenSSL's printed text, which differs between versions). */
async function certificate(path: string): Promise<DecodedCertificate> {
  return decodeCertificate(pemToDer(await readFile(path, 'utf8'), 'CERTIFICATE', path));
}

/** PKCS#11 calls of one kind in an OpenSC pkcs11-spy log. */
async function callsIn(spyLog: string, call: 'C_Login' | 'C_Sign'): Promise<number> {
  return ((await readFile(spyLog, 'utf8').catch(() => '')).match(new RegExp(`^\\d+: ${call}$`, 'gm')) ?? []).length;
}

describe('server with several CSRs', () => {
  let sandbox: Sandbox;
  let requests: string;
  const good = ['alpha', 'beta', 'gamma'];

  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox);
    requests = join(sandbox.root, 'requests');
    await mkdir(requests);
    // alpha and beta ask for exactly what the CA would write (CN among their SANs): one shared run.
    await makeCsr(requests, 'alpha', { subject: '/CN=alpha.example.com', sans: 'DNS:alpha.example.com,DNS:www.alpha.example.com' });
    await makeCsr(requests, 'beta', { subject: '/CN=beta.example.com', sans: 'DNS:beta.example.com,IP:10.0.0.2' });
    // gamma has no SAN and more subject than the CA keeps: a run of its own, where the CA writes both.
    await makeCsr(requests, 'gamma', { subject: '/O=Requester Picks/CN=gamma.example.com' });
    await makeCsr(requests, 'mail', { subject: '/CN=mail.example.com', sans: 'DNS:mail.example.com,email:ops@example.com' });
    await writeFile(join(requests, 'garbage.csr'), 'not a CSR\n');
  }, 180_000);
  afterAll(() => sandbox.cleanup());

  const spied = (log: string) => ({ env: { ...sandbox.env, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: log } });
  const csrs = () => [...good, 'mail', 'garbage'].map((name) => join(requests, `${name}.csr`));

  /** `server` with all five CSRs into a new, empty NAME-out, PKCS#11 calls logged to NAME.log; the CA's files as they were before. */
  async function serverBatch(name: string, ...options: string[]) {
    const out = join(sandbox.root, `${name}-out`);
    await mkdir(out);
    const before = await treeHash(sandbox.caDir);
    const log = join(sandbox.root, `${name}.log`);
    const result = await cli(['server', ...csrs(), ...options, '--out-dir', out, '--dir', sandbox.caDir, '--module', SPY_MODULE], spied(log));
    return { out, before, log, result };
  }

  it('--dry-run shows the token\'s openssl ca runs (one per certificate), their configs and the shadow\'s certificates; no login, nothing written', async () => {
    const { out, before, log, result } = await serverBatch('dry', '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^server --dry-run: 3 certificates would be signed with the intermediate key in 3 openssl ca run\(s\); refused .*mail\.csr: SAN email/m);
    for (const name of ['alpha', 'beta']) expect(result.stdout).toMatch(new RegExp(`\\$ openssl ca -config \\S+sign_server_csrs\\.ini .*-passin env:HSM_CA_PIN .* -in \\S*${name}\\.csr -out \\S*${name}\\.crt$`, 'm'));
    expect(result.stdout).not.toMatch(/^\$ openssl .*-infiles/m);
    expect(result.stdout).toMatch(/\$ openssl ca .*-subj \/CN=gamma\.example\.com -utf8 -in \S*gamma\.csr -out \S*gamma\.crt$/m);
    expect(result.stdout).toContain('copy_extensions   = copy');
    expect(result.stdout).toContain(`${join(out, 'alpha.crt')} would hold:\n-----BEGIN CERTIFICATE-----`);
    expect(result.stdout).not.toContain(sandbox.pin);
    expect(await callsIn(log, 'C_Login')).toBe(0);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
    expect(await readdir(out)).toEqual([]);
  });

  it('--strict refuses the whole batch when one CSR is bad: nothing signed on the token, nothing written', async () => {
    const { out, before, log, result } = await serverBatch('strict', '--strict');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--strict: 2 of 5 CSRs refused, so none was signed: .*mail\.csr: SAN email:ops@example\.com does not belong in a TLS server certificate.*garbage\.csr: /);
    expect(await callsIn(log, 'C_Sign')).toBe(0);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
    expect(await readdir(out)).toEqual([]);
  });

  it('signs each good CSR in a token run of its own (a random serial each, never a counter), one login each, and reports the bad ones (exit 1)', async () => {
    const indexBefore = (await readFile(join(sandbox.caDir, 'intermediate', 'index.txt'), 'utf8')).split('\n').filter(Boolean).length;
    const { out, log, result } = await serverBatch('batch');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^server certificate issued: 3 issued, 2 refused$/m);
    for (const name of good) expect(result.stdout).toMatch(new RegExp(`^  ${join(out, `${name}.crt`)}  serial [0-9A-F]+  CN=${name}\\.example\\.com  `, 'm'));
    expect(result.stdout).toMatch(/^  refused .*mail\.csr: SAN email:ops@example\.com does not belong/m);
    expect(result.stdout).toMatch(/^  refused .*garbage\.csr: /m);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^hsm-openssl-ca: 2 of 5 CSRs refused \(listed above, each with its reason\); the other 3 were issued/);
    // alpha and beta share the shadow CA's run, gamma has its own; the token signs each in a run of its own
    // (openssl ca -infiles would count serials up from one random draw): three runs, a login in each, no other.
    expect(result.stderr).toMatch(/signing 2 of the batch's 3 .*\(openssl ca runs 1–2 of 3, one per certificate\)/);
    expect(result.stderr).toMatch(/signing 1 of the batch's 3 .*\(openssl ca run 3 of 3\)/);
    expect(await callsIn(log, 'C_Login')).toBe(3);
    const serials = [...result.stdout.matchAll(/ serial ([0-9A-F]+) /g)].map((m) => BigInt(`0x${m[1]}`)).sort((a, b) => (a < b ? -1 : 1));
    expect(serials).toHaveLength(3);
    // Random 159-bit serials: any two lie far apart; a counter puts them 1 apart.
    for (const [i, serial] of serials.slice(1).entries()) expect(serial - serials[i]! > 1n << 64n).toBe(true);
    expect(await callsIn(log, 'C_Sign')).toBe(3);
    expect((await readdir(out)).sort()).toEqual(good.flatMap((name) => [`${name}.chain.crt`, `${name}.crt`]).sort());
    const root = join(sandbox.caDir, 'certs', 'root.crt');
    // What the CA writes: the CN alone as subject, the requested SANs (gamma: its CN as one), a server's EKU and key usage.
    const sans: Record<string, string[]> = { alpha: ['DNS:alpha.example.com', 'DNS:www.alpha.example.com'], beta: ['DNS:beta.example.com', 'IP:10.0.0.2'], gamma: ['DNS:gamma.example.com'] };
    for (const name of good) {
      const crt = join(out, `${name}.crt`);
      const chain = join(out, `${name}.chain.crt`);
      // openssl verify's exit status is its verdict: the certificate alone with intermediate.crt, and the chain file on its own.
      expect((await exec('openssl', ['verify', '-x509_strict', '-CAfile', root, '-untrusted', join(sandbox.caDir, 'intermediate', 'certs', 'intermediate.crt'), crt])).code).toBe(0);
      expect((await exec('openssl', ['verify', '-x509_strict', '-CAfile', root, '-untrusted', chain, chain])).code).toBe(0);
      const cert = await certificate(crt);
      expect(formatName(cert.subject)).toBe(`CN=${name}.example.com`);
      expect(sanStrings(cert.extensions)).toEqual(sans[name]);
      expect(extension(cert.extensions, 'extKeyUsage')?.['serverAuth']).toBe(true);
      expect(extension(cert.extensions, 'keyUsage')?.['digitalSignature']).toBe(true);
    }
    const index = (await readFile(join(sandbox.caDir, 'intermediate', 'index.txt'), 'utf8')).split('\n').filter(Boolean);
    expect(index).toHaveLength(indexBefore + 3);
    const audit = await cli(['audit', 'verify', '--dir', sandbox.caDir], { env: sandbox.env });
    expect([audit.code, audit.stdout]).toEqual([0, expect.stringMatching(/^  ok  hash chain intact/m)]);
    const check = await cli(['check', '--dir', sandbox.caDir], { env: sandbox.env });
    expect(check.stdout).not.toMatch(/BROKEN|REPAIR/);
    expect(check.code).toBe(0);
  }, 120_000);

  it('--from-dir signs every CSR of a directory beside it, and --json gives one document', async () => {
    const dir = join(sandbox.root, 'fleet');
    await mkdir(dir);
    for (const name of ['web1', 'web2', 'web3']) await makeCsr(dir, name, { subject: `/CN=${name}.example.com`, sans: `DNS:${name}.example.com` });
    const result = await cli(['server', '--from-dir', dir, '--days', '90', '--dir', sandbox.caDir, '--json'], { env: sandbox.env });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.title).toBe('server certificate issued: 3 issued, 0 refused');
    expect(report.refused).toEqual([]);
    expect(report.issued.map((leaf: { certificate: string }) => leaf.certificate)).toEqual(['web1', 'web2', 'web3'].map((name) => join(dir, `${name}.crt`)));
    for (const name of ['web1', 'web2', 'web3']) expect(formatName((await certificate(join(dir, `${name}.crt`))).subject)).toBe(`CN=${name}.example.com`);
    expect(result.stderr).toMatch(/\(openssl ca runs 1–3 of 3, one per certificate\)/);
  }, 120_000);

  it('a batch of only bad CSRs signs nothing and says why, exit 1; an empty --from-dir is refused with exit 2', async () => {
    const before = await treeHash(sandbox.caDir);
    const bad = await cli(['server', join(requests, 'mail.csr'), join(requests, 'garbage.csr'), '--dir', sandbox.caDir], { env: sandbox.env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/hsm-openssl-ca: none of the 2 CSRs can be signed, so nothing was: .*mail\.csr: SAN email/);
    const empty = join(sandbox.root, 'empty');
    await mkdir(empty);
    const none = await cli(['server', '--from-dir', empty, '--dir', sandbox.caDir], { env: sandbox.env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^hsm-openssl-ca: --from-dir .*empty holds no \*\.csr or \*\.req file$/m);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
  });
});
