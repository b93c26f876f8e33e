import { CaError } from '../../errors.js';
import { resolveBackend } from '../../openssl/backend.js';
import type { SigningContext } from '../../tools/openssl.js';
import * as pkcs11Tool from '../../tools/pkcs11-tool.js';
import type { Pkcs11ToolObject } from '../../tools/parse/pkcs11-tool.js';
import type { TokenRole } from '../directory/context.js';
import type { TokenKey } from '../directory/settings.js';
import { session, type Token } from './token.js';

/** Whether a listed object belongs to the CA key: the same id and label. */
const isKey = (object: Pkcs11ToolObject, key: TokenKey): boolean => object.idHex === key.idHex && object.label === key.label;

/**
 * Makes sure the CA key is on the token before openssl is asked to use it, so a wrong token is named instead
 * of an openssl error. Without a login first: openssl's run is then the only login of a signing (issue 11),
 * and a wrong PIN is told from the token's PIN counters after it (guardPin); one wrong PIN costs openssl one
 * try with either backend, OpenSSL 3.0 to 4.0 (measured, docs/pin-tries.md). Only a key the token does not
 * show without a login is looked for again with one (pkcs11-tool's login, which a wrong PIN stops).
 */
export async function requireCaKey(token: Token, pin: string, key: TokenKey, role: TokenRole): Promise<void> {
  await requireCaKeys(token, pin, [key], role);
}

/** The same for several keys of one role (the intermediate's current and earlier keys), still with one listing. */
export async function requireCaKeys(token: Token, pin: string, keys: readonly TokenKey[], role: TokenRole): Promise<void> {
  // At the final try pkcs11-provider makes no login at all ("Canceling login attempt to avoid locking the
  // token"), so the try the operator consented to is spent here, by pkcs11-tool; a right PIN resets the count.
  const shown = token.pinState === 'finalTry' ? [] : await pkcs11Tool.listObjects(session(token));
  const hidden = keys.filter((key) => !shown.some((o) => /^(private|public) key$/i.test(o.kind) && isKey(o, key)));
  if (hidden.length === 0) return;
  const objects = await pkcs11Tool.listObjects(session(token), pin);
  for (const key of hidden) {
    const found = objects.some((o) => /^private key$/i.test(o.kind) && isKey(o, key));
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
