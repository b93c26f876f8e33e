import { randomBytes } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { CaError, ToolFailedError, ToolMissingError, WrongPinError } from '../../errors.js';
import { formatPkcs11Uri, parsePkcs11Uri, privateKeyUri, uriIdHex, uriText, withoutNulPadding, type Pkcs11Uri } from '../../pkcs11/uri.js';
import * as p11tool from '../../tools/p11tool.js';
import type { P11toolToken } from '../../tools/parse/p11tool.js';
import * as pkcs11Tool from '../../tools/pkcs11-tool.js';
import type { Runner } from '../../tools/run.js';
import type { TokenRole } from '../directory/context.js';
import { guardPin, type PinConsent } from './pin-state.js';
import { pinState, type PinState } from '../../pkcs11/pin-state.js';
import type { KeyType, TokenKey } from '../directory/settings.js';
import { readPin } from '../../terminal.js';

const REQUIRED_TOOLS: Array<[string, string]> = [
  ['openssl', 'openssl'],
  ['pkcs11-tool', 'opensc'],
  ['p11tool', 'gnutls-bin'],
];

/** Fails before any token access when one of the programs is not installed. */
export async function requireTools(): Promise<void> {
  const path = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  for (const [tool, pkg] of REQUIRED_TOOLS) {
    const found = await Promise.any(path.map((dir) => access(join(dir, tool), constants.X_OK))).then(
      () => true,
      () => false,
    );
    if (!found) throw new ToolMissingError(tool, pkg);
  }
}

/** A token found by label on a loaded module. */
export interface Token {
  readonly run: Runner;
  readonly module: string;
  readonly label: string;
  /** The PIN counters the token reported before this run's first login (undefined: not read). */
  readonly pinState?: PinState;
}

const MODULE_HINT = 'check --module (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so; Nitrokey/SmartCard-HSM: /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so; YubiKey: /usr/lib/x86_64-linux-gnu/libykcs11.so)';

/**
 * Loads the module and finds the token by label, or says which tokens are there; refuses a token whose
 * user PIN is locked. No login. The token's `run` names the tries left when the token refuses the PIN.
 * One `pkcs11-tool -T` listing answers both, the token and its PIN counters (issue 11: a p11tool listing
 * beside it cost every signing about 40 ms; only making a key needs p11tool's token URL, see findPrivateKeyUri).
 */
export async function openToken(run: Runner, role: Pick<TokenRole, 'module' | 'tokenLabel' | 'role' | 'tokenOption' | 'pinEnv' | 'pinFile'>, consent?: PinConsent): Promise<Token> {
  const { module, tokenLabel: label, tokenOption: option } = role;
  await access(module, constants.R_OK).catch(() => {
    throw new CaError(`PKCS#11 module ${module} does not exist or is not readable; ${MODULE_HINT}`);
  });
  const { tokens, match } = await relisted(() => moduleListing(module, () => pkcs11Tool.listTokenSlots(run, module)), (slot) => slot.tokenLabel, label);
  if (!match) {
    const present = tokens.map((slot) => `'${slot.tokenLabel}'`).join(', ') || 'none';
    throw new CaError(`token '${label}' (${role.role} key) not found on ${module}; tokens present: ${present}; plug the token in, or check ${option}`);
  }
  const state = pinState(match.flags);
  return { run: await guardPin(run, role, state, consent), module, label, pinState: state };
}

/** The pause before the second listing: SoftHSM2 leaves token.object empty only between two system calls. */
const RELIST_PAUSE_MS = 200;

/**
 * A module's tokens and the one labelled `label`, listed a second time after a short pause when the first
 * listing lacks it. SoftHSM2 2.6 rewrites token.object on every login: it truncates the file and releases
 * its lock before writing it back, and a listing that reads the empty file in between shows no token at
 * all (seen when parallel signings share a token). A listing logs in nowhere, so it costs no PIN try.
 * Without a label (doctor with no CA and no --token) the first listing is the answer.
 */
async function relisted<T>(list: () => Promise<T[]>, labelOf: (token: T) => string | undefined, label: string | undefined): Promise<{ tokens: T[]; match: T | undefined }> {
  const labelled = (tokens: T[]) => (label === undefined ? undefined : tokens.find((token) => labelOf(token) === label));
  const first = await list();
  const match = labelled(first);
  if (label === undefined || match) return { tokens: first, match };
  await setTimeout(RELIST_PAUSE_MS);
  const second = await list();
  return { tokens: second, match: labelled(second) };
}

/** The module's tokens as p11tool lists them, with their URLs (doctor, and making a key). */
export async function findToken(run: Runner, module: string, label: string | undefined): Promise<{ tokens: P11toolToken[]; match: P11toolToken | undefined }> {
  return relisted(() => moduleListing(module, () => p11tool.listTokens(run, module)), tokenLabel, label);
}

/** A listing of the module's tokens; a tool that cannot load the module says so with the usual paths. */
async function moduleListing<T>(module: string, list: () => Promise<T[]>): Promise<T[]> {
  return list().catch((error: unknown) => {
    if (error instanceof ToolFailedError) throw new CaError(`PKCS#11 module ${module} could not be loaded (${error.message}); ${MODULE_HINT}`);
    throw error;
  });
}

function tokenLabel(token: P11toolToken): string | undefined {
  return uriText(parsePkcs11Uri(token.url), 'token');
}

/** The token as pkcs11-tool is pointed at it. */
export function session(token: Token): pkcs11Tool.TokenSession {
  return { run: token.run, module: token.module, tokenLabel: token.label };
}

/**
 * Refuses a label or id that is already on the token. pkcs11-tool accepts a duplicate `--id`, and libp11
 * then signs with either key; this is also the run's first login, so a wrong PIN stops here.
 */
async function requireFreeLabel(token: Token, pin: string, label: string, idHex: string): Promise<void> {
  const objects = await pkcs11Tool.listObjects(session(token), pin);
  const sameLabel = objects.find((o) => o.label === label);
  if (sameLabel) {
    throw new CaError(
      `a ${sameLabel.kind.toLowerCase()} labelled '${label}' already exists on token '${token.label}' (id ${sameLabel.idHex ?? 'none'}); never making a second key with the same label — choose another --label, or delete the old key if it is not in use`,
    );
  }
  if (objects.some((o) => o.idHex === idHex)) throw new CaError(`key id ${idHex} is already used on token '${token.label}'; run again to draw another id`);
}

/**
 * Generates a key pair on the token and returns its private-key URI (token, id= and object=), as
 * p11tool lists it. The id is ours (pkcs11-tool makes none without `--id`), but what the tool prints wins.
 */
async function generateCaKey(token: Token, pin: string, keyType: KeyType, label: string, starts: (idHex: string) => Promise<void>): Promise<TokenKey> {
  const requestedId = randomBytes(20).toString('hex');
  await requireFreeLabel(token, pin, label, requestedId);
  await starts(requestedId);
  let idHex = requestedId;
  try {
    const generated = await pkcs11Tool.generateKeyPair(session(token), pin, { keyType, label, idHex: requestedId });
    idHex = generated.privateKey.idHex ?? requestedId;
    return { label, idHex, uri: await findPrivateKeyUri(token, pin, idHex, label, generated.privateKey.uri) };
  } catch (error) {
    // Also after a keygen whose output could not be parsed: the pair exists under the id we gave it.
    if (!(error instanceof WrongPinError)) await removeKeyPair(token, pin, idHex);
    throw error;
  }
}

/**
 * Generates a CA key pair and runs `use` with it and the public key the token holds for it. If `use`
 * fails, the key pair is removed again, so a failed run leaves nothing half-made on the token and a
 * rerun can take the same label. `starts` journals the id just before the token makes the pair: a kill
 * after that is cleaned up by the next run (`removeLeftoverKey`).
 */
export async function withNewCaKey<T>(
  token: Token,
  pin: string,
  key: { keyType: KeyType; label: string; workspace: string; starts: (idHex: string) => Promise<void> },
  use: (key: TokenKey, tokenSpki: Buffer) => Promise<T>,
): Promise<T> {
  const made = await generateCaKey(token, pin, key.keyType, key.label, key.starts);
  try {
    return await use(made, await tokenPublicKey(token, pin, made, key.workspace));
  } catch (error) {
    await removeKeyPair(token, pin, made.idHex);
    throw error;
  }
}

/** Removes the key pair an interrupted key generation left on the token (the journal names its id; it has no certificate). */
export async function removeLeftoverKey(token: Token, pin: string, idHex: string, say: (line: string) => void): Promise<void> {
  say(`removing the key pair (id ${idHex}) an interrupted run generated on token '${token.label}' without making its certificate…`);
  await removeKeyPair(token, pin, idHex);
}

async function removeKeyPair(token: Token, pin: string, idHex: string): Promise<void> {
  for (const type of ['privkey', 'pubkey'] as const) {
    await pkcs11Tool.deleteObject(session(token), pin, type, idHex).catch(() => undefined);
  }
}

/**
 * The key's URI, once p11tool confirms exactly one private key has this id and label: the one OpenSC
 * printed (0.26 and later) when it names them, else the token's URL with id= and object=. OpenSC 0.26
 * prints a multi-byte id as `%e0161c…` (one escape for the whole run), which names another id and is not used.
 */
async function findPrivateKeyUri(token: Token, pin: string, idHex: string, label: string, printed: string | undefined): Promise<string> {
  const { match } = await findToken(token.run, token.module, token.label);
  if (!match) throw new CaError(`p11tool does not list token '${token.label}' on ${token.module} after the key pair was made on it; plug it in again and run the command again`);
  const tokenUrl = formatPkcs11Uri(withoutNulPadding(parsePkcs11Uri(match.url)));
  const urls = await p11tool.listPrivateKeyUrls(token.run, token.module, tokenUrl, pin);
  const matches = urls.map(parsePkcs11Uri).filter((uri) => uriIdHex(uri) === idHex && uriText(uri, 'object') === label);
  if (matches.length !== 1) {
    throw new CaError(`p11tool lists ${matches.length} private keys with id ${idHex} and label '${label}' on token '${token.label}'; expected exactly one`);
  }
  const fromOpenSc = printed === undefined ? undefined : parsedOrUndefined(printed);
  if (fromOpenSc && uriIdHex(fromOpenSc) === idHex && uriText(fromOpenSc, 'object') === label && uriText(fromOpenSc, 'token') === token.label) {
    return formatPkcs11Uri(withoutNulPadding(fromOpenSc));
  }
  return formatPkcs11Uri(privateKeyUri(parsePkcs11Uri(tokenUrl), idHex, label));
}

function parsedOrUndefined(uri: string): Pkcs11Uri | undefined {
  try {
    return parsePkcs11Uri(uri);
  } catch {
    return undefined;
  }
}

/** The public key the token holds for a key pair, as DER SubjectPublicKeyInfo. */
export async function tokenPublicKey(token: Token, pin: string, key: TokenKey, workspace: string): Promise<Buffer> {
  const uri = parsePkcs11Uri(key.uri);
  const publicUri = { path: uri.path.map(([name, value]) => [name, name === 'type' ? Buffer.from('public') : value] as const), query: [] };
  return p11tool.exportPublicKey(token.run, token.module, formatPkcs11Uri(publicUri), pin, join(workspace, `${key.label.replace(/[^\w.-]/g, '_')}.pub.pem`));
}


/** Says which token a step needs — an offline root must be plugged in — then reads that token's PIN. */
export async function pinFor(role: TokenRole, say: (line: string) => void): Promise<string> {
  say(`this step needs token '${role.tokenLabel}' (${role.role} key) on ${role.module}`);
  return readPin({ pinEnv: role.pinEnv, pinFile: role.pinFile, tokenLabel: role.tokenLabel, role: role.role });
}
