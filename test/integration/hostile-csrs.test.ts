import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cert } from './certs.js';
import { ceremony, cli, expectOneLineError, makeCsr, makeSandbox, mustExec, type Sandbox, treeHash } from './helpers.js';

/**
 * A corpus of hostile or broken CSRs: every one must be refused with one specific line, a non-zero exit,
 * no file written next to the CSR, and a byte-identical CA directory. A few look hostile but are accepted by
 * design (DER input, requested CA:TRUE / keyCertSign, which are ignored and reported); those are positive
 * controls at the end.
 */

// ---------------------------------------------------------------------------------------------------------
// A tiny DER writer and reader, enough to build and splice PKCS#10 requests by hand.

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const content = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
const set = (...parts: Buffer[]): Buffer => tlv(0x31, ...parts);

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const out = [first! * 40 + second!];
  for (const value of rest) {
    const group = [value & 0x7f];
    for (let v = Math.floor(value / 128); v > 0; v = Math.floor(v / 128)) group.unshift(0x80 | (v & 0x7f));
    out.push(...group);
  }
  return tlv(0x06, Buffer.from(out));
}

interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

function readTlv(der: Buffer, offset = 0): Tlv {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + der[contentStart + i]!;
    contentStart += count;
  }
  return { tag, start: offset, contentStart, end: contentStart + length };
}

function childrenOf(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = parent.contentStart; offset < parent.end; offset = out.at(-1)!.end) out.push(readTlv(der, offset));
  return out;
}

/** The three parts of a signed request: CertificationRequestInfo, AlgorithmIdentifier, signature BIT STRING. */
function splitCsr(der: Buffer): { info: Buffer; algorithm: Buffer; signature: Buffer } {
  const [info, algorithm, signature] = childrenOf(der, readTlv(der));
  return { info: der.subarray(info!.start, info!.end), algorithm: der.subarray(algorithm!.start, algorithm!.end), signature: der.subarray(signature!.start, signature!.end) };
}

const pemOf = (der: Buffer, label = 'CERTIFICATE REQUEST'): string =>
  `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;

const derOf = (pem: string): Buffer => Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
};

const TAG = { utf8: 0x0c, printable: 0x13, ia5: 0x16, bmp: 0x1e };

/** One attribute of a Name: its OID, string tag and raw bytes (so invalid contents can be written on purpose). */
type NameAttribute = [string, number, Buffer];
/** One GeneralName, already encoded (context tag included). */
type GeneralName = Buffer;

const dnsName = (bytes: Buffer | string): GeneralName => tlv(0x82, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1'));
const ipName = (bytes: Buffer): GeneralName => tlv(0x87, bytes);
const cn = (value: string | Buffer, tag = TAG.utf8): NameAttribute => [OID.commonName, tag, Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8')];

const sanExtension = (names: GeneralName[]): Buffer => seq(oid(OID.subjectAltName), tlv(0x04, seq(...names)));

/**
 * A P-256 CSR built from scratch and signed correctly with its own key: whatever is wrong with it is wrong
 * on purpose, not because the signature is broken.
 */
function buildCsr(options: { subject?: NameAttribute[]; subjectDer?: Buffer; extensions?: Buffer[] }): Buffer {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const spki = Buffer.from(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const subject = options.subjectDer ?? seq(...(options.subject ?? []).map(([type, tag, bytes]) => set(seq(oid(type), tlv(tag, bytes)))));
  const attributes = options.extensions?.length ? tlv(0xa0, seq(oid(OID.extensionRequest), set(seq(...options.extensions)))) : tlv(0xa0);
  const info = seq(tlv(0x02, Buffer.from([0])), subject, spki, attributes);
  return seq(info, seq(oid(OID.ecdsaWithSha256)), tlv(0x03, Buffer.from([0]), sign('sha256', info, key)));
}

// ---------------------------------------------------------------------------------------------------------

type Maker = (dir: string) => Promise<string>;

async function write(dir: string, name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

const derCsr = (name: string, der: Buffer): Maker => (dir) => write(dir, `${name}.csr`, pemOf(der));

let caDir = '';
let dsaParams = '';

const withSans = (...names: GeneralName[]): Buffer[] => [sanExtension(names)];

const hostile: Array<[string, Maker, RegExp]> = [
  // --- not a CSR at all ----------------------------------------------------------------------------------
  ['an empty file', (dir) => write(dir, 'empty.csr', ''), /the CSR .*empty\.csr is empty/],
  ['binary garbage (4 KiB of random bytes)', (dir) => write(dir, 'garbage.csr', Buffer.concat([Buffer.from([0x04]), randomBytes(4095)])), /garbage\.csr is unreadable: malformed CSR/],
  ['a PEM truncated in the middle of its base64 (END line kept)', async (dir) => {
    const pem = await readFile(await makeCsr(dir, 'full'), 'utf8');
    const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, '');
    return write(dir, 'truncated.csr', `-----BEGIN CERTIFICATE REQUEST-----\n${body.slice(0, Math.floor(body.length / 2) & ~3)}\n-----END CERTIFICATE REQUEST-----\n`);
  }, /truncated\.csr is unreadable: malformed CSR: .*(truncated|runs past the end)/],
  ['a PEM with its END line missing', async (dir) => {
    const pem = await readFile(await makeCsr(dir, 'full'), 'utf8');
    return write(dir, 'no-end.csr', pem.replace(/-----END CERTIFICATE REQUEST-----\n/, ''));
  }, /no-end\.csr .*(no PEM block|END)/],
  ['two PEM blocks', async (dir) => {
    const one = await readFile(await makeCsr(dir, 'one'), 'utf8');
    const two = await readFile(await makeCsr(dir, 'two'), 'utf8');
    return write(dir, 'two.csr', one + two);
  }, /2 PEM blocks; expected exactly one/],
  ['DER, truncated by 20 bytes', async (dir) => {
    const der = derOf(await readFile(await makeCsr(dir, 'full'), 'utf8'));
    return write(dir, 'cut.der', der.subarray(0, der.length - 20));
  }, /cut\.der is unreadable: malformed CSR: .*runs past the end/],
  ['DER with trailing bytes after the request', async (dir) => {
    const der = derOf(await readFile(await makeCsr(dir, 'full'), 'utf8'));
    return write(dir, 'trailing.der', Buffer.concat([der, Buffer.from('trailing junk')]));
  }, /trailing\.der is unreadable: malformed CSR: .*not a single DER SEQUENCE/],
  ['BER with an indefinite length', async (dir) => {
    const der = derOf(await readFile(await makeCsr(dir, 'full'), 'utf8'));
    const { contentStart } = readTlv(der);
    return write(dir, 'indefinite.der', Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(contentStart), Buffer.from([0, 0])]));
  }, /indefinite\.der is unreadable: malformed CSR: .*bad DER length/],
  ['DER whose outer length claims 4 GiB', async (dir) => {
    const der = derOf(await readFile(await makeCsr(dir, 'full'), 'utf8'));
    const { contentStart } = readTlv(der);
    return write(dir, 'huge-length.der', Buffer.concat([Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), der.subarray(contentStart)]));
  }, /huge-length\.der is unreadable: malformed CSR: .*runs past the end/],
  ['a DER bomb: a name attribute nested 12,000 SEQUENCEs deep', async (dir) => {
    let nested = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 12_000; i += 1) nested = seq(nested);
    const subject = seq(set(seq(oid(OID.commonName), nested)));
    return derCsr('bomb', buildCsr({ subjectDer: subject, extensions: withSans(dnsName('bomb.example.com')) }))(dir);
  }, /bomb\.csr is unreadable: malformed CSR/],
  ['a certificate instead of a CSR', async () => join(caDir, 'certs/root.crt'), /holds a "CERTIFICATE" PEM block; expected "CERTIFICATE REQUEST"/],
  ['a private key instead of a CSR', async (dir) => {
    await makeCsr(dir, 'keyonly');
    return join(dir, 'keyonly.key');
  }, /holds a "PRIVATE KEY" PEM block; expected "CERTIFICATE REQUEST"/],
  ['larger than 64 KiB (a valid CSR padded with junk after the PEM)', async (dir) => {
    const pem = await readFile(await makeCsr(dir, 'big'), 'utf8');
    return write(dir, 'padded.csr', pem + '#'.repeat(70_000) + '\n');
  }, /padded\.csr is \d+ bytes; a CSR is a few kilobytes/],
  ['a directory instead of a file', async (dir) => {
    await mkdir(join(dir, 'a-directory.csr'));
    return join(dir, 'a-directory.csr');
  }, /a-directory\.csr is not a file/],
  ['a file that does not exist', async (dir) => join(dir, 'nothing-here.csr'), /cannot read the CSR .*nothing-here\.csr: no such file/],
  ['an (empty) file whose name contains a newline', (dir) => write(dir, 'evil\nhsm-openssl-ca: all good.csr', ''), /is empty/],

  // --- signatures ---------------------------------------------------------------------------------------
  ['badly signed (one bit of an RSA-2048 signature flipped)', async (dir) => {
    const der = derOf(await readFile(await makeCsr(dir, 'tampered', { key: ['-newkey', 'rsa:2048'] }), 'utf8'));
    der[der.length - 7]! ^= 0x10;
    return write(dir, 'flipped.csr', pemOf(der));
  }, /flipped\.csr has an invalid signature/],
  ['signed by a different key (request A spliced with request B\'s signature)', async (dir) => {
    const a = splitCsr(derOf(await readFile(await makeCsr(dir, 'spliced-a', { subject: '/CN=same.example.com' }), 'utf8')));
    const b = splitCsr(derOf(await readFile(await makeCsr(dir, 'spliced-b', { subject: '/CN=same.example.com' }), 'utf8')));
    return write(dir, 'spliced.csr', pemOf(seq(a.info, a.algorithm, b.signature)));
  }, /spliced\.csr has an invalid signature/],

  // --- keys ---------------------------------------------------------------------------------------------
  ['an RSA-1024 key', (dir) => makeCsr(dir, 'rsa1024', { key: ['-newkey', 'rsa:1024'] }), /weak or unsupported key \(RSA 1024\)/],
  ['a DSA key', (dir) => makeCsr(dir, 'dsa', { key: ['-newkey', `dsa:${dsaParams}`] }), /(weak or unsupported|unsupported type).*\bDSA\b/i],
  ['an EC key on secp256k1', (dir) => makeCsr(dir, 'k1', { key: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'] }), /weak or unsupported key \(EC secp256k1\)/],
  ['an EC key on brainpoolP256r1', (dir) => makeCsr(dir, 'brainpool', { key: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1'] }), /weak or unsupported key \(EC brainpoolP256r1\)/],
  ['a P-256 key with explicit curve parameters', (dir) => makeCsr(dir, 'explicit', { key: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pkeyopt', 'ec_param_enc:explicit'] }), /an EC key with explicit curve parameters, which RFC 5480 forbids/],
  ['an Ed25519 key', (dir) => makeCsr(dir, 'ed25519', { key: ['-newkey', 'ed25519'] }), /(weak or unsupported|unsupported type).*Ed25519/i],

  // --- subjectAltName -----------------------------------------------------------------------------------
  ['1,000 SANs', (dir) => makeCsr(dir, 'many', { sans: Array.from({ length: 1000 }, (_, i) => `DNS:host${i}.example.com`).join(',') }), /(requests|has) 1000 subjectAltName entries; at most 100/],
  ['duplicate SANs (differing only in case)', (dir) => makeCsr(dir, 'dup', { sans: 'DNS:www.example.com,DNS:WWW.example.com' }), /the SAN DNS:WWW\.example\.com twice; remove the duplicate/i],
  ['a wildcard in the middle (a.*.example.com)', (dir) => makeCsr(dir, 'midwild', { sans: 'DNS:a.*.example.com' }), /"a\.\*\.example\.com" refused: a wildcard is allowed only as the whole leftmost label/],
  ['a wildcard over a TLD (*.com)', (dir) => makeCsr(dir, 'tldwild', { sans: 'DNS:*.com' }), /"\*\.com" refused: a wildcard needs at least two labels after it/],
  ['an IP address in a DNS SAN (DNS:10.0.0.1)', (dir) => makeCsr(dir, 'ipdns', { sans: 'DNS:10.0.0.1' }), /"10\.0\.0\.1" refused: it is an IP address; request it as an IP SAN/],
  ['a space in a DNS SAN', (dir) => makeCsr(dir, 'space', { sans: 'DNS:a b.example.com' }), /"a b\.example\.com" refused: it contains spaces, control or non-ASCII/],
  ['a control character (BEL) in a DNS SAN', derCsr('bel', buildCsr({ subject: [cn('bel.example.com')], extensions: withSans(dnsName('a\x07b.example.com')) })), /(contains a control character|refused: it contains spaces, control)/],
  ['a NUL byte in a DNS SAN (www.example.com\\0.evil.com)', derCsr('nul', buildCsr({ subject: [cn('www.example.com')], extensions: withSans(dnsName('www.example.com\x00.evil.com')) })), /(contains a control character|refused: it contains spaces, control)/],
  ['a newline in a DNS SAN', derCsr('lf', buildCsr({ subject: [cn('lf.example.com')], extensions: withSans(dnsName('a.example.com\nhsm-openssl-ca: b.example.com')) })), /(contains a control character|refused: it contains spaces, control)/],
  ['a non-ASCII (UTF-8) DNS SAN', (dir) => makeCsr(dir, 'idn', { sans: 'DNS:bücher.example.com' }), /refused: it contains spaces, control or non-ASCII characters \(use the punycode xn-- form\)/],
  ['a 64-character DNS label', (dir) => makeCsr(dir, 'label64', { sans: `DNS:${'a'.repeat(64)}.example.com` }), /label "a{64}" is not 1–63 letters/],
  ['a DNS name longer than 253 characters', (dir) => makeCsr(dir, 'long-name', { sans: `DNS:${Array.from({ length: 5 }, () => 'b'.repeat(60)).join('.')}.example.com` }), /refused: it is longer than 253 characters/],
  ['an email SAN', (dir) => makeCsr(dir, 'mail', { sans: 'email:a@example.com' }), /SAN email:a@example.com does not belong in a TLS server certificate/],
  ['a URI SAN', (dir) => makeCsr(dir, 'uri', { sans: 'DNS:uri.example.com,URI:https://uri.example.com/' }), /SAN URI:https:\/\/uri.example.com\/ does not belong in a TLS server certificate/],
  ['an otherName SAN (UPN)', (dir) => makeCsr(dir, 'upn', { sans: 'otherName:1.3.6.1.4.1.311.20.2.3;UTF8:admin@example.com' }), /requests a SAN of type otherName; only /],
  ['an email SAN with a wildcard local part', (dir) => makeCsr(dir, 'mail-wild', { sans: 'DNS:mail-wild.example.com,email:*@example.com' }), /SAN "email:\*@example\.com" is not a plain e-mail address/],
  ['a file: URI SAN', (dir) => makeCsr(dir, 'file-uri', { sans: 'DNS:file-uri.example.com,URI:file:///etc/passwd' }), /SAN "URI:file:\/\/\/etc\/passwd" is not an absolute URI without spaces/],
  ['a javascript: URI SAN', (dir) => makeCsr(dir, 'js-uri', { sans: 'DNS:js-uri.example.com,URI:javascript:alert(1)' }), /SAN "URI:javascript:alert\(1\)" is not an absolute URI without spaces/],
  ['an IP SAN of 5 bytes', derCsr('ip5', buildCsr({ subject: [cn('ip5.example.com')], extensions: withSans(ipName(Buffer.from([10, 0, 0, 1, 7]))) })), /IP SAN has 5 bytes; an IP address has 4 or 16/],
  ['two subjectAltName extensions', derCsr('two-san-ext', buildCsr({
    subject: [cn('first.example.com')],
    extensions: [sanExtension([dnsName('first.example.com')]), sanExtension([dnsName('second.example.com')])],
  })), /subjectAltName.*(twice|more than once|two|duplicate)/i],
  ['a subjectAltName extension that is not valid DER', derCsr('bad-san-ext', buildCsr({
    subject: [cn('bad-san.example.com')],
    extensions: [seq(oid(OID.subjectAltName), tlv(0x04, Buffer.from([0x30, 0x10, 0x82, 0x05, 0x61])))],
  })), /bad-san-ext\.csr is unreadable: malformed CSR: unreadable extensions/],

  // --- subject ------------------------------------------------------------------------------------------
  ['a 65-character CN (over ub-common-name 64)', derCsr('cn65', buildCsr({ subject: [cn(`${'c'.repeat(53)}.example.com`)], extensions: withSans(dnsName('cn65.example.com')) })), /(CN|commonName).*(64|too long)/i],
  ['an empty subject with SANs', (dir) => makeCsr(dir, 'nosubject', { subject: '/', sans: 'DNS:nosubject.example.com' }), /nosubject\.csr has no commonName/],
  ['a subject with no CN', (dir) => makeCsr(dir, 'nocn', { subject: '/O=Acme/OU=Web', sans: 'DNS:nocn.example.com' }), /nocn\.csr has no commonName/],
  ['a CN that is not a DNS name and no SANs', (dir) => makeCsr(dir, 'cn-words', { subject: '/CN=My Web Server' }), /requests no subjectAltName and its CN "My Web Server" is not a DNS name/],
  ['non-UTF-8 bytes in a UTF8String CN', derCsr('latin1', buildCsr({ subject: [cn(Buffer.from([0x62, 0xfc, 0x63, 0x68, 0x65, 0x72]))], extensions: withSans(dnsName('latin1.example.com')) })), /latin1\.csr is unreadable: malformed CSR: a name contains bytes that are not valid UTF-8/],
  ['a BMPString CN with an odd number of bytes', derCsr('bmp-odd', buildCsr({ subject: [cn(Buffer.from([0x00, 0x61, 0x00]), TAG.bmp)], extensions: withSans(dnsName('bmp.example.com')) })), /bmp-odd\.csr is unreadable: malformed CSR/],
  ['a newline and a NUL in the CN (SANs fine)', derCsr('cn-ctl', buildCsr({ subject: [cn('www.example.com\n/CN=evil\x00.example.com')], extensions: withSans(dnsName('cn-ctl.example.com')) })), /(CN|commonName|subject).*(control|newline|NUL)/i],
];

/** What the tool would write by default for this CSR path (server.ts defaultOutput). */
const defaultOutput = (csrPath: string): string => csrPath.replace(/\.(csr|req|pem)$/i, '') + '.crt';

async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

const slug = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);

describe('hostile server CSRs', () => {
  let sandbox: Sandbox;
  /** The CA directory's hash, taken once after the ceremony; moved only when a case wrongly changed it. */
  let baseline: Record<string, string>;
  const made = new Map<string, { dir: string; csr: string; files: string[] }>();

  beforeAll(async () => {
    sandbox = await makeSandbox();
    caDir = sandbox.caDir;
    await ceremony(sandbox, ['--key-type', 'EC:secp256r1']);
    dsaParams = join(sandbox.root, 'dsaparam.pem');
    await mustExec('openssl', ['dsaparam', '-out', dsaParams, '2048']);
    for (const [name, make] of hostile) {
      const dir = join(sandbox.root, 'cases', slug(name));
      await mkdir(dir, { recursive: true });
      const csr = await make(dir);
      made.set(name, { dir, csr, files: await listing(dir) });
    }
    baseline = await treeHash(sandbox.caDir);
  }, 300_000);
  afterAll(() => sandbox.cleanup());

  it('has a corpus of at least 30 hostile CSRs', () => {
    expect(hostile.length).toBeGreaterThanOrEqual(30);
    expect(new Set(hostile.map(([name]) => slug(name))).size).toBe(hostile.length);
  });

  it.each(hostile)('refuses %s, with one specific line, writing nothing', async (name, _make, pattern) => {
    const { dir, csr, files } = made.get(name)!;
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env });
    const after = await treeHash(sandbox.caDir);
    const expected = baseline;
    // A case that wrongly changed the directory fails here; later cases are judged against the new state.
    baseline = after;
    const shown = `exit ${result.code}\nstderr: ${JSON.stringify(result.stderr)}\nstdout: ${JSON.stringify(result.stdout.slice(0, 400))}`;
    try {
      expectOneLineError(result, pattern);
      expect(result.stderr).not.toMatch(/internal error/);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- actual CLI output ---\n${shown}`);
    }
    expect(after).toEqual(expected);
    expect(await listing(dir)).toEqual(files);
    expect(await exists(defaultOutput(csr))).toBe(false);
  }, 60_000);

  // Positive controls: these look hostile but are accepted by design. They change the CA directory, so they run last.

  it('accepts a valid DER CSR (positive control)', async () => {
    const dir = join(sandbox.root, 'cases', 'valid-der');
    await mkdir(dir, { recursive: true });
    const pem = await makeCsr(dir, 'der-ok', { sans: 'DNS:der-ok.example.com' });
    const der = join(dir, 'der-ok.der');
    await mustExec('openssl', ['req', '-in', pem, '-outform', 'DER', '-out', der]);
    const result = await cli(['server', der, '--dir', sandbox.caDir], { env: sandbox.env });
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toMatch(/server certificate issued: .*der-ok\.der\.crt/);
    expect((await Cert.load(`${der}.crt`)).subjectAltNames).toContain('DNS:der-ok.example.com');
  }, 120_000);

  it('ignores and reports a requested CA:TRUE, issuing CA:FALSE (positive control)', async () => {
    const dir = join(sandbox.root, 'cases', 'ca-true');
    await mkdir(dir, { recursive: true });
    const csr = await makeCsr(dir, 'ca-true', { sans: 'DNS:ca-true.example.com' });
    await mustExec('openssl', ['req', '-new', '-batch', '-key', join(dir, 'ca-true.key'), '-subj', '/CN=ca-true.example.com', '-addext', 'subjectAltName=DNS:ca-true.example.com', '-addext', 'basicConstraints=critical,CA:TRUE', '-out', csr]);
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env });
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toMatch(/ignored.*basicConstraints/);
    const cert = await Cert.load(join(dir, 'ca-true.crt'));
    expect(cert.basicConstraints).toEqual({ critical: true, cA: false, pathLength: undefined }); // one extension: Cert.extension refuses duplicates
    expect(cert.x509.ca).toBe(false);
  }, 120_000);

  it('ignores and reports a requested keyCertSign, issuing digitalSignature only (positive control)', async () => {
    const dir = join(sandbox.root, 'cases', 'key-cert-sign');
    await mkdir(dir, { recursive: true });
    const csr = await makeCsr(dir, 'kcs');
    await mustExec('openssl', ['req', '-new', '-batch', '-key', join(dir, 'kcs.key'), '-subj', '/CN=kcs.example.com', '-addext', 'subjectAltName=DNS:kcs.example.com', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-out', csr]);
    const result = await cli(['server', csr, '--dir', sandbox.caDir], { env: sandbox.env });
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toMatch(/ignored.*keyUsage/);
    const cert = await Cert.load(join(dir, 'kcs.crt'));
    expect(cert.keyUsage).toEqual({ critical: true, usages: ['digitalSignature'] });
    expect(cert.keyUsage?.usages).not.toContain('keyCertSign');
    expect(cert.keyUsage?.usages).not.toContain('cRLSign');
  }, 120_000);
});
