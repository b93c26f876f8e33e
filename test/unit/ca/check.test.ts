/**
 * `checkCaDirectory` against a real CA directory. Unlike the other unit tests, beforeAll spawns `openssl` (only
 * there, only to build the fixture): a software root and intermediate (keys in files, no token), two server
 * certificates signed with `openssl ca`, one of them revoked, and CRLs — so index.txt, serial, crlnumber and
 * newcerts/ are exactly what `openssl ca` writes, laid out as src/ca/directory/layout.ts does. Every damage test works on
 * a fresh copy of that directory.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, cp, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendAudit } from '../../../src/ca/audit/head.js';
import { prepareAudit } from '../../../src/ca/audit/log.js';
import { storeWrites, writePending } from '../../../src/ca/directory/journal.js';
import { repairCaDirectory } from '../../../src/ca/directory/repair.js';
import { checkCaDirectory, type CheckFinding } from '../../../src/ca/check/check.js';
import { subjectMatchesIndex } from '../../../src/ca/check/index-subject.js';
import type { Settings } from '../../../src/ca/directory/settings.js';
import { decodeCertificate, pemToDer } from '../../../src/x509/decode.js';

const ROOT_SUBJECT = '/C=US/O=Example Org/OU=Example Org Certificate Authority/CN=Example Org Root CA';
const INTERMEDIATE_SUBJECT = '/C=US/O=Example Org/OU=Example Org Certificate Authority/CN=Example Org Intermediate CA';
/** A '/' and a '+' in a value: index.txt escapes them ("\/", "\+"). */
const LEAF_SUBJECT = '/C=US/O=Slash\\/Plus\\+ Co/CN=www.example.com';
/** Non-ASCII UTF-8: index.txt writes it as \xHH. */
const REVOKED_SUBJECT = '/O=Café Ltd/CN=revoked.example.com';

const SETTINGS: Settings = {
  version: 1,
  module: '/usr/lib/softhsm/libsofthsm2.so',
  token: 'check-test',
  subject: { country: 'US', organization: 'Example Org', organizationalUnit: 'Example Org Certificate Authority' },
  rootCommonName: 'Example Org Root CA',
  intermediateCommonName: 'Example Org Intermediate CA',
  keyType: 'EC:secp256r1',
  digest: 'sha256',
  rootKey: { label: 'root', idHex: '01', uri: 'pkcs11:token=check-test;id=%01;object=root;type=private' },
  intermediateKey: { label: 'intermediate', idHex: '02', uri: 'pkcs11:token=check-test;id=%02;object=intermediate;type=private' },
};

let base: string;
let template: string;
let work: string;
let copies = 0;
/** Serials as index.txt writes them. */
const serials = { intermediate: '', leaf: '', revoked: '', orphan: '' };

function opensslConfig(keys: string): string {
  const ca = (name: string, dir: string, key: string, certificate: string) => `
[ ${name} ]
dir               = ${dir}
database          = $dir/index.txt
new_certs_dir     = $dir/newcerts
serial            = $dir/serial
crlnumber         = $dir/crlnumber
private_key       = ${keys}/${key}
certificate       = $dir/certs/${certificate}
default_md        = sha256
default_days      = 375
default_crl_days  = 30
crl_extensions    = crl_ext
policy            = policy_loose
unique_subject    = no
copy_extensions   = none
preserve          = no
name_opt          = ca_default
cert_opt          = ca_default
`;
  return `
[ req ]
distinguished_name = req_dn
string_mask        = utf8only
utf8               = yes
[ req_dn ]
${ca('root_ca', template, 'root.key', 'root.crt')}
${ca('intermediate_ca', join(template, 'intermediate'), 'intermediate.key', 'intermediate.crt')}
[ policy_loose ]
countryName             = optional
stateOrProvinceName     = optional
localityName            = optional
organizationName        = optional
organizationalUnitName  = optional
commonName              = supplied
emailAddress            = optional
[ v3_root ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, digitalSignature, cRLSign, keyCertSign
subjectKeyIdentifier   = hash
[ v3_intermediate_ca ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, digitalSignature, cRLSign, keyCertSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[ server_cert ]
basicConstraints       = CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[ crl_ext ]
authorityKeyIdentifier = keyid:always
`;
}

/** Puts a CRL where `crl` publishes it: the PEM, and its DER copy beside it (named without .pem). */
async function publishCrlFile(pemPath: string, source: string): Promise<void> {
  await writeFile(pemPath, await readFile(source));
  openssl('crl', '-in', source, '-outform', 'DER', '-out', pemPath.replace(/\.pem$/, ''));
}

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function lastSerial(databaseDir: string): Promise<string> {
  const lines = (await readFile(join(databaseDir, 'index.txt'), 'utf8')).trimEnd().split('\n');
  return lines.at(-1)!.split('\t')[3]!;
}

/** A server certificate signed by the intermediate with `openssl ca`; returns its serial. */
async function signLeaf(name: string, subject: string, config: string, keys: string): Promise<string> {
  openssl('req', '-new', '-config', config, '-utf8', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(keys, `${name}.key`), '-subj', subject, '-out', join(work, `${name}.csr`));
  openssl('ca', '-config', config, '-name', 'intermediate_ca', '-batch', '-notext', '-extensions', 'server_cert', '-in', join(work, `${name}.csr`), '-out', join(work, `${name}.crt`));
  return lastSerial(join(template, 'intermediate'));
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'hsm-openssl-ca-check-'));
  template = join(base, 'ca');
  work = join(base, 'work');
  const keys = join(base, 'keys');
  await mkdir(work);
  await mkdir(keys, { mode: 0o700 });
  for (const sub of ['certs', 'config', 'crl', 'newcerts', 'intermediate/certs', 'intermediate/crl', 'intermediate/csr', 'intermediate/newcerts']) {
    await mkdir(join(template, sub), { recursive: true });
  }
  for (const [database, serial] of [['', '5A3F0C9E1B2D4F6081A2B3C4D5E6F701'], ['intermediate', '3C7E19A04B5D6F7182930A1B2C3D4E5F']] as const) {
    await writeFile(join(template, database, 'index.txt'), '');
    await writeFile(join(template, database, 'index.txt.attr'), 'unique_subject = no\n');
    await writeFile(join(template, database, 'serial'), `${serial}\n`);
    await writeFile(join(template, database, 'crlnumber'), '1000\n');
  }
  await writeFile(join(template, 'hsm-openssl-ca.json'), `${JSON.stringify(SETTINGS, null, 2)}\n`);
  const config = join(work, 'openssl.cnf');
  await writeFile(config, opensslConfig(keys));

  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', '-config', config, '-extensions', 'v3_root', ...ec, '-keyout', join(keys, 'root.key'), '-subj', ROOT_SUBJECT, '-days', '3650', '-sha256', '-out', join(template, 'certs/root.crt'));
  openssl('req', '-new', '-config', config, ...ec, '-keyout', join(keys, 'intermediate.key'), '-subj', INTERMEDIATE_SUBJECT, '-out', join(template, 'intermediate/csr/intermediate.csr'));
  openssl('ca', '-config', config, '-name', 'root_ca', '-batch', '-notext', '-extensions', 'v3_intermediate_ca', '-days', '1825', '-in', join(template, 'intermediate/csr/intermediate.csr'), '-out', join(template, 'intermediate/certs/intermediate.crt'));
  serials.intermediate = await lastSerial(template);
  const chain = Buffer.concat([await readFile(join(template, 'intermediate/certs/intermediate.crt')), await readFile(join(template, 'certs/root.crt'))]);
  await writeFile(join(template, 'intermediate/certs/chain.crt'), chain);

  serials.leaf = await signLeaf('leaf', LEAF_SUBJECT, config, keys);
  serials.revoked = await signLeaf('revoked', REVOKED_SUBJECT, config, keys);
  const intermediateCrl = ['ca', '-config', config, '-name', 'intermediate_ca', '-gencrl'];
  openssl(...intermediateCrl, '-out', join(work, 'before-revoke.crl.pem'));
  openssl('ca', '-config', config, '-name', 'intermediate_ca', '-revoke', join(template, 'intermediate/newcerts', `${serials.revoked}.pem`), '-crl_reason', 'keyCompromise');
  openssl(...intermediateCrl, '-crl_lastupdate', '200101000000Z', '-crl_nextupdate', '200102000000Z', '-out', join(work, 'expired.crl.pem'));
  openssl(...intermediateCrl, '-out', join(template, 'intermediate/crl/intermediate.crl.pem'));
  openssl('ca', '-config', config, '-name', 'root_ca', '-gencrl', '-out', join(template, 'crl/root.crl.pem'));
  // Each CRL's DER copy, as `crl` publishes it for its Distribution Point.
  for (const crl of ['intermediate/crl/intermediate.crl', 'crl/root.crl']) openssl('crl', '-in', join(template, `${crl}.pem`), '-outform', 'DER', '-out', join(template, crl));

  // A signing interrupted after newcerts/ was written: sign a third certificate, keep its newcerts file aside
  // and put index.txt back as it was (serial stays advanced, as after a crash between serial and index.txt).
  const intermediateDb = join(template, 'intermediate');
  const indexBefore = await readFile(join(intermediateDb, 'index.txt'));
  const attrBefore = await readFile(join(intermediateDb, 'index.txt.attr'));
  serials.orphan = await signLeaf('orphan', '/CN=orphan.example.com', config, keys);
  await rename(join(intermediateDb, 'newcerts', `${serials.orphan}.pem`), join(work, 'orphan.pem'));
  await writeFile(join(intermediateDb, 'index.txt'), indexBefore);
  await writeFile(join(intermediateDb, 'index.txt.attr'), attrBefore);

  // openssl ca keeps *.old backups beside the database; hsm-openssl-ca runs it on a staged copy, so a CA directory has none.
  for (const database of [template, intermediateDb]) {
    for (const name of await readdir(database)) if (name.endsWith('.old')) await unlink(join(database, name));
  }
  // The audit records a CA made by hsm-openssl-ca has for all of that (the orphan was never handed out).
  await appendAudit(template, { action: 'init', command: 'init' });
  for (const serial of [serials.intermediate, serials.leaf, serials.revoked]) await appendAudit(template, { action: 'certificate-issued', command: 'test', serial });
  await appendAudit(template, { action: 'revoked', command: 'revoke', serial: serials.revoked });
});

afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

/** A fresh copy of the intact CA directory. */
async function fresh(): Promise<string> {
  copies += 1;
  const dir = join(base, `copy-${copies}`);
  await cp(template, dir, { recursive: true });
  return dir;
}

const problems = (findings: CheckFinding[]) => findings.filter((f) => f.level !== 'ok');

/** The one finding of `level` naming `path`; fails showing every finding otherwise. */
function finding(findings: CheckFinding[], level: CheckFinding['level'], path: string): CheckFinding {
  const matches = findings.filter((f) => f.level === level && f.text.includes(path));
  if (matches.length !== 1) throw new Error(`expected one ${level} finding naming ${path}, got:\n${findings.map((f) => `${f.level}: ${f.text}`).join('\n')}`);
  return matches[0]!;
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    out[path] = `${createHash('sha256').update(await readFile(path)).digest('hex')} ${info.mtimeMs}`;
  }
  return out;
}

describe('checkCaDirectory', () => {
  it('finds nothing wrong in an intact CA directory, with an ok finding per area', async () => {
    const dir = await fresh();
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toEqual([]);
    for (const path of [
      'hsm-openssl-ca.json',
      'certs/root.crt',
      'intermediate/certs/intermediate.crt',
      'intermediate/certs/chain.crt',
      'index.txt:',
      'intermediate/index.txt:',
      'intermediate/serial',
      'intermediate/index.txt.attr',
      'intermediate/newcerts/',
      'crl/root.crl.pem',
      'intermediate/crl/intermediate.crl.pem',
    ]) {
      expect(findings.some((f) => f.level === 'ok' && f.text.includes(join(dir, path)))).toBe(true);
    }
    expect(finding(findings, 'ok', join(dir, 'intermediate/index.txt:')).text).toContain('2 entries (1 valid, 1 revoked, 0 expired)');
  });

  it('never writes to the directory', async () => {
    const dir = await fresh();
    await writeFile(join(dir, 'intermediate/newcerts', `${serials.orphan}.pem`), await readFile(join(work, 'orphan.pem')));
    const before = await snapshot(dir);
    await checkCaDirectory(dir);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('reports a newcerts file without an index line (a crash between newcerts and index.txt) as repairable', async () => {
    const dir = await fresh();
    const orphan = join(dir, 'intermediate/newcerts', `${serials.orphan}.pem`);
    await writeFile(orphan, await readFile(join(work, 'orphan.pem')));
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    const found = finding(findings, 'repairable', orphan);
    expect(found.text).toContain('next signing is unaffected');
    expect(found.text).toContain(`remove ${orphan}`);
  });

  it('reports an index line whose newcerts file is missing as broken', async () => {
    const dir = await fresh();
    const missing = join(dir, 'intermediate/newcerts', `${serials.leaf}.pem`);
    await unlink(missing);
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'broken', missing).text).toMatch(/missing.*restore/);
  });

  it('reports an older CA\'s serial file as unused, even rewound or garbled: serials are random, none is reused', async () => {
    const dir = await fresh();
    const rewound = join(dir, 'intermediate/serial');
    const garbled = join(dir, 'serial');
    await writeFile(rewound, `${serials.leaf}\n`);
    await writeFile(garbled, 'not a serial\n');
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toEqual([]);
    for (const path of [rewound, garbled]) expect(finding(findings, 'ok', path).text).toContain('no longer read');
  });

  it('says nothing about a serial file a new CA does not have', async () => {
    const dir = await fresh();
    await unlink(join(dir, 'intermediate/serial'));
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toEqual([]);
    expect(findings.some((f) => f.text.includes(join(dir, 'intermediate/serial')))).toBe(false);
  });

  it('reports a duplicated index line as broken', async () => {
    const dir = await fresh();
    const index = join(dir, 'intermediate/index.txt');
    const [first] = (await readFile(index, 'utf8')).split('\n');
    await appendFile(index, `${first}\n`);
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'broken', index).text).toContain(`serial ${serials.leaf} 2 times (lines 1, 3)`);
  });

  it('reports a truncated index line as broken, naming the line', async () => {
    const dir = await fresh();
    const index = join(dir, 'intermediate/index.txt');
    const text = await readFile(index, 'utf8');
    await writeFile(index, text.slice(0, text.indexOf('\n') + 1 + 20));
    const findings = await checkCaDirectory(dir);
    const brokenIndex = findings.filter((f) => f.level === 'broken' && f.text.startsWith(index));
    expect(brokenIndex.map((f) => f.text)).toEqual([expect.stringContaining(`${index} line 2 is not a complete`), expect.stringContaining(`${index} does not end with a line break`)]);
    // The lost line was the revoked certificate's: its newcerts file is unrecorded but the CRL lists it, so it is no
    // leftover of an interrupted signing, and the CRL names a serial the database lost.
    expect(finding(findings, 'broken', join(dir, 'intermediate/newcerts', `${serials.revoked}.pem`)).text).toContain('index.txt lost its line');
    const crl = join(dir, 'intermediate/crl/intermediate.crl.pem');
    expect(findings.filter((f) => f.level === 'broken' && f.text.startsWith(crl)).map((f) => f.text)).toEqual([expect.stringContaining(`lists serial ${serials.revoked}, which`)]);
  });

  it('reports an index.txt whose last line has no line end as broken (openssl ca would drop it)', async () => {
    const dir = await fresh();
    const index = join(dir, 'index.txt');
    await writeFile(index, (await readFile(index, 'utf8')).trimEnd());
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'broken', index).text).toContain('append a newline');
  });

  it('reports a newcerts file whose subject disagrees with index.txt as broken', async () => {
    const dir = await fresh();
    const index = join(dir, 'intermediate/index.txt');
    await writeFile(index, (await readFile(index, 'utf8')).replace('CN=www.example.com', 'CN=www.example.org'));
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'broken', join(dir, 'intermediate/newcerts', `${serials.leaf}.pem`)).text).toContain('CN=www.example.org');
  });

  it('reports a CRL that lacks a revoked serial as repairable with hsm-openssl-ca crl', async () => {
    const dir = await fresh();
    const crl = join(dir, 'intermediate/crl/intermediate.crl.pem');
    await publishCrlFile(crl, join(work, 'before-revoke.crl.pem'));
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    const found = finding(findings, 'repairable', crl);
    expect(found.text).toContain(serials.revoked);
    expect(found.text).toContain(`publish a new CRL with \`hsm-openssl-ca crl --dir ${dir}\``);
  });

  it('reports a CRL that lists a serial index.txt has as valid as broken (a lost revocation)', async () => {
    const dir = await fresh();
    const index = join(dir, 'intermediate/index.txt');
    await writeFile(index, (await readFile(index, 'utf8')).replace(/^R\t(\w+)\t[^\t]+\t/m, 'V\t$1\t\t'));
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'broken', join(dir, 'intermediate/crl/intermediate.crl.pem')).text).toContain(`hsm-openssl-ca revoke ${serials.revoked} --dir ${dir}`);
  });

  it('reports a DER CRL that is not the PEM CRL, and a missing one, as repairable with hsm-openssl-ca crl', async () => {
    const dir = await fresh();
    const der = join(dir, 'intermediate/crl/intermediate.crl');
    openssl('crl', '-in', join(work, 'before-revoke.crl.pem'), '-outform', 'DER', '-out', der);
    const stale = await checkCaDirectory(dir);
    expect(problems(stale)).toHaveLength(1);
    expect(finding(stale, 'repairable', der).text).toMatch(/is not the CRL in .*intermediate\.crl\.pem.*publish both again with `hsm-openssl-ca crl --dir /);
    await rm(der);
    const missing = await checkCaDirectory(dir);
    expect(problems(missing)).toHaveLength(1);
    expect(finding(missing, 'repairable', der).text).toMatch(/is missing: the CRL Distribution Point's file \(DER\).*`hsm-openssl-ca crl --dir /);
  });

  it('reports an expired CRL as repairable', async () => {
    const dir = await fresh();
    const crl = join(dir, 'intermediate/crl/intermediate.crl.pem');
    await publishCrlFile(crl, join(work, 'expired.crl.pem'));
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'repairable', crl).text).toMatch(/CRL expired on 2020-01-02.*run `hsm-openssl-ca crl --dir /);
  });

  it('reports a chain.crt that is not intermediate + root as repairable', async () => {
    const dir = await fresh();
    const chain = join(dir, 'intermediate/certs/chain.crt');
    await writeFile(chain, Buffer.concat([await readFile(join(dir, 'certs/root.crt')), await readFile(join(dir, 'intermediate/certs/intermediate.crt'))]));
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'repairable', chain).text).toContain('rebuild it with `cat ');
  });

  it('reports a leftover temporary file of writeFileAtomic as repairable', async () => {
    const dir = await fresh();
    const leftover = join(dir, 'intermediate/.index.txt.0a1b2c3d4e5f.tmp');
    await writeFile(leftover, 'partial');
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'repairable', leftover).text).toContain(`remove ${leftover}`);
  });

  it('reports a lock whose owner is gone as repairable, and a live owner as ok', async () => {
    const dir = await fresh();
    const lock = join(dir, '.hsm-openssl-ca.lock');
    const dead = spawnSync('true').pid!;
    await writeFile(lock, `${dead}\n`);
    let findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'repairable', lock).text).toContain(`stale lock: its owner (pid ${dead}) is no longer running`);
    await writeFile(lock, `${process.pid}\n`);
    findings = await checkCaDirectory(dir);
    expect(problems(findings)).toEqual([]);
    expect(finding(findings, 'ok', lock).text).toContain(`pid ${process.pid}`);
  });

  it('reports a lock naming a live pid from another boot as stale (pid reuse after a power loss)', async () => {
    const dir = await fresh();
    const lock = join(dir, '.hsm-openssl-ca.lock');
    const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    await writeFile(lock, `${process.pid} ${bootId.replace(/^./, (c) => (c === '0' ? '1' : '0'))} 1\n`);
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'repairable', lock).text).toContain(`stale lock: its owner (pid ${process.pid}) ran before the last reboot`);
  });

  it('reports unreadable settings as broken', async () => {
    const dir = await fresh();
    const settings = join(dir, 'hsm-openssl-ca.json');
    await writeFile(settings, '{ "version": 1, ');
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'broken', settings).text).toContain('restore it from your backup');
  });

  it('reports missing settings as broken and still checks the rest', async () => {
    const dir = await fresh();
    const settings = join(dir, 'hsm-openssl-ca.json');
    await unlink(settings);
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'broken', settings).text).toContain('is missing');
    finding(findings, 'ok', join(dir, 'intermediate/crl/intermediate.crl.pem'));
  });
});

describe('checkCaDirectory and the audit log / journal (issue 7)', () => {
  /** A CA whose audit log records every issuance and revocation but the leaf's issuance. */
  async function withLeafUnrecorded(): Promise<string> {
    const dir = await fresh();
    await rm(join(dir, 'audit.log'));
    await rm(join(dir, 'audit.head'));
    await appendAudit(dir, { action: 'init', command: 'init' });
    for (const serial of [serials.intermediate, serials.revoked]) await appendAudit(dir, { action: 'certificate-issued', command: 'test', serial });
    await appendAudit(dir, { action: 'revoked', command: 'revoke', serial: serials.revoked });
    return dir;
  }

  it('names an issuance the audit log does not record as broken', async () => {
    const dir = await withLeafUnrecorded();
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toHaveLength(1);
    expect(finding(findings, 'broken', `serial ${serials.leaf}`).text).toMatch(/no certificate-issued record for it: an issuance escaped the log/);
  });

  it('still names an unrecorded issuance when another line of the same index.txt is damaged', async () => {
    const dir = await withLeafUnrecorded();
    await appendFile(join(dir, 'intermediate/index.txt'), 'V\tnot a database line\n');
    const findings = await checkCaDirectory(dir);
    expect(finding(findings, 'broken', 'is not a complete openssl ca database line').text).toContain('index.txt line');
    expect(finding(findings, 'broken', `serial ${serials.leaf}`).text).toMatch(/no certificate-issued record for it: an issuance escaped the log/);
  });

  it('names an interrupted commit and how to finish it; check --repair finishes it byte for byte', async () => {
    const dir = await fresh();
    const index = join(dir, 'intermediate', 'index.txt');
    const orphanPem = await readFile(join(work, 'orphan.pem'));
    const expires = decodeCertificate(pemToDer(orphanPem.toString('utf8'), 'CERTIFICATE', 'orphan.pem')).notAfter.toISOString().replace(/[-:T]/g, '').slice(2, 14);
    const added = `V\t${expires}Z\t\t${serials.orphan}\tunknown\t/CN=orphan.example.com\n`;
    const newIndex = Buffer.concat([await readFile(index), Buffer.from(added)]);
    await writePending(dir, {
      phase: 'committing',
      command: 'server',
      summary: `server certificate ${serials.orphan}`,
      requestKey: 'k',
      writes: storeWrites([
        { path: join(dir, 'intermediate', 'newcerts', `${serials.orphan}.pem`), data: orphanPem },
        { path: index, data: newIndex },
      ]),
      audit: await prepareAudit(dir, [{ action: 'certificate-issued', command: 'server', serial: serials.orphan }]),
      result: {},
    });
    // As if killed after the certificate and before index.txt: only the first write happened.
    await writeFile(join(dir, 'intermediate', 'newcerts', `${serials.orphan}.pem`), orphanPem);
    const findings = await checkCaDirectory(dir);
    expect(problems(findings)).toEqual([{ level: 'repairable', text: expect.stringMatching(/^interrupted `server`: server certificate .* check --repair --dir /) }]);
    expect(await repairCaDirectory(dir)).toEqual([`finished the interrupted \`server\`: server certificate ${serials.orphan}`]);
    expect(await readFile(index)).toEqual(newIndex);
    const after = await checkCaDirectory(dir);
    expect(problems(after)).toEqual([]);
    finding(after, 'ok', 'every issuance and revocation recorded');
  });
});

describe('subjectMatchesIndex', () => {
  let subjectDer: Buffer;
  beforeAll(async () => {
    subjectDer = decodeCertificate(pemToDer(await readFile(join(work, 'leaf.crt'), 'utf8'), 'CERTIFICATE', 'leaf.crt')).subjectDer;
  });

  it('matches the form openssl ca 3.0 writes, and the unescaped form of OpenSSL 1.1.1', () => {
    expect(subjectMatchesIndex(subjectDer, '/C=US/O=Slash\\/Plus\\+ Co/CN=www.example.com')).toBe(true);
    expect(subjectMatchesIndex(subjectDer, '/C=US/O=Slash/Plus+ Co/CN=www.example.com')).toBe(true);
  });

  it('matches non-ASCII UTF-8 written as \\xHH (openssl ca 3.0) or as is', async () => {
    const revoked = decodeCertificate(pemToDer(await readFile(join(work, 'revoked.crt'), 'utf8'), 'CERTIFICATE', 'revoked.crt')).subjectDer;
    expect(subjectMatchesIndex(revoked, '/O=Caf\\xC3\\xA9 Ltd/CN=revoked.example.com')).toBe(true);
    expect(subjectMatchesIndex(revoked, '/O=Café Ltd/CN=revoked.example.com')).toBe(true);
    expect(subjectMatchesIndex(revoked, '/O=Cafe Ltd/CN=revoked.example.com')).toBe(false);
  });

  it('refuses another value, another order or a missing attribute', () => {
    expect(subjectMatchesIndex(subjectDer, '/C=US/O=Slash\\/Plus\\+ Co/CN=www.example.org')).toBe(false);
    expect(subjectMatchesIndex(subjectDer, '/O=Slash\\/Plus\\+ Co/C=US/CN=www.example.com')).toBe(false);
    expect(subjectMatchesIndex(subjectDer, '/C=US/CN=www.example.com')).toBe(false);
    expect(subjectMatchesIndex(subjectDer, '/C=US/O=Slash\\/Plus\\+ Co/CN=www.example.com/OU=x')).toBe(false);
  });
});
