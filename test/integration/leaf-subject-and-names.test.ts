import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keyLoadArgs, resolveBackend } from '../../src/openssl/backend.js';
import { run } from '../../src/tools/run.js';
import { Cert } from './certs.js';
import { ceremony, cli, expectOneLineError, makeCsr, makeSandbox, mustExec, SOFTHSM_MODULE, type Sandbox, treeHash } from './helpers.js';

/**
 * The CA decides the subject (the CSR gives only its CN), names stay within the intermediate's name
 * constraints as verifiers judge them, and no name carries control or bidi characters to a terminal.
 */

const INTERMEDIATE_SUBJECT = '/C=US/ST=My State/O=My Company/OU=My Company Certificate Authority/CN=My Company Intermediate CA';
const RLO = '\u202e';
const CSI = '\u009b';

/** Runs a command that must be refused: one error line matching `pattern`, and the CA directory unchanged. */
async function expectRefusedUnchanged(sandbox: Sandbox, args: string[], pattern: RegExp): Promise<string> {
  const before = await treeHash(sandbox.caDir);
  const result = await cli(args, { env: sandbox.env });
  expectOneLineError(result, pattern);
  expect(await treeHash(sandbox.caDir)).toEqual(before);
  return result.stderr;
}

describe('leaf subjects by default: the CSR\'s CN alone', () => {
  let sandbox: Sandbox;
  let dir: string;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    dir = sandbox.caDir;
    await ceremony(sandbox, [], ['--permit-dns', 'example.com', '--permit-ip', '10.0.0.0/8']);
  });
  afterAll(() => sandbox.cleanup());

  it('settings written without --leaf-subject have no leafSubject field, and mean the CN alone', async () => {
    expect(JSON.parse(await readFile(join(dir, 'hsm-openssl-ca.json'), 'utf8'))).not.toHaveProperty('leafSubject');
  });

  it('drops every field of the CSR but its CN, the CA\'s own O and OU included', async () => {
    const csr = await makeCsr(sandbox.root, 'www', {
      subject: '/C=DE/ST=Elsewhere/L=Town/O=My Company/OU=My Company Certificate Authority/emailAddress=ops@example.com/CN=www.example.com',
      sans: 'DNS:www.example.com',
    });
    const result = await cli(['server', csr, '--dir', dir], { env: sandbox.env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ {2}subject +CN=www\.example\.com$/m);
    expect((await Cert.load(join(sandbox.root, 'www.crt'))).subject).toBe('CN=www.example.com');
  });

  it('a client CSR copying the intermediate\'s subject gets its CN only, never the intermediate\'s name', async () => {
    const csr = await makeCsr(sandbox.root, 'copycat', { subject: INTERMEDIATE_SUBJECT });
    const result = await cli(['client', csr, '--dir', dir], { env: sandbox.env });
    expect(result.code).toBe(0);
    const cert = await Cert.load(join(sandbox.root, 'copycat.crt'));
    expect(cert.subject).toBe('CN=My Company Intermediate CA');
    expect(cert.subject).not.toBe(cert.issuer);
  });

  it('a server certificate\'s CN must be one of its SANs (case aside); --san adds it', async () => {
    const csr = await makeCsr(sandbox.root, 'mismatch', { subject: '/CN=Shop.Example.com', sans: 'DNS:api.example.com' });
    await expectRefusedUnchanged(sandbox, ['server', csr, '--dir', dir], /^hsm-openssl-ca: the CN Shop\.Example\.com is not among the SANs \(DNS:api\.example\.com\) .*add --san DNS:Shop\.Example\.com .*ask for a new CSR/);
    const result = await cli(['server', csr, '--dir', dir, '--san', 'DNS:shop.example.com'], { env: sandbox.env });
    expect(result.code).toBe(0);
    expect((await Cert.load(join(sandbox.root, 'mismatch.crt'))).subjectAltNames).toEqual(['DNS:api.example.com', 'DNS:shop.example.com']);
  });

  it('refuses, before signing, names that openssl verify would reject under the name constraints', async () => {
    const evilCn = await makeCsr(sandbox.root, 'evilcn', { subject: '/CN=www.evil.com', sans: 'email:ops@example.com' });
    await expectRefusedUnchanged(sandbox, ['client', evilCn, '--dir', dir], /^hsm-openssl-ca: the CN www\.evil\.com is outside the intermediate's DNS name constraints/);
    const mapped = await makeCsr(sandbox.root, 'mapped', { subject: '/CN=svc.example.com', sans: 'DNS:svc.example.com,IP:::ffff:10.1.2.3' });
    await expectRefusedUnchanged(sandbox, ['server', mapped, '--dir', dir], /^hsm-openssl-ca: SAN IP:::ffff:a01:203 is outside .*IPv4-mapped/);
  });

  it('refuses C1 controls and bidi overrides in a CSR\'s subject, and names them escaped', async () => {
    for (const [name, cn] of [['rlo', `www.example.com${RLO}gnp.exe`], ['csi', `www${CSI}31m.example.com`], ['lrm', 'www.example.com\u200e']]) {
      // A client CSR with a SAN: nothing but the character check stands in its way.
      const csr = await makeCsr(sandbox.root, name!, { subject: `/CN=${cn}`, sans: 'email:ops@example.com', key: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-utf8'] });
      const stderr = await expectRefusedUnchanged(sandbox, ['client', csr, '--dir', dir], /^hsm-openssl-ca: the CSR .* has a control character or a bidi\/format character in its subject \(CN=www.*\\(u202e|x9b|u200e).*\)/);
      expect(stderr).not.toMatch(/[\u0080-\u009f\u200e\u202e]/);
    }
  });

  it('list and show print a certificate already in the database with such characters escaped', async () => {
    // A certificate signed by the intermediate key outside this CLI, as one issued before names were checked.
    const csr = await makeCsr(sandbox.root, 'old', { subject: `/O=Ev${CSI}il/CN=www.example.com${RLO}gnp.exe`, key: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-utf8'] });
    const serial = randomBytes(16).toString('hex').toUpperCase().replace(/^[89A-F]/, '1');
    const settings = JSON.parse(await readFile(join(dir, 'hsm-openssl-ca.json'), 'utf8')) as { intermediateKey: { uri: string } };
    const backend = await resolveBackend(run, 'auto', SOFTHSM_MODULE, sandbox.root, 'test');
    const keyArgs = keyLoadArgs(backend.backend).map((arg) => (arg === '-keyform' ? '-CAkeyform' : arg));
    const extensions = join(sandbox.root, 'old.ext');
    await writeFile(extensions, 'subjectAltName = DNS:www.example.com\nextendedKeyUsage = serverAuth\n');
    const pem = join(dir, 'intermediate', 'newcerts', `${serial}.pem`);
    await mustExec('openssl', ['x509', '-req', '-in', csr, '-CA', join(dir, 'intermediate/certs/intermediate.crt'), '-CAkey', settings.intermediateKey.uri, ...keyArgs, '-passin', 'env:HSM_CA_PIN', '-set_serial', `0x${serial}`, '-days', '30', '-extfile', extensions, '-out', pem], {
      env: { ...sandbox.env, OPENSSL_CONF: backend.config },
    });
    const expiry = new Date(Date.now() + 29 * 86_400_000).toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
    await appendFile(join(dir, 'intermediate', 'index.txt'), `V\t${expiry}\t\t${serial}\tunknown\t/O=Ev${CSI}il/CN=www.example.com${RLO}gnp.exe\n`);

    const raw = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f]/;
    const list = await cli(['list', '--dir', dir], { env: sandbox.env });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('O=Ev\\x9bil, CN=www.example.com\\u202egnp.exe');
    expect(list.stdout).not.toMatch(raw);
    const json = await cli(['list', '--dir', dir, '--json'], { env: sandbox.env });
    expect(json.code).toBe(0);
    expect(json.stdout).not.toMatch(raw);
    expect((JSON.parse(json.stdout) as Array<{ subject: string }>).map((c) => c.subject)).toContain('O=Ev\\x9bil, CN=www.example.com\\u202egnp.exe');
    const show = await cli(['show', serial, '--dir', dir], { env: sandbox.env });
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^ {2}subject +O=Ev\\x9bil, CN=www\.example\.com\\u202egnp\.exe$/m);
    expect(show.stdout).not.toMatch(raw);
  });
});

describe('leaf subjects with --leaf-subject C,ST,O,OU: the CA\'s own attributes, then the CN', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    await ceremony(sandbox, ['--leaf-subject', 'OU,o,C,ST']);
  });
  afterAll(() => sandbox.cleanup());

  it('writes the CA\'s C, ST, O and OU whatever the CSR says, in X.509 order', async () => {
    const csr = await makeCsr(sandbox.root, 'web', { subject: '/O=Evil Corp/C=DE/OU=Ops/CN=www.example.com' });
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env });
    expect(result.code).toBe(0);
    const subject = 'C=US, ST=My State, O=My Company, OU=My Company Certificate Authority, CN=www.example.com';
    expect((await Cert.load(join(sandbox.root, 'web.crt'))).subject).toBe(subject);
    expect(result.stdout).toContain(`subject  ${subject}`);
  });

  it('refuses a subject equal to the intermediate\'s or the root\'s', async () => {
    for (const [ca, cn] of [['intermediate', 'My Company Intermediate CA'], ['root', 'MY COMPANY  ROOT CA']]) {
      const csr = await makeCsr(sandbox.root, ca!, { subject: `/CN=${cn}` });
      await expectRefusedUnchanged(sandbox, ['client', csr, '--dir', sandbox.caDir], new RegExp(`^hsm-openssl-ca: the subject .* would equal the ${ca} CA's own subject; ask for a CSR with another CN$`));
    }
  });

  it('refuses --leaf-subject naming an attribute the CA does not have', async () => {
    const result = await cli(['init', '--dir', join(sandbox.root, 'other'), '--token', sandbox.tokenLabel, '--org', 'X', '--leaf-subject', 'C,O'], { env: sandbox.env });
    expectOneLineError(result, /^hsm-openssl-ca: --leaf-subject C,O: the CA's subject has no C; pass --country too or leave C out$/);
  });
});

