import type { SigningContext } from '../../tools/openssl.js';
import { sameToken, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import { signerFor } from './signer.js';
import { openToken, pinFor, type Token } from './token.js';

/** The intermediate's token and the root's: one and the same object when both keys share a token. */
export interface BothTokens {
  readonly token: Token;
  readonly rootToken: Token;
}

/** Opens both tokens a change of the intermediate's certificate needs (an offline root's is its own). */
export async function openBothTokens(options: TokenCommandOptions, ca: LoadedCa): Promise<BothTokens> {
  const token = await openToken(options.run, ca.intermediateToken, options);
  const rootToken = sameToken(ca.rootToken, ca.intermediateToken) ? token : await openToken(options.run, ca.rootToken, options);
  return { token, rootToken };
}

/** Both PINs, asked once when the two keys share a token. */
export async function bothPins(tokens: BothTokens, ca: LoadedCa, say: (line: string) => void): Promise<{ pin: string; rootPin: string }> {
  const pin = await pinFor(ca.intermediateToken, say);
  return { pin, rootPin: tokens.rootToken === tokens.token ? pin : await pinFor(ca.rootToken, say) };
}

/** openssl's side of both keys: one backend resolved when they share a token. */
export async function bothSigners(tokens: BothTokens, ca: LoadedCa, pins: { pin: string; rootPin: string }, work: string, say: (line: string) => void): Promise<{ signer: SigningContext; rootSigner: SigningContext }> {
  const signer = await signerFor(tokens.token, ca.intermediateToken, pins.pin, work, say);
  const rootSigner = tokens.rootToken === tokens.token ? { ...signer, pin: pins.rootPin } : await signerFor(tokens.rootToken, ca.rootToken, pins.rootPin, work, say);
  return { signer, rootSigner };
}
