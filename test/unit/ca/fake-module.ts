import { readFileSync } from 'node:fs';
import { ToolFailedError } from '../../../src/errors.js';
import type { Runner } from '../../../src/tools/run.js';

/** What p11tool 3.7.9 lists for a SoftHSM2 module with one token, 'CA Token'. */
export const LISTED = readFileSync(new URL('../../fixtures/tool-output/p11tool/3.7.9/list-tokens.txt', import.meta.url), 'utf8');
/** The same module with only another token plugged in. */
export const OTHER = LISTED.replaceAll('CA%20Token', 'Other').replaceAll('CA Token', 'Other');
/** What p11tool 3.7.9 prints (nothing, exit 0) while SoftHSM2 finds token.object empty. */
export const NONE = '';

/**
 * A fake module: each `p11tool --list-tokens` answers with the next of `listings` (then NONE), and records
 * its argv in `listings`; every other call fails as a tool would (openToken's PIN-counter read takes that
 * as "counters unknown", doctor reports it and goes on).
 */
export function fakeModule(listings: string[]): { run: Runner; listings: string[][] } {
  const calls: string[][] = [];
  const run: Runner = async (tool, args) => {
    if (tool !== 'p11tool' || !args.includes('--list-tokens')) throw new ToolFailedError(`${tool} ${args.join(' ')} is not part of this fake`, tool, '');
    calls.push([...args]);
    return { stdout: listings[calls.length - 1] ?? NONE, stderr: '' };
  };
  return { run, listings: calls };
}
