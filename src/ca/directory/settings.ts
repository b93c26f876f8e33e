import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError, UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../fs-atomic.js';
import { DIGESTS, type Digest } from '../../x509/verify.js';
import { opensslConfigValue } from '../../openssl-config.js';
import type { BackendChoice } from '../../openssl/backend.js';

export const SETTINGS_FILE = 'hsm-openssl-ca.json';

/** The default PKCS#11 module: SoftHSM2 as Debian installs it. */
export const DEFAULT_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export const KEY_TYPES = ['EC:secp256r1', 'EC:secp384r1', 'EC:secp521r1', 'rsa:2048', 'rsa:3072', 'rsa:4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export interface Subject {
  readonly country?: string;
  readonly state?: string;
  readonly organization: string;
  readonly organizationalUnit: string;
}

/** The CA's own subject attributes a leaf subject may carry, in the order they are written (CN follows). */
export const LEAF_SUBJECT_ATTRIBUTES = ['C', 'ST', 'O', 'OU'] as const;
export type LeafSubjectAttribute = (typeof LEAF_SUBJECT_ATTRIBUTES)[number];

/** Where each of those attributes comes from in the CA's subject. */
export const LEAF_ATTRIBUTE_VALUE: Record<LeafSubjectAttribute, (subject: Subject) => string | undefined> = {
  C: (subject) => subject.country,
  ST: (subject) => subject.state,
  O: (subject) => subject.organization,
  OU: (subject) => subject.organizationalUnit,
};

/** A key this CA generated on the token. */
export interface TokenKey {
  readonly label: string;
  readonly idHex: string;
  /** RFC 7512 URI with token, id= and object=, as openssl gets it. */
  readonly uri: string;
}

export interface Settings {
  readonly version: 1;
  readonly module: string;
  readonly token: string;
  /** An offline root's own token (defaults: module and token above). */
  readonly rootModule?: string;
  readonly rootToken?: string;
  readonly subject: Subject;
  /**
   * Which of the CA's own subject attributes every leaf subject carries before its CN (`init
   * --leaf-subject O,OU`). Absent (and in settings files older than this field): the CSR's CN alone.
   */
  readonly leafSubject?: readonly LeafSubjectAttribute[];
  readonly rootCommonName: string;
  readonly intermediateCommonName: string;
  /** The key type of both CAs unless one has its own below. */
  readonly keyType: KeyType;
  readonly rootKeyType?: KeyType;
  readonly intermediateKeyType?: KeyType;
  /** A digest both CAs sign with; absent, each CA signs with the digest that fits its key (digestFor). */
  readonly digest?: Digest;
  /** How openssl reaches the token; absent means auto. */
  readonly backend?: BackendChoice;
  readonly rootKey?: TokenKey;
  readonly intermediateKey?: TokenKey;
  /** CRL Distribution Point put into every certificate the intermediate issues (its CRL's URL). */
  readonly crlUrl?: string;
  /** Authority Information Access caIssuers put into every certificate the intermediate issues. */
  readonly caIssuersUrl?: string;
  /** CRL Distribution Point put into the intermediate's certificate (the root's CRL's URL). */
  readonly rootCrlUrl?: string;
  /** Name constraints of the intermediate, decided when it is created. */
  readonly nameConstraints?: NameConstraints;
  /**
   * The intermediate's earlier keys, oldest first, each replaced by `intermediate --rekey`. Generation N
   * (the first is 1, the current one is this list's length + 1) publishes its own CRL at its own URL.
   */
  readonly previousIntermediates?: readonly PreviousIntermediate[];
}

/**
 * An earlier key of the intermediate: it signs no certificate any more, only the CRLs that cover what it
 * issued, until its last certificate expires — clients check a CRL against the key that signed the leaf.
 */
export interface PreviousIntermediate {
  readonly key: TokenKey;
  readonly keyType: KeyType;
  /** Its last certificate, kept as intermediate/certs/intermediate-SERIAL.crt; a path relative to the CA directory. */
  readonly certificate: string;
  /** The CRL Distribution Point the certificates it issued carry, if any. */
  readonly crlUrl?: string;
  /** Their Authority Information Access caIssuers URL, if any. */
  readonly caIssuersUrl?: string;
}

/** The generation of the intermediate's current key: 1 until the first `intermediate --rekey`. */
export function intermediateGeneration(settings: Settings): number {
  return (settings.previousIntermediates?.length ?? 0) + 1;
}

export interface NameConstraints {
  readonly dns: readonly string[];
  /** CIDR ranges, e.g. 10.0.0.0/8 or fd00::/8. */
  readonly ip: readonly string[];
  /** DNS subtrees excluded (--exclude-dns; only for a foreign intermediate, never stored in the settings). */
  readonly excludedDns?: readonly string[];
}

/** Refuses a value that cannot reach an OpenSSL config faithfully, naming the option. */
export function requireConfigSafe(option: string, value: string): void {
  opensslConfigValue(value, option);
}

export function parseKeyType(value: string, option = '--key-type'): KeyType {
  const match = KEY_TYPES.find((type) => type.toLowerCase() === value.toLowerCase() || (value.toLowerCase() === 'ec:prime256v1' && type === 'EC:secp256r1'));
  if (!match) throw new UsageError(`${option} ${value} is not supported; choose one of ${KEY_TYPES.join(', ')}`);
  return match;
}

export type CaRole = 'root' | 'intermediate';

/** The key type of one CA. */
export function caKeyType(settings: Settings, role: CaRole): KeyType {
  return (role === 'root' ? settings.rootKeyType : settings.intermediateKeyType) ?? settings.keyType;
}

/**
 * The digest that fits a key: the hash as strong as the curve (Mozilla's root store policy allows P-256
 * only with SHA-256 and P-384 only with SHA-384), and SHA-256 for RSA, which every client accepts.
 */
export function digestFor(keyType: KeyType): Digest {
  return FITTING_DIGEST[keyType];
}

const FITTING_DIGEST: Record<KeyType, Digest> = {
  'EC:secp256r1': 'sha256',
  'EC:secp384r1': 'sha384',
  'EC:secp521r1': 'sha512',
  'rsa:2048': 'sha256',
  'rsa:3072': 'sha256',
  'rsa:4096': 'sha256',
};

/** Whether a digest fits a key: any SHA-2 for RSA, the curve's own for EC. */
export function digestFits(digest: Digest, keyType: KeyType): boolean {
  return keyType.startsWith('rsa:') || digest === digestFor(keyType);
}

/** The digest one CA signs with: the settings' explicit one, else the one that fits its key. */
export function caDigest(settings: Settings, role: CaRole): Digest {
  return settings.digest ?? digestFor(caKeyType(settings, role));
}

/** "root EC:secp384r1 sha384, intermediate EC:secp256r1 sha256", for reports and the audit log. */
export function describeKeys(settings: Settings): string {
  return (['root', 'intermediate'] as CaRole[]).map((role) => `${role} ${caKeyType(settings, role)} ${caDigest(settings, role)}`).join(', ');
}

export function parseDigest(value: string): Digest {
  const digest = value.toLowerCase().replace(/^-/, '');
  if (!(DIGESTS as readonly string[]).includes(digest)) throw new UsageError(`--digest ${value} is not allowed; choose one of ${DIGESTS.join(', ')} (SHA-1 is deprecated)`);
  return digest as Digest;
}

/** Validates every subject and token value before anything is written. */
export function validateSettings(settings: Settings): void {
  const { subject } = settings;
  if (subject.country !== undefined && !/^[A-Z]{2}$/.test(subject.country)) {
    throw new UsageError(`--country "${subject.country}" must be a two-letter ISO 3166 code such as US or DE`);
  }
  const fields: Array<[string, string | undefined, number]> = [
    ['--state', subject.state, 128],
    ['--org', subject.organization, 64],
    ['--org-unit', subject.organizationalUnit, 64],
    ['--root-cn', settings.rootCommonName, 64],
    ['--intermediate-cn', settings.intermediateCommonName, 64],
  ];
  for (const [option, value, max] of fields) {
    if (value === undefined) continue;
    if (value.length === 0) throw new UsageError(`${option} is empty`);
    if ([...value].length > max) throw new UsageError(`${option} "${value}" is longer than ${max} characters (the X.509 upper bound)`);
    requireConfigSafe(option, value);
  }
  for (const [option, url] of [['--crl-url', settings.crlUrl], ['--ca-issuers-url', settings.caIssuersUrl], ['--root-crl-url', settings.rootCrlUrl]] as const) {
    if (url !== undefined) requirePublicationUrl(option, url);
  }
  if (settings.leafSubject) parseLeafSubject(settings.leafSubject.join(','), subject);
  requireTokenLabel('--token', settings.token);
  requireModulePath('--module', settings.module);
  if (settings.rootToken !== undefined) requireTokenLabel('--root-token', settings.rootToken);
  if (settings.rootModule !== undefined) requireModulePath('--root-module', settings.rootModule);
}

/** Parses `--leaf-subject O,OU`: known attributes the CA's own subject has, each once, put in X.509 order. */
export function parseLeafSubject(text: string, subject: Subject): LeafSubjectAttribute[] {
  const names = text.split(',').map((name) => name.trim().toUpperCase()).filter((name) => name !== '');
  const unknown = names.find((name) => !(LEAF_SUBJECT_ATTRIBUTES as readonly string[]).includes(name));
  if (unknown !== undefined) throw new UsageError(`--leaf-subject ${text}: ${unknown} is not one of ${LEAF_SUBJECT_ATTRIBUTES.join(', ')} (the CA's own attributes a leaf may carry; the CN always comes from the CSR)`);
  const chosen = LEAF_SUBJECT_ATTRIBUTES.filter((name) => names.includes(name));
  const missing = chosen.find((name) => LEAF_ATTRIBUTE_VALUE[name](subject) === undefined);
  if (missing !== undefined) throw new UsageError(`--leaf-subject ${text}: the CA's subject has no ${missing}; pass ${missing === 'C' ? '--country' : '--state'} too or leave ${missing} out`);
  return chosen;
}

export async function readSettings(dir: string): Promise<Settings> {
  const path = join(dir, SETTINGS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new CaError(`no CA in ${dir} (${SETTINGS_FILE} not found); run \`hsm-openssl-ca init --dir ${dir} …\` first or pass --dir`);
  }
  try {
    const settings = JSON.parse(text) as Settings;
    if (settings.version !== 1) throw new Error(`unknown version ${String(settings.version)}`);
    return settings;
  } catch (error) {
    throw new CaError(`${path} is not a readable settings file (${(error as Error).message}); restore it from your backup`);
  }
}

export async function writeSettings(dir: string, settings: Settings): Promise<void> {
  const { path, data } = settingsWrite(dir, settings);
  await writeFileAtomic(path, data);
}

/** The settings file as one write of a journalled change. */
export function settingsWrite(dir: string, settings: Settings): { path: string; data: string } {
  return { path: join(dir, SETTINGS_FILE), data: `${JSON.stringify(settings, null, 2)}\n` };
}

/**
 * A URL for CRL Distribution Points or Authority Information Access: http(s) or ldap, printable ASCII,
 * no commas (OpenSSL splits these extension values at commas).
 */
export function requirePublicationUrl(option: string, url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:', 'ldap:'].includes(parsed.protocol) || !/^[\x21-\x7e]+$/.test(url) || url.includes(',')) {
    throw new UsageError(`${option} "${url}" must be an http(s) or ldap URL without spaces or commas`);
  }
  requireConfigSafe(option, url);
}

/** A token label: what fits the 32-byte PKCS#11 label field and can reach a config faithfully. */
export function requireTokenLabel(option: string, label: string): void {
  if (label.length === 0) throw new UsageError(`${option} is empty`);
  requireConfigSafe(option, label);
  if (Buffer.byteLength(label) > 32) throw new UsageError(`${option} "${label}" is longer than 32 bytes, the PKCS#11 label size`);
}

/** A module path: absolute, and safe for the engine config's MODULE_PATH line. */
export function requireModulePath(option: string, path: string): void {
  requireConfigSafe(option, path);
  if (!path.startsWith('/')) throw new UsageError(`${option} "${path}" must be an absolute path to a PKCS#11 library (.so)`);
}

/** A key label on the token: printable, no edge spaces (p11tool trims them), at most 64 characters. */
export function requireKeyLabel(option: string, label: string): void {
  if (label.length === 0) throw new UsageError(`${option} is empty`);
  requireConfigSafe(option, label);
  if ([...label].length > 64) throw new UsageError(`${option} "${label}" is longer than 64 characters`);
}
