import { cp, rename, rm } from 'node:fs/promises';
import { CaError, ToolFailedError, ToolMissingError } from '../../errors.js';

/**
 * Runs the shadow's `openssl ca` on the staged database and puts the database back as it was, so the
 * token's run that follows sees the very same database (and the very same config pointing at it).
 */
export async function rehearse<T>(staging: string, shadowRun: () => Promise<T>): Promise<T> {
  const pristine = `${staging}.before-shadow`;
  await cp(staging, pristine, { recursive: true });
  try {
    return await shadowRun();
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rename(pristine, staging);
  }
}

/** A shadow refusal, worded: the token has signed nothing, and the request is what to change. */
export function shadowRefused(what: string, error: unknown): Error {
  // A missing, crashed or hung tool is no judgement of the request: its own message says what to do.
  if (!(error instanceof CaError) || error instanceof ToolMissingError) return error as Error;
  if (error instanceof ToolFailedError && !/^\S+ failed \(exit \d+\)/.test(error.message)) return error;
  // A tool that failed outright may mean a broken installation as much as a bad request: say both.
  const next = error instanceof ToolFailedError ? 'fix what openssl names (the request, or the tools: `hsm-openssl-ca doctor`) and run again' : 'change the request (names, profile, validity) and run again';
  return new CaError(`the shadow CA refused ${what}, so nothing was signed on the token and nothing was changed: ${error.message} — ${next}`);
}
