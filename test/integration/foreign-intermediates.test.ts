import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cert } from './certs.js';
import { ceremony, cli, exec, expectOneLineError, makeSandbox, mustExec, treeHash, type Sandbox } from './helpers.js';

/*
 * Issue 9: the offline root signs the intermediate of an online CA. step-ca, Vault and EJBCA are not
 * installed here, so each CSR is made with openssl the way that system makes it by default:
 * - Vault: `pki_int/intermediate/generate/internal common_name=…` — the CSR printed in Vault's "PKI quick
 *   start: intermediate CA" guide decodes to an RSA 2048 key, subject CN only, and a requested
 *   subjectAltName DNS:<the common name>, spaces and all. `add_basic_constraints=true` adds a requested
 *   basicConstraints CA:TRUE: the second Vault case.
 * - step-ca: `step certificate create NAME intermediate_ca.csr intermediate_ca_key --csr` — step's default
 *   key is EC P-256, the subject CN=NAME, and with no --san the subject becomes the only SAN (step's
 *   reference for `step ca certificate` says so; we assume `certificate create` does the same).
 * - EJBCA: a CA "signed by External CA" makes a PKCS#10 for the CA's DN (EJBCA's examples write
 *   "C=SE,O=PrimeKey,CN=…"); its key type is the crypto token's. Whether the request carries
 *   basicConstraints/keyUsage was not checked, so this case requests both (with a pathlen of 5) to prove
 *   none is copied.
 * Then the test plays the online CA with openssl and the software key: a leaf inside the name constraints
 * verifies against our root (openssl, GnuTLS certtool, Go's crypto/x509), one outside fails, and after
 * `revoke --root` the chain fails with CRL checking. Go comes from scripts/install-system-deps.sh (Debian's
 * golang-go: 1.19 on Debian 12, newer on 13 and sid).
 */

interface OnlineCa {
  readonly name: string;
  readonly key: string[];
  readonly subject: string;
  readonly requested: string[];
  readonly domain: string;
  readonly keyType: 'rsa' | 'ec';
}

const CASES: OnlineCa[] = [
  { name: 'vault', key: ['-newkey', 'rsa:2048'], subject: '/CN=myvault.com Intermediate Authority', requested: ['subjectAltName=DNS:myvault.com Intermediate Authority'], domain: 'vault.test', keyType: 'rsa' },
  { name: 'vault-bc', key: ['-newkey', 'rsa:2048'], subject: '/CN=vault2.example Intermediate Authority', requested: ['subjectAltName=DNS:vault2.example Intermediate Authority', 'basicConstraints=CA:TRUE'], domain: 'vault2.test', keyType: 'rsa' },
  { name: 'step', key: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], subject: '/CN=ca.step.test', requested: ['subjectAltName=DNS:ca.step.test'], domain: 'step.test', keyType: 'ec' },
  { name: 'ejbca', key: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], subject: '/C=SE/O=Example/CN=Issuing CA', requested: ['basicConstraints=critical,CA:TRUE,pathlen:5', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], domain: 'ejbca.test', keyType: 'ec' },
];

const GO_VERIFY = `package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

func load(path string) *x509.Certificate {
	data, _ := os.ReadFile(path)
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil { panic(err) }
	return cert
}

func main() {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(load(os.Args[1]))
	inter.AddCert(load(os.Args[2]))
	_, err := load(os.Args[3]).Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: os.Args[4]})
	if err != nil { fmt.Println(err); os.Exit(1) }
	fmt.Println("OK")
}
`;

describe('foreign intermediates: the offline root signs step-ca, Vault and EJBCA intermediates', () => {
  let sandbox: Sandbox;
  let dir: string;
  let root: string;
  let goBinary: string;
  const at = (name: string) => join(sandbox.root, name);

  /** The online CA's job, done with openssl and its software key: one TLS server certificate for `dns`. */
  async function issueLeaf(ca: OnlineCa, dns: string): Promise<string> {
    const base = at(`${ca.name}-${dns}`);
    await mustExec('openssl', ['req', '-new', '-nodes', '-batch', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', `${base}.key`, '-subj', `/CN=${dns}`, '-out', `${base}.csr`]);
    await writeFile(`${base}.ext`, `subjectAltName=DNS:${dns}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n`);
    const handOver = at(`${ca.name}-handover`);
    await mustExec('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', join(handOver, 'intermediate.crt'), '-CAkey', at(`${ca.name}.key`), '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '30', '-sha256', '-extfile', `${base}.ext`, '-out', `${base}.crt`]);
    await writeFile(`${base}-chain.pem`, (await readFile(`${base}.crt`, 'utf8')) + (await readFile(join(handOver, 'intermediate.crt'), 'utf8')));
    return base;
  }

  const opensslVerify = (ca: OnlineCa, leaf: string, extra: string[] = []) => exec('openssl', ['verify', ...extra, '-CAfile', root, '-untrusted', join(at(`${ca.name}-handover`), 'intermediate.crt'), `${leaf}.crt`]);
  const certtoolVerify = (leaf: string, extra: string[] = []) => exec('certtool', ['--verify', '--load-ca-certificate', root, ...extra, '--infile', `${leaf}-chain.pem`]);

  beforeAll(async () => {
    sandbox = await makeSandbox();
    dir = sandbox.caDir;
    await ceremony(sandbox, ['--root-crl-url', 'http://pki.offline.test/root.crl']);
    root = join(dir, 'certs/root.crt');
    for (const ca of CASES) {
      await mustExec('openssl', ['req', '-new', '-nodes', '-batch', ...ca.key, '-keyout', at(`${ca.name}.key`), '-subj', ca.subject, ...ca.requested.flatMap((e) => ['-addext', e]), '-out', at(`${ca.name}.csr`)]);
    }
    // Go is installed by scripts/install-system-deps.sh (golang-go): its verdicts are required, never skipped.
    await writeFile(at('verify.go'), GO_VERIFY);
    goBinary = at('go-verify');
    await mustExec('go', ['build', '-o', goBinary, at('verify.go')], { env: { ...process.env, GOCACHE: at('gocache'), GOPATH: at('gopath'), GO111MODULE: 'off' } });
  }, 120_000);
  afterAll(() => sandbox.cleanup());

  it.each(CASES)('$name: signed with the root policy only, hand-over written, a leaf inside the constraints verifies, outside fails', async (ca) => {
    const handOver = at(`${ca.name}-handover`);
    await mkdir(handOver);
    const signed = await cli(['intermediate', '--csr', at(`${ca.name}.csr`), '--dir', dir, '--days', '730', '--permit-dns', ca.domain, '--exclude-dns', `secret.${ca.domain}`, '--out-dir', handOver], { env: sandbox.env });
    expect(signed.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(signed.code).toBe(0);
    expect(signed.stdout).toMatch(/root CRL +http:\/\/pki\.offline\.test\/root\.crl/);
    expect(signed.stdout).toMatch(/ignored +.*subjectAltName|ignored +basicConstraints, keyUsage/);

    const cert = await Cert.load(join(handOver, 'intermediate.crt'));
    expect(cert.basicConstraints).toEqual({ critical: true, cA: true, pathLength: 0 });
    expect(cert.keyUsage).toEqual({ critical: true, usages: expect.arrayContaining(['keyCertSign', 'cRLSign']) });
    expect(cert.nameConstraints).toEqual({ critical: true, permitted: [`DNS:${ca.domain}`], excluded: [`DNS:secret.${ca.domain}`] });
    expect(cert.subjectAltNames).toEqual([]); // the CSR's requested SAN is not copied
    expect(cert.crlDistributionPoints).toEqual(['URI:http://pki.offline.test/root.crl']);
    expect(cert.x509.publicKey.asymmetricKeyType).toBe(ca.keyType);
    expect(cert.x509.checkIssued(new (await import('node:crypto')).X509Certificate(await readFile(root)))).toBe(true);
    expect(await readFile(join(handOver, 'root.crt'), 'utf8')).toBe(await readFile(root, 'utf8'));
    expect(await readFile(join(handOver, 'chain.crt'), 'utf8')).toBe((await readFile(join(handOver, 'intermediate.crt'), 'utf8')) + (await readFile(root, 'utf8')));
    const fingerprint = (await Cert.load(root)).x509.fingerprint256.replace(/:/g, '').toLowerCase();
    expect(await readFile(join(handOver, 'root.sha256'), 'utf8')).toBe(`${fingerprint}\n`);
    expect(await readFile(join(dir, 'index.txt'), 'utf8')).toContain(`\t${cert.serial}\t`);

    const inside = await issueLeaf(ca, `www.${ca.domain}`);
    expect((await opensslVerify(ca, inside)).stdout).toMatch(/: OK/);
    expect((await certtoolVerify(inside)).stdout).toMatch(/Chain verification output: Verified/);
    expect((await exec(goBinary, [root, join(handOver, 'intermediate.crt'), `${inside}.crt`, `www.${ca.domain}`])).stdout).toMatch(/^OK/);

    for (const outside of [`www.evil-${ca.name}.example`, `db.secret.${ca.domain}`]) {
      const leaf = await issueLeaf(ca, outside);
      const refused = await opensslVerify(ca, leaf);
      expect(refused.code).not.toBe(0);
      expect(refused.stdout + refused.stderr).toMatch(/(permitted|excluded) subtree violation/);
      expect((await certtoolVerify(leaf)).stdout).toMatch(/Not verified/);
      expect((await exec(goBinary, [root, join(handOver, 'intermediate.crt'), `${leaf}.crt`, outside])).stdout).toMatch(/constraint|not permitted|excluded/);
    }
  }, 180_000);

  it('list --root, show, status, check and audit verify see the foreign intermediates beside our own', async () => {
    const listed = await cli(['list', '--root', '--dir', dir, '--json']);
    expect(listed.code).toBe(0);
    const subjects = (JSON.parse(listed.stdout) as Array<{ subject: string }>).map((c) => c.subject);
    expect(subjects).toEqual(expect.arrayContaining(['CN=myvault.com Intermediate Authority', 'CN=ca.step.test', 'C=SE, O=Example, CN=Issuing CA', 'C=US, ST=My State, O=My Company, OU=My Company Certificate Authority, CN=My Company Intermediate CA']));
    const serial = (await Cert.load(join(at('step-handover'), 'intermediate.crt'))).serial;
    expect((await cli(['show', serial, '--dir', dir])).stdout).toMatch(/CN=ca\.step\.test/);
    expect((await cli(['status', '--dir', dir])).stdout).toMatch(/issued +5 \(0 revoked\)/);
    const check = await cli(['check', '--dir', dir]);
    expect(check.stdout + check.stderr).not.toMatch(/^(broken|repairable)/m);
    expect(check.code).toBe(0);
    const audit = await cli(['audit', 'verify', '--dir', dir]);
    expect([audit.code, audit.stdout]).toEqual([0, expect.stringMatching(/^  ok  hash chain intact/m)]);
    expect(await readFile(join(dir, 'audit.log'), 'utf8')).toMatch(/foreign intermediate CA, pathlen:0/);
  });

  it('revoke --root SERIAL takes one back: with the root CRL, openssl -crl_check_all and certtool reject its leaves, the others still pass', async () => {
    const [vault, step] = [CASES[0]!, CASES[2]!];
    const serial = (await Cert.load(join(at('vault-handover'), 'intermediate.crt'))).serial;
    const revoked = await cli(['revoke', '--root', serial, '--dir', dir, '--reason', 'keyCompromise'], { env: sandbox.env });
    expect([revoked.code, revoked.stdout]).toEqual([0, expect.stringMatching(new RegExp(`^revoked serial ${serial}`))]);
    const rootCrl = join(dir, 'crl/root.crl.pem');
    // -crl_check_all wants a CRL from every CA in the chain: each online CA publishes its own (empty) one.
    const onlineCrl = async (ca: OnlineCa): Promise<string> => {
      const base = at(`${ca.name}-ca`);
      await mkdir(base);
      await writeFile(join(base, 'index.txt'), '');
      await writeFile(join(base, 'ca.cnf'), `[ca]\ndefault_ca = d\n[d]\ndatabase = ${base}/index.txt\ndefault_md = sha256\ndefault_crl_days = 7\n`);
      await mustExec('openssl', ['ca', '-gencrl', '-batch', '-config', join(base, 'ca.cnf'), '-keyfile', at(`${ca.name}.key`), '-cert', join(at(`${ca.name}-handover`), 'intermediate.crt'), '-out', join(base, 'crl.pem')]);
      return join(base, 'crl.pem');
    };
    const withCrls = async (ca: OnlineCa) => ['-crl_check_all', '-CRLfile', rootCrl, '-CRLfile', await onlineCrl(ca)];
    const vaultLeaf = at('vault-www.vault.test');
    const failed = await opensslVerify(vault, vaultLeaf, await withCrls(vault));
    expect(failed.code).not.toBe(0);
    expect(failed.stdout + failed.stderr).toMatch(/certificate revoked/);
    expect((await certtoolVerify(vaultLeaf, ['--load-crl', rootCrl])).stdout).toMatch(/Not verified.*revoked/);
    expect((await opensslVerify(step, at('step-www.step.test'), await withCrls(step))).stdout).toMatch(/: OK/);
    const listed = JSON.parse((await cli(['list', '--root', '--revoked', '--dir', dir, '--json'])).stdout) as Array<{ serial: string }>;
    expect(listed.map((c) => c.serial)).toEqual([serial]);
  });

  it('refuses, in one line and writing nothing, a CSR naming the root, a CSR with a control character, --days past the root and --pathlen without --csr', async () => {
    const before = await treeHash(dir);
    await mustExec('openssl', ['req', '-new', '-nodes', '-batch', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', at('copy.key'), '-subj', '/C=US/ST=My State/O=My Company/OU=My Company Certificate Authority/CN=My Company Root CA', '-out', at('copy.csr')]);
    expectOneLineError(await cli(['intermediate', '--csr', at('copy.csr'), '--dir', dir], { env: sandbox.env }), /is the root CA's; give the online CA's intermediate a name of its own/);
    await mustExec('openssl', ['req', '-new', '-nodes', '-batch', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', at('bidi.key'), '-subj', '/CN=Issuing\u202eAC', '-utf8', '-out', at('bidi.csr')]);
    expectOneLineError(await cli(['intermediate', '--csr', at('bidi.csr'), '--dir', dir], { env: sandbox.env }), /control character or a bidi\/format character/);
    expectOneLineError(await cli(['intermediate', '--csr', at('step.csr'), '--dir', dir, '--days', '36500', '--out', at('late.crt')], { env: sandbox.env }), /would outlive the root CA by \d+ days/);
    expectOneLineError(await cli(['intermediate', '--dir', dir, '--pathlen', '1'], { env: sandbox.env }), /--pathlen applies to an online CA's intermediate only; add --csr FILE/);
    expect(await treeHash(dir)).toEqual(before);
  });
});
