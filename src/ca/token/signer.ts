import { CaError } from '../../errors.js';
import { resolveBackend } from '../../openssl/backend.js';
import type { SigningContext } from '../../tools/openssl.js';
import * as pkcs11Tool from '../../tools/pkcs11-tool.js';
import type { TokenRole } from '../directory/context.js';
import type { TokenKey } from '../directory/settings.js';
import type { Token } from './token.js';

/**
 * Makes sure the CA key is on the token, with one login by pkcs11-tool, before openssl is asked to use it:
 * a wrong PIN then fails with the token's own reason (pkcs11-provider only says "Could not read private
 * key"), and a wrong token is named instead of an openssl error.
 */
export async function requireCaKey(token: Token, pin: string, key: TokenKey, role: TokenRole): Promise<void> {
  await requireCaKeys(token, pin, [key], role);
}

/** The same for several keys of one role (the intermediate's current and earlier keys), still with one login. */
export async function requireCaKeys(token: Token, pin: string, keys: readonly TokenKey[], role: TokenRole): Promise<void> {
  const objects = await pkcs11Tool.listObjects({ run: token.run, module: token.module, tokenLabel: token.label }, pin);
  for (const key of keys) {
    const found = objects.some((o) => /^private key$/i.test(o.kind) && o.idHex === key.idHex && o.label === key.label);
    if (!found) {
      throw new CaError(
        `the ${role.role} key (label '${key.label}', id ${key.idHex}) is not on token '${token.label}'; plug in the token that holds it, or check ${role.tokenOption}`,
      );
    }
  }
}

/**
 * The openssl side of a signing: the backend this role's choice resolves to (said aloud, since `auto`
 * decides by what is installed), its OPENSSL_CONF in the workspace, and the PIN.
 */
export async function signerFor(token: Token, role: TokenRole, pin: string, work: string, say: (line: string) => void): Promise<SigningContext> {
  const resolved = await resolveBackend(token.run, role.backend, role.module, work, role.role);
  say(`OpenSSL backend for the ${role.role} key: ${resolved.backend}${role.backend === 'auto' ? ' (auto)' : ''}`);
  return { run: token.run, pin, ...resolved };
}
