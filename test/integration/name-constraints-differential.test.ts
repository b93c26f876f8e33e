import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nameConstraintEntries, nameConstraintViolation } from '../../src/ca/signing/name-constraints.js';
import type { NameConstraints } from '../../src/ca/directory/settings.js';
import { parseSanText } from '../../src/x509/san.js';
import { exec, mustExec } from './helpers.js';

/**
 * The name-constraint pre-check against `openssl verify`, name by name. A throwaway software CA (no token)
 * makes one intermediate per constraint set, with the constraints rendered as the CLI renders them; every
 * name combination of the corpus is signed as a leaf with plain `openssl req -x509 -CA`, and the whole batch
 * is verified with `openssl verify -x509_strict` (the CLI's own check after signing). The pre-check must
 * give OpenSSL's verdict for every one: a name it passes but OpenSSL rejects would be signed on the token
 * and then thrown away; a name it refuses that OpenSSL accepts would be refused for nothing.
 */

const CONSTRAINT_SETS: Record<string, NameConstraints> = {
  'DNS and IP': { dns: ['example.com', 'corp.test'], ip: ['10.0.0.0/8', 'fd00::/8'] },
  'DNS only': { dns: ['example.com'], ip: [] },
  'IP only, with an IPv4-mapped range': { dns: [], ip: ['10.0.0.0/8', '::ffff:0:0/96'] },
};

const DNS_NAMES = [
  'example.com', 'EXAMPLE.COM', 'www.example.com', 'WWW.Example.Com', 'a.b.c.example.com', 'www.example.com.', '*.example.com',
  '*.www.example.com', 'badexample.com', 'xexample.com', 'example.com.evil.org', 'www.evil.com', 'evil.com', 'example.co',
  'ample.com', 'www-example.com', '*.evil.com', 'corp.test', 'sub.corp.test', 'Sub.CORP.test.', 'xcorp.test', 'localhost',
  'xn--mller-kva.example.com', 'xn--mller-kva.evil.com',
];
const IP_ADDRESSES = [
  '10.0.0.0', '10.1.2.3', '10.255.255.255', '11.0.0.1', '9.255.255.255', '192.168.1.1', '127.0.0.1',
  'fd00::1', 'FD12::ABCD', 'fdff:ffff::1', 'fe00::1', '2001:db8::1', '::1', '::ffff:10.1.2.3', '::ffff:11.1.2.3',
  '::10.1.2.3', '64:ff9b::10.1.2.3', '::ffff:a01:203',
];
const EMAILS = ['ops@example.com', 'ops@evil.com', 'a.b+c@sub.example.com'];
const URIS = ['https://www.evil.com/', 'https://www.example.com/x'];
const COMMON_NAMES = [
  'www.example.com', 'www.evil.com', 'WWW.EVIL.COM', 'WWW.EXAMPLE.COM', '10.1.2.3', '11.1.2.3', 'www.evil.com.', 'www.example.com.',
  '*.evil.com', '*.example.com', 'Alice Example', 'alice', 'evil', 'a-.evil.com', 'a..evil.com', '-a.evil.com', 'a_b.evil.com',
  'a_b.example.com', 'müller.evil.com', 'xn--mller-kva.evil.com', 'ops@evil.com', 'fd00::1', 'a.b', 'sub.corp.test', 'evil.com-',
];

interface Case {
  readonly commonName: string;
  readonly sans: readonly string[];
}

/** Each SAN alone; each CN with no SAN, beside an e-mail SAN, an IP SAN and an inside DNS SAN; and mixed pairs. */
function corpus(): Case[] {
  const sans = [...DNS_NAMES.map((n) => `DNS:${n}`), ...IP_ADDRESSES.map((a) => `IP:${a}`), ...EMAILS.map((e) => `email:${e}`), ...URIS.map((u) => `URI:${u}`)];
  const cases: Case[] = sans.map((san) => ({ commonName: 'Some Service', sans: [san] }));
  for (const commonName of COMMON_NAMES) {
    for (const companions of [[], ['email:ops@example.com'], ['IP:10.1.2.3'], ['DNS:www.example.com'], ['URI:https://www.example.com/x']]) {
      cases.push({ commonName, sans: companions });
    }
  }
  for (const [i, dns] of DNS_NAMES.entries()) cases.push({ commonName: 'Some Service', sans: [`DNS:${dns}`, `IP:${IP_ADDRESSES[i % IP_ADDRESSES.length]!}`] });
  return cases;
}

const escapeSubj = (value: string): string => value.replace(/[\\/+]/g, '\\$&');

/** Runs `work` over `items` with at most `width` running at once: the machine has two cores. */
async function pool<T>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  }));
}

const LEAF_CONFIG = `[ req ]
distinguished_name = dn
x509_extensions = leaf
[ dn ]
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
authorityKeyIdentifier = keyid:always
`;

function caConfig(constraints: NameConstraints): string {
  const entries = nameConstraintEntries(constraints).map((e) => `permitted;${e.type}.${e.index} = ${e.value}`);
  return `[ req ]
distinguished_name = dn
[ dn ]
[ root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
nameConstraints = critical, @name_constraints
[ name_constraints ]
${entries.join('\n')}
`;
}

/** `openssl verify` of many files at once: the set of files it reports OK, and the reason for each other one. */
async function verifyAll(dir: string, intermediate: string, files: readonly string[]): Promise<{ ok: Set<string>; reasons: Map<string, string> }> {
  const result = await exec('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'root.crt'), '-untrusted', intermediate, ...files]);
  const lines = `${result.stdout}\n${result.stderr}`.split('\n');
  const ok = new Set(lines.filter((line) => line.endsWith(': OK')).map((line) => line.slice(0, -': OK'.length)));
  const reasons = new Map<string, string>();
  let reason = '';
  for (const line of lines) {
    const error = /^error \d+ at \d+ depth lookup: (.*)$/.exec(line);
    if (error) reason = error[1]!;
    const failed = /^error (.*): verification failed$/.exec(line);
    if (failed) reasons.set(failed[1]!, reason);
  }
  return { ok, reasons };
}

describe('name-constraint pre-check vs openssl verify (differential)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsm-ca-nc-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('gives OpenSSL\'s verdict for every name of the corpus', async () => {
    const cases = corpus();
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    const path = (name: string): string => join(dir, name);
    await writeFile(path('leaf.cnf'), LEAF_CONFIG);
    await mustExec('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path('leaf.key')]);
    await writeFile(path('root.cnf'), caConfig({ dns: [], ip: [] }));
    await mustExec('openssl', ['req', '-x509', ...ec, '-keyout', path('root.key'), '-subj', '/CN=Differential Root', '-config', path('root.cnf'), '-extensions', 'root', '-days', '2', '-out', path('root.crt')]);
    await mustExec('openssl', ['req', ...ec, '-keyout', path('intermediate.key'), '-subj', '/CN=Differential Intermediate', '-config', path('root.cnf'), '-out', path('intermediate.csr')]);
    // One intermediate key and name, one certificate per constraint set: a leaf signed once chains to each.
    const sets = await Promise.all(Object.entries(CONSTRAINT_SETS).map(async ([name, constraints], i) => {
      const certificate = path(`intermediate-${i}.crt`);
      await writeFile(path(`set-${i}.cnf`), caConfig(constraints));
      await mustExec('openssl', ['x509', '-req', '-in', path('intermediate.csr'), '-CA', path('root.crt'), '-CAkey', path('root.key'), '-extfile', path(`set-${i}.cnf`), '-extensions', 'intermediate', '-days', '2', '-out', certificate]);
      return { name, constraints, certificate };
    }));

    // What the CLI would issue: SANs as parseSanText normalises them (it refuses none of the corpus).
    const leaves = cases.map((c, i) => ({ ...c, parsed: c.sans.map(parseSanText), file: path(`leaf-${i}.crt`) }));
    await pool(leaves, 2, async (leaf) => {
      const sanArgs = leaf.parsed.length > 0 ? ['-addext', `subjectAltName=${leaf.parsed.map((s) => `${s.type}:${s.value}`).join(',')}`] : [];
      await mustExec('openssl', ['req', '-new', '-key', path('leaf.key'), '-utf8', '-subj', `/CN=${escapeSubj(leaf.commonName)}`, '-x509', '-CA', sets[0]!.certificate, '-CAkey', path('intermediate.key'), '-days', '1', '-config', path('leaf.cnf'), ...sanArgs, '-out', leaf.file]);
    });
    const disagreements: string[] = [];
    let signed = 0;
    let refused = 0;
    for (const set of sets) {
      const { ok, reasons } = await verifyAll(dir, set.certificate, leaves.map((l) => l.file));
      for (const leaf of leaves) {
        const violation = nameConstraintViolation({ sans: leaf.parsed, commonName: leaf.commonName }, set.constraints);
        const opensslOk = ok.has(leaf.file);
        if (!opensslOk) expect([leaf.file, reasons.get(leaf.file)]).toEqual([leaf.file, expect.stringMatching(/subtree violation/)]);
        if (opensslOk) signed += 1;
        else refused += 1;
        if ((violation === undefined) !== opensslOk) {
          disagreements.push(`${set.name}: CN=${leaf.commonName} ${leaf.sans.join(',')}: pre-check ${violation === undefined ? 'passes' : `refuses (${violation})`}, openssl verify ${opensslOk ? 'OK' : reasons.get(leaf.file)}`);
        }
      }
    }
    process.stdout.write(`name-constraint differential: ${cases.length} name combinations, each signed once and verified under ${sets.length} constrained intermediates = ${signed + refused} verdicts (${signed} OK, ${refused} rejected); disagreements: ${disagreements.length}\n`);
    expect(disagreements).toEqual([]);
    // A corpus where every name passes (or every one fails) would prove nothing.
    expect(Math.min(signed, refused)).toBeGreaterThan((signed + refused) / 5);
  }, 240_000);
});
