import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Cert, searchableText, serialOf } from './certs.js';
import { allFileText, cli, exec, makeCsr, makeSandbox, mustExec, SOFTHSM_MODULE, SPY_MODULE, treeHash, type Result, type Sandbox } from './helpers.js';

/*
 * Config injection, end to end: every option that reaches a rendered OpenSSL config (subject fields, CNs,
 * token label, module path, CA directory, key labels) either comes out of the real openssl on a real
 * SoftHSM2 token exactly as given, or is refused before anything is written with one line
 * `hsm-openssl-ca: …` naming the option and exit code 2.
 *
 * OpenSSL's config syntax expands `$var`, `${var}`, `$(var)` and `${ENV::X}`, cuts at `#`, strips quotes,
 * turns `\n` into a newline and joins a line ending in a backslash; a real newline starts a new directive,
 * and `.include` loads another file. Subjects are read from the certificate's DER here (not from an
 * openssl printout, which escapes backslashes and quotes), so "exactly" means the same UTF-8 bytes.
 *
 * NUL is not in the corpus: it cannot reach the CLI at all, since argv strings are NUL-terminated (the
 * last test shows Node refusing to spawn with one).
 */

/** If `$ENV::HOME` or `${ENV::HSM_CA_PIN}` were expanded anywhere, these distinctive values would show up. */
const HOME_MARKER = '/nonexistent/home-marker-Q7Zk';
const PIN = 'Pin-Marker-58213';
const KEY_TYPE = 'EC:secp256r1';
/** CLI processes at a time: most of a run is waiting on openssl and the token, so more than the CPU count. */
const CONCURRENCY = 6;

const LONG_ASCII = '64 chars: $x ${y} #z "q" \'s\' back\\slash a=b;c [ s ] ' + 'x'.repeat(64);
const ACCEPTED: readonly string[] = [
  'cost $5',
  '$ENV::HOME',
  '${ENV::HSM_CA_PIN}',
  '$(ENV::HOME)',
  '${dir}',
  '$dir',
  'a # b',
  'a;b',
  '"quoted"',
  "'single'",
  'back\\slash',
  'trailing\\',
  'a\\nb', // a literal backslash and n, which OpenSSL would otherwise read as a newline escape
  'a=b',
  '[ section ]',
  'Müller & Söhne GmbH',
  '日本語',
  '.include /etc/ssl/openssl.cnf',
  LONG_ASCII.slice(0, 64), // the X.509 upper bound for O, OU and CN
  'ü'.repeat(64), // 64 characters, 128 bytes: the bound counts characters
];
const N = ACCEPTED.length;
/** Values that fit a PKCS#11 token label (32 bytes). */
const TOKEN_LABELS = ACCEPTED.filter((value) => Buffer.byteLength(value) <= 32);

const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['newline + basicConstraints', 'x\nbasicConstraints = critical,CA:TRUE'],
  ['carriage return', 'x\rbasicConstraints = critical,CA:TRUE'],
  ['newline + .include', 'x\n.include /etc/ssl/openssl.cnf'],
  ['tab', 'a\tb'],
  ['DEL', 'a\x7fb'],
  ['leading space', ' x'],
  ['trailing space', 'x '],
];

// ---------------------------------------------------------------------------------------------------
// Helpers: a small process pool, DER subject decoding, OpenSSL config value reading, PKCS#11 URIs.

let slots = CONCURRENCY;
const waiting: Array<() => void> = [];
async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (slots === 0) await new Promise<void>((resolve) => waiting.push(resolve));
  else slots -= 1;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else slots += 1;
  }
}

function run(args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Result> {
  return limited(() => cli(args, { env, cwd }));
}

interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

function tlvAt(der: Buffer, offset: number): Tlv {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i += 1) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  return { tag, start, end: start + length };
}

function childrenOf(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const child = tlvAt(der, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

function oidText(bytes: Buffer): string {
  const parts = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let value = 0;
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

const ATTRIBUTE_NAMES: Record<string, string> = { '2.5.4.6': 'C', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.3': 'CN' };
const STRING_TYPES: Record<number, string> = { 0x0c: 'UTF8String', 0x13: 'PrintableString', 0x16: 'IA5String', 0x1e: 'BMPString', 0x14: 'T61String' };

/** One attribute of a Name, its value as UTF-8 text and as hex of the exact DER content bytes. */
interface NameEntry {
  readonly type: string;
  readonly asn1: string;
  readonly value: string;
  readonly hex: string;
}

function decodeName(der: Buffer, name: Tlv): NameEntry[] {
  return childrenOf(der, name).flatMap((set) =>
    childrenOf(der, set).map((attribute) => {
      const [oid, value] = childrenOf(der, attribute) as [Tlv, Tlv];
      const bytes = der.subarray(value.start, value.end);
      const type = oidText(der.subarray(oid.start, oid.end));
      return { type: ATTRIBUTE_NAMES[type] ?? type, asn1: STRING_TYPES[value.tag] ?? `tag 0x${value.tag.toString(16)}`, value: bytes.toString('utf8'), hex: bytes.toString('hex') };
    }),
  );
}

async function certificateNames(path: string): Promise<{ subject: NameEntry[]; issuer: NameEntry[] }> {
  const pem = await readFile(path, 'utf8');
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
  const tbs = childrenOf(der, tlvAt(der, 0))[0]!;
  const fields = childrenOf(der, tbs);
  const first = fields[0]!.tag === 0xa0 ? 1 : 0; // [0] version
  return { issuer: decodeName(der, fields[first + 2]!), subject: decodeName(der, fields[first + 4]!) };
}

function expectedName(subject: { country?: string; state?: string; org: string; orgUnit: string }, commonName: string): NameEntry[] {
  const entry = (type: string, value: string, asn1 = 'UTF8String'): NameEntry => ({ type, asn1, value, hex: Buffer.from(value, 'utf8').toString('hex') });
  return [
    ...(subject.country !== undefined ? [entry('C', subject.country, 'PrintableString')] : []),
    ...(subject.state !== undefined ? [entry('ST', subject.state)] : []),
    entry('O', subject.org),
    entry('OU', subject.orgUnit),
    entry('CN', commonName),
  ];
}

/**
 * What OpenSSL's config parser makes of a value the tool wrote: `\x` is x, and anything it would
 * interpret (an unescaped `$`, `#` or quote) is reported instead of guessed at.
 */
function opensslValue(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i += 1) {
    const c = raw[i]!;
    if (c === '\\') {
      if (i + 1 >= raw.length) return `<dangling backslash in ${JSON.stringify(raw)}>`;
      out += raw[i + 1];
      i += 1;
    } else if ('$#"\''.includes(c)) {
      return `<unescaped ${c} in ${JSON.stringify(raw)}>`;
    } else {
      out += c;
    }
  }
  return out.replace(/[ \t]+$/, '');
}

/** `name = value` lines of a config, values as OpenSSL reads them. */
function configValues(text: string, name: string): string[] {
  return text
    .split('\n')
    .map((line) => new RegExp(`^\\s*${name}\\s*=\\s*(.*)$`).exec(line)?.[1])
    .filter((value): value is string => value !== undefined)
    .map(opensslValue);
}

/** token= and object= of a PKCS#11 URI, percent-decoded as UTF-8. */
function uriLabels(uri: string): { token?: string; object?: string } {
  const path = uri.replace(/^pkcs11:/, '').split('?')[0]!;
  const out: Record<string, string> = {};
  for (const attribute of path.split(';')) {
    const eq = attribute.indexOf('=');
    if (eq > 0) {
      try {
        out[attribute.slice(0, eq)] = decodeURIComponent(attribute.slice(eq + 1));
      } catch {
        out[attribute.slice(0, eq)] = `<bad percent-encoding ${attribute}>`;
      }
    }
  }
  return { token: out['token'], object: out['object'] };
}

/** The labels of the private keys on the token, as pkcs11-tool prints them (one line each). */
async function tokenObjects(sandbox: Sandbox, tokenLabel: string): Promise<string> {
  return mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', tokenLabel, '--login', '--pin', 'env:HSM_CA_PIN', '--list-objects'], { env: sandbox.env });
}

function privateKeyLabels(listing: string): string[] {
  return listing
    .split(/\n(?=\S)/)
    .filter((block) => block.startsWith('Private Key Object'))
    .map((block) => /^ {2}label: {6}(.*)$/m.exec(block)?.[1] ?? '<no label>') // pkcs11-tool prints "  label:      %s"
    .sort();
}

/** `openssl ca -status` reads `database = $dir/index.txt`: it finds the serial only if `dir` is the real CA directory. */
async function caStatus(config: string, serial: string): Promise<string> {
  const result = await exec('openssl', ['ca', '-config', config, '-status', serial]);
  const found = new RegExp(`^${serial}=(.*)$`, 'm').exec(result.stderr + result.stdout)?.[1];
  return found ?? `not found: ${(result.stderr + result.stdout).trim().split('\n').slice(-2).join(' | ')}`;
}

/** A refusal as the brief defines it: exit 2, nothing on stdout, one stderr line naming the option. */
function refusal(result: Result, option: string): { code: number; stdout: string; stderrLines: string[]; namesOption: boolean } {
  const stderrLines = result.stderr.replace(/\n$/, '').split('\n');
  const named = new RegExp(`${option}(?![-\\w])`);
  return { code: result.code, stdout: result.stdout, stderrLines, namesOption: stderrLines.length === 1 && named.test(stderrLines[0]!) };
}

function expectRefusal(result: Result, option: string): void {
  expect(refusal(result, option)).toEqual({ code: 2, stdout: '', stderrLines: [expect.stringMatching(/^hsm-openssl-ca: \S/)], namesOption: true });
}

const sandboxes: Sandbox[] = [];
async function sandboxFor(tokenLabel = 'CA Token'): Promise<Sandbox & { runEnv: NodeJS.ProcessEnv }> {
  const sandbox = await makeSandbox({ tokenLabel, pin: PIN });
  sandboxes.push(sandbox);
  return { ...sandbox, runEnv: { ...sandbox.env, HOME: HOME_MARKER } };
}

afterAll(async () => {
  for (const sandbox of sandboxes) await sandbox.cleanup();
});

// ---------------------------------------------------------------------------------------------------
// Accepted values: whole ceremonies, every value in several fields, as a token label and as key labels.

interface CaSpec {
  readonly name: string;
  readonly tokenLabel: string;
  readonly subject: { readonly country?: string; readonly state?: string; readonly org: string; readonly orgUnit: string };
  readonly rootCn: string;
  readonly intermediateCn: string;
  readonly rootLabel: string;
  readonly intermediateLabel: string;
  /** CA directory name under the sandbox; default `ca`. */
  readonly dirName?: string;
  /** A directory under the sandbox holding a symlink to OpenSC's pkcs11-spy.so, passed as --module. */
  readonly moduleDirName?: string;
}

const SPECS: CaSpec[] = [
  ...TOKEN_LABELS.map(
    (tokenLabel, i): CaSpec => ({
      name: `CA ${i + 1} (token ${JSON.stringify(tokenLabel)})`,
      tokenLabel,
      subject: { country: [undefined, 'US', 'DE'][i % 3], state: ACCEPTED[i % N]!, org: ACCEPTED[(i + 4) % N]!, orgUnit: ACCEPTED[(i + 8) % N]! },
      rootCn: ACCEPTED[(i + 12) % N]!,
      intermediateCn: ACCEPTED[(i + 16) % N]!,
      rootLabel: ACCEPTED[(i + 2) % N]!,
      intermediateLabel: ACCEPTED[(i + 3) % N]!,
    }),
  ),
  {
    name: '--module in a directory named with $ # quotes backslash and ${ENV::HOME}',
    tokenLabel: 'CA Token',
    subject: { org: 'Module Path Test', orgUnit: 'OU $x', state: 'ST #y' },
    rootCn: 'Module Root',
    intermediateCn: 'Module Intermediate',
    rootLabel: 'root',
    intermediateLabel: 'intermediate',
    moduleDirName: 'lib$x#y ${ENV::HOME} \'q\' "d" b\\s',
  },
  {
    name: '--dir with $ # spaces quotes backslash ${dir} and $(ENV::HOME)',
    tokenLabel: 'CA Token',
    subject: { country: 'JP', org: 'Dir Path Test', orgUnit: '${dir}' },
    rootCn: '$dir Root',
    intermediateCn: '$dir Intermediate',
    rootLabel: 'root $dir',
    intermediateLabel: 'intermediate #1',
    dirName: 'ca $x #y ${dir} $(ENV::HOME) \'q\' "d" b\\s [ s ] ;=',
  },
];

interface CaRun {
  readonly sandbox: Sandbox;
  readonly dir: string;
  readonly module: string;
  readonly spyLog?: string;
  readonly steps: Array<{ step: string; result: Result }>;
}

async function ceremony(spec: CaSpec): Promise<CaRun> {
  const sandbox = await sandboxFor(spec.tokenLabel);
  const dir = join(sandbox.root, spec.dirName ?? 'ca');
  let module = SOFTHSM_MODULE;
  let env = sandbox.runEnv;
  let spyLog: string | undefined;
  if (spec.moduleDirName !== undefined) {
    await mkdir(join(sandbox.root, spec.moduleDirName));
    module = join(sandbox.root, spec.moduleDirName, 'libpkcs11-spy.so');
    await symlink(SPY_MODULE, module);
    spyLog = join(sandbox.root, 'spy.log');
    env = { ...env, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog };
  }
  const { subject } = spec;
  const steps: CaRun['steps'] = [];
  const csr = await makeCsr(sandbox.root, 'www');
  const plan: Array<[string, string[]]> = [
    [
      'init',
      [
        'init', '--dir', dir, '--module', module, '--token', spec.tokenLabel, '--key-type', KEY_TYPE,
        '--org', subject.org, '--org-unit', subject.orgUnit, '--root-cn', spec.rootCn, '--intermediate-cn', spec.intermediateCn,
        ...(subject.country !== undefined ? ['--country', subject.country] : []),
        ...(subject.state !== undefined ? ['--state', subject.state] : []),
      ],
    ],
    ['root', ['root', '--dir', dir, '--label', spec.rootLabel]],
    ['intermediate', ['intermediate', '--dir', dir, '--label', spec.intermediateLabel]],
    ['server', ['server', csr, '--dir', dir, '--out', join(sandbox.root, 'www.crt')]],
  ];
  for (const [step, args] of plan) {
    const result = await run(args, env);
    steps.push({ step, result });
    if (result.code !== 0) break;
  }
  return { sandbox, dir, module, spyLog, steps };
}

// ---------------------------------------------------------------------------------------------------
// Refused values at init: a fresh (or pre-existing) CA directory that must stay as it was.

interface InitCase {
  readonly title: string;
  readonly option: string;
  readonly args: (dir: string) => string[];
  /** A CA directory that is the refused value itself (--dir cases). */
  readonly dirName?: string;
}

const INIT_BASE = (dir: string): string[] => ['init', '--dir', dir, '--token', 'CA Token', '--org', 'Org', '--key-type', KEY_TYPE];

/** Tab and DEL go through the same check as newline and CR: tried on --org, --module and --dir only, to keep the suite short. */
const RARE_CONTROLS = new Set(['tab', 'DEL']);

const INIT_CASES: InitCase[] = [
  ...['--org', '--org-unit', '--state', '--root-cn', '--intermediate-cn', '--token'].flatMap((option) =>
    REFUSED.filter(([what]) => option === '--org' || !RARE_CONTROLS.has(what)).map(
      ([what, value]): InitCase => ({ title: `${option} with ${what}`, option, args: (dir) => [...INIT_BASE(dir), option, value] }),
    ),
  ),
  ...REFUSED.map(([what, value]): InitCase => ({
    title: `--module with ${what}`,
    option: '--module',
    args: (dir) => [...INIT_BASE(dir), '--module', what === 'leading space' ? ` ${SOFTHSM_MODULE}` : what === 'trailing space' ? `${SOFTHSM_MODULE} ` : `${SOFTHSM_MODULE}${value.slice(1)}`],
  })),
  ...(['--org', '--org-unit', '--root-cn', '--intermediate-cn'] as const).flatMap((option): InitCase[] => [
    { title: `${option} of 65 characters`, option, args: (dir) => [...INIT_BASE(dir), option, 'x'.repeat(65)] },
    { title: `${option} of 65 non-ASCII characters`, option, args: (dir) => [...INIT_BASE(dir), option, 'ü'.repeat(65)] },
  ]),
  { title: '--state of 129 characters', option: '--state', args: (dir) => [...INIT_BASE(dir), '--state', 'x'.repeat(129)] },
  { title: '--token of 33 bytes', option: '--token', args: (dir) => [...INIT_BASE(dir), '--token', 'x'.repeat(33)] },
  { title: '--token of 17 characters, 34 bytes', option: '--token', args: (dir) => [...INIT_BASE(dir), '--token', 'ü'.repeat(17)] },
  { title: '--org empty', option: '--org', args: (dir) => ['init', '--dir', dir, '--token', 'CA Token', '--org', '', '--key-type', KEY_TYPE] },
  ...['U$', 'USA', 'us', '#U', 'U\n', 'Ü'].map((value): InitCase => ({ title: `--country ${JSON.stringify(value)}`, option: '--country', args: (dir) => [...INIT_BASE(dir), '--country', value] })),
  ...REFUSED.filter(([what]) => what !== 'leading space').map(([what, value]): InitCase => ({
    title: `--dir with ${what}`,
    option: '--dir',
    dirName: `ca${value}`,
    args: (dir) => INIT_BASE(dir),
  })),
];

interface InitRun {
  readonly result: Result;
  readonly dir: string;
  /** The directory holding the CA directory: nothing may appear in it. */
  readonly listingBefore: string[];
  readonly listingAfter: string[];
  /** A pre-existing CA directory (every other case) must stay byte-identical. */
  readonly before?: Record<string, string>;
  readonly after?: Record<string, string>;
}

async function refusedInit(sandbox: Sandbox & { runEnv: NodeJS.ProcessEnv }, testCase: InitCase, index: number): Promise<InitRun> {
  const parent = join(sandbox.root, `init-${index}`);
  await mkdir(parent);
  const preExisting = testCase.dirName === undefined && index % 2 === 1;
  const dir = join(parent, testCase.dirName ?? 'ca');
  let before: Record<string, string> | undefined;
  if (preExisting) {
    await mkdir(dir);
    await writeFile(join(dir, 'keep.txt'), 'an existing directory\n');
    before = await treeHash(dir);
  }
  const listingBefore = (await readdir(parent)).sort();
  const result = await run(testCase.args(dir), sandbox.runEnv);
  const listingAfter = (await readdir(parent)).sort();
  return { result, dir, listingBefore, listingAfter, before, after: preExisting ? await treeHash(dir).catch(() => ({})) : undefined };
}

// ---------------------------------------------------------------------------------------------------
// Refused overrides on root / intermediate / server: --module, --token and --label reach the engine
// config and the key URIs in sign_*.ini too.

interface OverrideCase {
  readonly command: 'root' | 'intermediate' | 'server';
  readonly option: string;
  readonly what: string;
  readonly value: string;
}

/**
 * --module values are paths below the sandbox (the command runs there) that exist: symlinks to SoftHSM2,
 * so that the refusal cannot just be "no such file". Only a relative path can start with a space.
 */
const OVERRIDE_VALUES: Record<string, ReadonlyArray<readonly [string, string]>> = {
  '--module': [
    ['newline + .include', 'mod\n.include /etc/ssl/openssl.cnf/libsofthsm2.so'],
    ['newline + MODULE_PATH', 'mod\nMODULE_PATH = /tmp/evil.so/libsofthsm2.so'],
    ['carriage return', 'mod\r/libsofthsm2.so'],
    ['leading space', ' libsofthsm2.so'],
    ['trailing space', 'libsofthsm2.so '],
  ],
  '--token': [
    ['newline + basicConstraints', 'CA Token\nbasicConstraints = critical,CA:TRUE'],
    ['newline + .include', 'CA Token\n.include /etc/ssl/openssl.cnf'],
    ['carriage return', 'CA Token\r'],
    ['leading space', ' CA Token'],
    ['trailing space', 'CA Token '],
  ],
  '--label': [
    ['newline + basicConstraints', 'key\nbasicConstraints = critical,CA:TRUE'],
    ['newline + .include', 'key\n.include /etc/ssl/openssl.cnf'],
    ['carriage return', 'key\r'],
    ['leading space', ' key'],
    ['trailing space', 'key '],
  ],
};

const OVERRIDE_CASES: OverrideCase[] = (['root', 'intermediate', 'server'] as const).flatMap((command) =>
  (command === 'server' ? ['--module', '--token'] : ['--module', '--token', '--label']).flatMap((option) =>
    OVERRIDE_VALUES[option]!.map(([what, value]) => ({ command, option, what, value })),
  ),
);

interface OverrideRun {
  readonly result: Result;
  /** The new key recorded in the settings when the run succeeded. */
  readonly newKey?: { label?: string; token?: string; object?: string };
  readonly treeChanged: string[];
  readonly keysBefore: string[];
  readonly keysAfter: string[];
}

/** Runs each case against a CA at the right stage; whatever a case changes is restored before the next. */
async function overrides(command: OverrideCase['command']): Promise<Map<OverrideCase, OverrideRun>> {
  const sandbox = await sandboxFor();
  const dir = sandbox.caDir;
  const setup: string[][] = [['init', '--dir', dir, '--token', 'CA Token', '--org', 'Org', '--key-type', KEY_TYPE]];
  if (command !== 'root') setup.push(['root', '--dir', dir]);
  if (command === 'server') setup.push(['intermediate', '--dir', dir]);
  for (const args of setup) {
    const result = await run(args, sandbox.runEnv);
    if (result.code !== 0) throw new Error(`setup ${args[0]} exited ${result.code}: ${result.stderr}`);
  }
  const csr = await makeCsr(sandbox.root, 'override');
  for (const [, path] of OVERRIDE_VALUES['--module']!) {
    await mkdir(dirname(join(sandbox.root, path)), { recursive: true });
    await symlink(SOFTHSM_MODULE, join(sandbox.root, path));
  }
  const backup = join(sandbox.root, 'backup');
  await cp(dir, join(backup, 'ca'), { recursive: true });
  await cp(join(sandbox.root, 'tokens'), join(backup, 'tokens'), { recursive: true });
  const before = await treeHash(dir);
  const keysBefore = privateKeyLabels(await tokenObjects(sandbox, 'CA Token'));
  const out = new Map<OverrideCase, OverrideRun>();
  for (const testCase of OVERRIDE_CASES.filter((c) => c.command === command)) {
    const args = command === 'server' ? ['server', csr, '--dir', dir, '--out', join(sandbox.root, 'override.crt')] : [command, '--dir', dir];
    const value = testCase.option === '--module' && !testCase.value.startsWith(' ') ? join(sandbox.root, testCase.value) : testCase.value;
    const result = await run([...args, testCase.option, value], sandbox.runEnv, sandbox.root);
    const after = await treeHash(dir).catch(() => ({}) as Record<string, string>);
    const treeChanged = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((path) => before[path] !== after[path]).map((path) => path.slice(dir.length) || '/');
    if (existsSync(join(sandbox.root, 'override.crt'))) treeChanged.push('(the --out certificate)');
    const keysAfter = privateKeyLabels(await tokenObjects(sandbox, 'CA Token'));
    let newKey: OverrideRun['newKey'];
    if (result.code === 0 && command !== 'server') {
      const settings = JSON.parse(await readFile(join(dir, 'hsm-openssl-ca.json'), 'utf8'));
      const key = command === 'root' ? settings.rootKey : settings.intermediateKey;
      newKey = { label: key?.label, ...uriLabels(key?.uri ?? '') };
    }
    out.set(testCase, { result, treeChanged, keysBefore, keysAfter, newKey });
    if (treeChanged.length > 0 || keysAfter.join('\n') !== keysBefore.join('\n')) {
      await rm(dir, { recursive: true, force: true });
      await rm(join(sandbox.root, 'tokens'), { recursive: true, force: true });
      await rm(join(sandbox.root, 'override.crt'), { force: true });
      await cp(join(backup, 'ca'), dir, { recursive: true });
      await cp(join(backup, 'tokens'), join(sandbox.root, 'tokens'), { recursive: true });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

const caRuns = new Map<CaSpec, CaRun | Error>();
const initRuns = new Map<InitCase, InitRun | Error>();
const overrideRuns = new Map<OverrideCase, OverrideRun | Error>();

beforeAll(async () => {
  const initSandbox = await sandboxFor();
  await Promise.all([
    ...SPECS.map(async (spec) => caRuns.set(spec, await ceremony(spec).catch((error: Error) => error))),
    ...INIT_CASES.map(async (testCase, index) => initRuns.set(testCase, await refusedInit(initSandbox, testCase, index).catch((error: Error) => error))),
    ...(['root', 'intermediate', 'server'] as const).map(async (command) => {
      try {
        for (const [testCase, outcome] of await overrides(command)) overrideRuns.set(testCase, outcome);
      } catch (error) {
        for (const testCase of OVERRIDE_CASES.filter((c) => c.command === command)) overrideRuns.set(testCase, error as Error);
      }
    }),
  ]);
}, 600_000);

function outcome<T>(value: T | Error | undefined): T {
  if (value === undefined) throw new Error('not run');
  if (value instanceof Error) throw value;
  return value;
}

describe('accepted values come out of the certificates exactly as given', () => {
  it('the corpus is what it claims to be', () => {
    expect(ACCEPTED.at(-2)).toHaveLength(64);
    expect([...ACCEPTED.at(-1)!]).toHaveLength(64);
    expect(Buffer.byteLength(ACCEPTED.at(-1)!)).toBe(128);
    expect(TOKEN_LABELS).toHaveLength(N - 2);
    // Every value lands in at least three of the five subject fields across the CAs (besides token and key labels).
    const fields = ['state', 'org', 'orgUnit', 'rootCn', 'intermediateCn'] as const;
    const counts: Record<string, number> = {};
    for (const value of ACCEPTED) {
      const used = new Set(SPECS.flatMap((spec) => fields.filter((field) => (field === 'rootCn' || field === 'intermediateCn' ? spec[field] : spec.subject[field]) === value)));
      counts[value] = used.size;
    }
    expect(Object.entries(counts).filter(([, count]) => count < 3)).toEqual([]);
  });

  for (const spec of SPECS) {
    describe(spec.name, () => {
      it('init, root, intermediate and a server signing succeed', () => {
        const run = outcome(caRuns.get(spec));
        expect(run.steps.map(({ step, result }) => ({ step, code: result.code, stderr: result.code === 0 ? '' : result.stderr }))).toEqual(
          ['init', 'root', 'intermediate', 'server'].map((step) => ({ step, code: 0, stderr: '' })),
        );
      });

      it('the root and intermediate subjects are the given values, byte for byte', async () => {
        const run = outcome(caRuns.get(spec));
        const root = await certificateNames(join(run.dir, 'certs/root.crt'));
        const intermediate = await certificateNames(join(run.dir, 'intermediate/certs/intermediate.crt'));
        const rootName = expectedName(spec.subject, spec.rootCn);
        expect(root).toEqual({ subject: rootName, issuer: rootName });
        expect(intermediate).toEqual({ subject: expectedName(spec.subject, spec.intermediateCn), issuer: rootName });
      });

      it('the settings, the token and the key URIs in the kept configs carry the token and key labels exactly', async () => {
        const run = outcome(caRuns.get(spec));
        const settings = JSON.parse(await readFile(join(run.dir, 'hsm-openssl-ca.json'), 'utf8'));
        expect({
          module: settings.module,
          token: settings.token,
          subject: settings.subject,
          rootCommonName: settings.rootCommonName,
          intermediateCommonName: settings.intermediateCommonName,
          rootKey: { label: settings.rootKey?.label, ...uriLabels(settings.rootKey?.uri ?? '') },
          intermediateKey: { label: settings.intermediateKey?.label, ...uriLabels(settings.intermediateKey?.uri ?? '') },
        }).toEqual({
          module: run.module,
          token: spec.tokenLabel,
          subject: {
            ...(spec.subject.country !== undefined ? { country: spec.subject.country } : {}),
            ...(spec.subject.state !== undefined ? { state: spec.subject.state } : {}),
            organization: spec.subject.org,
            organizationalUnit: spec.subject.orgUnit,
          },
          rootCommonName: spec.rootCn,
          intermediateCommonName: spec.intermediateCn,
          rootKey: { label: spec.rootLabel, token: spec.tokenLabel, object: spec.rootLabel },
          intermediateKey: { label: spec.intermediateLabel, token: spec.tokenLabel, object: spec.intermediateLabel },
        });
        expect(privateKeyLabels(await tokenObjects(run.sandbox, spec.tokenLabel))).toEqual([spec.rootLabel, spec.intermediateLabel].sort());
        // private_key lines of every kept config, read the way OpenSSL reads them, then percent-decoded.
        const keys: Array<{ token?: string; object?: string }> = [];
        for (const file of await readdir(join(run.dir, 'config'))) {
          for (const uri of configValues(await readFile(join(run.dir, 'config', file), 'utf8'), 'private_key')) keys.push(uriLabels(uri));
        }
        expect(keys).toEqual(
          expect.arrayContaining([
            { token: spec.tokenLabel, object: spec.rootLabel },
            { token: spec.tokenLabel, object: spec.intermediateLabel },
          ]),
        );
      });

      it('every kept config reads `dir` as the real CA directory (openssl ca -status finds the issued serials)', async () => {
        const run = outcome(caRuns.get(spec));
        const intermediateSerial = await serialOf(join(run.dir, 'intermediate/certs/intermediate.crt'));
        const serverSerial = await serialOf(join(run.sandbox.root, 'www.crt'));
        const statuses: Record<string, string> = {};
        const dirs: Record<string, string[]> = {};
        for (const file of (await readdir(join(run.dir, 'config'))).sort()) {
          const path = join(run.dir, 'config', file);
          const text = await readFile(path, 'utf8');
          if (!/^\s*database\s*=/m.test(text)) continue;
          dirs[file] = configValues(text, 'dir');
          const forIntermediateDb = dirs[file]!.some((dir) => dir.endsWith('/intermediate'));
          statuses[file] = await caStatus(path, forIntermediateDb ? serverSerial : intermediateSerial);
        }
        expect(Object.keys(statuses).length).toBeGreaterThanOrEqual(3); // create_root_cert, sign_intermediate_csr, the server config
        expect(statuses).toEqual(Object.fromEntries(Object.keys(statuses).map((file) => [file, 'Valid (V)'])));
        for (const [file, values] of Object.entries(dirs)) {
          expect([file, values]).toEqual([file, [expect.stringMatching(new RegExp(`^${run.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/intermediate)?$`))]]);
        }
      });

      it('neither HOME nor the PIN appears in any certificate, file of the CA directory or output', async () => {
        const run = outcome(caRuns.get(spec));
        const texts = [
          await allFileText(run.dir),
          searchableText(await Cert.load(join(run.dir, 'certs/root.crt'))),
          searchableText(await Cert.load(join(run.dir, 'intermediate/certs/intermediate.crt'))),
          searchableText(await Cert.load(join(run.sandbox.root, 'www.crt'))),
          ...run.steps.flatMap(({ result }) => [result.stdout, result.stderr]),
        ].join('\n');
        expect({ home: texts.includes(HOME_MARKER), pin: texts.includes(PIN) }).toEqual({ home: false, pin: false });
      });

      if (spec.moduleDirName !== undefined) {
        it('openssl loaded the module from the given path (its signatures went through pkcs11-spy)', async () => {
          const run = outcome(caRuns.get(spec));
          // Without a usable MODULE_PATH libp11 falls back to p11-kit-proxy, which reaches SoftHSM2 directly:
          // only the spy's log shows that openssl used the path from the config.
          const log = await readFile(run.spyLog!, 'utf8');
          expect((log.match(/^\d+: C_Sign$/gm) ?? []).length).toBeGreaterThanOrEqual(4); // root, CSR, intermediate, server
        });
      }
    });
  }
});

describe('refused values at init: exit 2, one line naming the option, nothing written', () => {
  for (const testCase of INIT_CASES) {
    it(testCase.title, () => {
      const run = outcome(initRuns.get(testCase));
      expectRefusal(run.result, testCase.option);
      expect({ listing: run.listingAfter, tree: run.after }).toEqual({ listing: run.listingBefore, tree: run.before });
    });
  }
});

describe('refused --module / --token / --label on root, intermediate and server: exit 2, one line, nothing written', () => {
  for (const testCase of OVERRIDE_CASES) {
    /*
     * A key label is not itself a config value: it reaches sign_*.ini percent-encoded in the key URI, so a
     * label with an edge space can come out exactly (on the token, in the settings and as object=), and
     * either that or a refusal is right. Control characters are refused: they cannot be shown in the
     * tool's one-line messages, and they break pkcs11-tool's object listing.
     */
    const spaceInLabel = testCase.option === '--label' && testCase.what.endsWith('space');
    it(`${testCase.command} ${testCase.option} with ${testCase.what}${spaceInLabel ? ' (refused, or kept exactly)' : ''}`, () => {
      const run = outcome(overrideRuns.get(testCase));
      if (spaceInLabel && run.result.code === 0) {
        expect({ newKey: run.newKey, keysOnToken: run.keysAfter }).toEqual({
          newKey: { label: testCase.value, token: 'CA Token', object: testCase.value },
          keysOnToken: [...run.keysBefore, testCase.value].sort(),
        });
        return;
      }
      expect({ ...refusal(run.result, testCase.option), treeChanged: run.treeChanged, keysOnToken: run.keysAfter }).toEqual({
        code: 2,
        stdout: '',
        stderrLines: [expect.stringMatching(/^hsm-openssl-ca: \S/)],
        namesOption: true,
        treeChanged: [],
        keysOnToken: run.keysBefore,
      });
    });
  }
});

describe('NUL', () => {
  it('cannot reach the CLI: argv strings end at NUL, and Node refuses to spawn with one', async () => {
    const error = await new Promise<unknown>((resolve) => {
      try {
        execFile(process.execPath, ['-e', '', '--org', 'a\0b'], (e) => resolve(e));
      } catch (e) {
        resolve(e);
      }
    });
    expect(String(error)).toMatch(/null bytes/);
  });
});

describe('SANs, URLs and name constraints reach the configs escaped', () => {
  let sandbox: Sandbox;
  const crlUrl = 'http://pki.example.test/$HOME/${ENV::HSM_CA_PIN}/crl#frag';
  const issuersUrl = "http://pki.example.test/it's/\"quoted\"/ca.crt";
  const uriSan = 'https://svc.example.test/a$b/${dir}#c';

  beforeAll(async () => {
    sandbox = await makeSandbox({ pin: '90817263' });
    for (const args of [
      ['init', '--dir', sandbox.caDir, '--token', sandbox.tokenLabel, '--org', 'Url Co', '--key-type', 'EC:secp256r1', '--crl-url', crlUrl, '--ca-issuers-url', issuersUrl],
      ['root', '--dir', sandbox.caDir],
      ['intermediate', '--dir', sandbox.caDir, '--permit-dns', 'example.test'],
    ]) {
      const result = await cli(args, { env: sandbox.env });
      if (result.code !== 0) throw new Error(result.stderr);
    }
  }, 120_000);
  afterAll(() => sandbox.cleanup());

  it('a URI SAN and the CRL / CA-issuer URLs come out byte for byte, nothing expanded', async () => {
    const csr = await makeCsr(sandbox.root, 'svc', { subject: '/CN=svc.example.test' });
    const result = await cli(['server', csr, '--dir', sandbox.caDir, '--profile', 'server-client', '--san', 'DNS:svc.example.test', '--san', `URI:${uriSan}`], { env: sandbox.env });
    expect(result.stderr).not.toMatch(/hsm-openssl-ca:/);
    expect(result.code).toBe(0);
    const cert = await Cert.load(join(sandbox.root, 'svc.crt'));
    expect(cert.subjectAltNames).toContain(`URI:${uriSan}`);
    expect(cert.crlDistributionPoints).toContain(`URI:${crlUrl}`);
    expect(cert.caIssuers).toContain(`URI:${issuersUrl}`);
    const text = searchableText(cert);
    expect(text).not.toContain(sandbox.pin);
    expect(text).not.toContain(process.env['HOME'] ?? '/root');
  });

  it.each([
    ['--san', 'DNS:a.example.test\nbasicConstraints=critical,CA:TRUE', /--san|control character/],
    ['--san', 'URI:https://x.example.test/a b', /not an absolute URI without spaces/],
    ['--san', 'DNS:a.example.test,DNS:evil.test', /label|refused/],
  ])('%s %j is refused before anything is signed', async (option, value, message) => {
    const before = await treeHash(sandbox.caDir);
    const csr = await makeCsr(sandbox.root, `bad${Math.random().toString(16).slice(2, 8)}`, { subject: '/CN=x.example.test' });
    const result = await cli(['server', csr, '--dir', sandbox.caDir, option, value], { env: sandbox.env });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(await treeHash(sandbox.caDir)).toEqual(before);
  });

  it.each([
    ['--crl-url', 'http://a.test/x\nbasicConstraints=CA:TRUE'],
    ['--crl-url', 'http://a.test/a,URI:http://evil.test'],
    ['--ca-issuers-url', 'file:///etc/passwd'],
    ['--root-crl-url', 'http://a.test/ space'],
  ])('init %s %j is refused: exit 2, nothing created', async (option, value) => {
    const dir = join(sandbox.root, `refused-${Math.random().toString(16).slice(2, 8)}`);
    const result = await cli(['init', '--dir', dir, '--token', sandbox.tokenLabel, '--org', 'X', option, value], { env: sandbox.env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(option);
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });

  it('a --permit-dns value that is not a DNS name is refused', async () => {
    const result = await cli(['intermediate', '--dir', sandbox.caDir, '--permit-dns', 'example.test\n[evil]'], { env: sandbox.env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--permit-dns/);
  });
});
