import { readFileSync } from 'node:fs';
import { ToolFailedError } from '../../../src/errors.js';
import type { Runner } from '../../../src/tools/run.js';

/** What p11tool 3.7.9 lists for a SoftHSM2 module with one token, 'CA Token'. */
export const LISTED = readFileSync(new URL('../../fixtures/tool-output/p11tool/3.7.9/list-tokens.txt', import.meta.url), 'utf8');
/** The same module with only another token plugged in. */
export const OTHER = LISTED.replaceAll('CA%20Token', 'Other').replaceAll('CA Token', 'Other');
/** What p11tool 3.7.9 prints (nothing, exit 0) while SoftHSM2 finds token.object empty. */
export const NONE = '';

/** What `pkcs11-tool -L` (OpenSC 0.23) lists for the same module: 'CA Token' in slot 0, an empty slot 1. */
export const SLOTS = readFileSync(new URL('../../fixtures/tool-output/pkcs11-tool/0.23.0/list-slots.txt', import.meta.url), 'utf8');
export const OTHER_SLOTS = SLOTS.replaceAll('CA Token', 'Other');
/** Only the empty slot: no initialised token to name. */
export const NO_SLOTS = SLOTS.replace(/^Slot 0[\s\S]*?(?=^Slot 1)/m, '');

const LISTING_FLAG = { p11tool: '--list-tokens', 'pkcs11-tool': '--list-token-slots' } as const;

/**
 * A fake module: each token listing by `lister` (p11tool --list-tokens, or pkcs11-tool --list-token-slots)
 * answers with the next of `listings` (then an empty answer), and records its argv in `listings`; every other
 * call fails as a tool would (doctor's PIN-counter read takes that as "counters unknown", reports it and goes on).
 */
export function fakeModule(listings: string[], lister: keyof typeof LISTING_FLAG = 'p11tool'): { run: Runner; listings: string[][] } {
  const calls: string[][] = [];
  const run: Runner = async (tool, args) => {
    if (tool !== lister || !args.includes(LISTING_FLAG[lister])) throw new ToolFailedError(`${tool} ${args.join(' ')} is not part of this fake`, tool, '');
    calls.push([...args]);
    return { stdout: listings[calls.length - 1] ?? NONE, stderr: '' };
  };
  return { run, listings: calls };
}
