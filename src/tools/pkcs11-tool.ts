import type { Runner } from './run.js';
import { parseKeyPairGenerated, parseObjects, parseTokenSlots, type Pkcs11ToolObject, type Pkcs11ToolTokenSlot } from './parse/pkcs11-tool.js';

/** The environment variable a PIN reaches pkcs11-tool through (`--pin env:NAME`): never argv. */
const PIN_VARIABLE = 'HSM_CA_PIN';

export interface TokenSession {
  readonly run: Runner;
  readonly module: string;
  readonly tokenLabel: string;
}

function tokenArgs(session: Pick<TokenSession, 'module' | 'tokenLabel'>): string[] {
  return ['--module', session.module, '--token-label', session.tokenLabel];
}

/** The slots of a module that hold a token, with each token's flags (PIN counters among them). No login. */
export async function listTokenSlots(run: Runner, module: string): Promise<Pkcs11ToolTokenSlot[]> {
  const { stdout } = await run('pkcs11-tool', ['--module', module, '--list-token-slots']);
  return parseTokenSlots(stdout);
}

/**
 * The objects on the token: with a PIN every one, private ones included (one login); without, those the token
 * shows to anyone (no login, no PIN try) — public keys, and on many cards the private keys' entries too.
 */
export async function listObjects(session: TokenSession, pin?: string): Promise<Pkcs11ToolObject[]> {
  const login = pin === undefined ? [] : ['--login', '--pin', `env:${PIN_VARIABLE}`];
  const { stdout } = await session.run('pkcs11-tool', [...tokenArgs(session), ...login, '--list-objects'], pin === undefined ? {} : { secrets: { [PIN_VARIABLE]: pin } });
  return parseObjects(stdout);
}

/** The argv of `pkcs11-tool --keypairgen`; the PIN only ever as `env:HSM_CA_PIN`. */
export function keyPairGenArgs(session: Pick<TokenSession, 'module' | 'tokenLabel'>, key: { keyType: string; label: string; idHex: string }): string[] {
  return [...tokenArgs(session), '--login', '--pin', `env:${PIN_VARIABLE}`, '--keypairgen', '--key-type', key.keyType, '--label', key.label, '--id', key.idHex];
}

/** Generates a key pair on the token (`--keypairgen`) and returns what pkcs11-tool printed about it. */
export async function generateKeyPair(
  session: TokenSession,
  pin: string,
  key: { keyType: string; label: string; idHex: string },
): Promise<{ privateKey: Pkcs11ToolObject; publicKey: Pkcs11ToolObject }> {
  const { stdout } = await session.run('pkcs11-tool', keyPairGenArgs(session, key), { secrets: { [PIN_VARIABLE]: pin }, timeoutMs: 600_000 });
  return parseKeyPairGenerated(stdout);
}

/** Deletes one object by type and id: used only to remove a key pair this run generated and could not finish. */
export async function deleteObject(session: TokenSession, pin: string, type: 'privkey' | 'pubkey', idHex: string): Promise<void> {
  await session.run('pkcs11-tool', [...tokenArgs(session), '--login', '--pin', `env:${PIN_VARIABLE}`, '--delete-object', '--type', type, '--id', idHex], {
    secrets: { [PIN_VARIABLE]: pin },
  });
}
