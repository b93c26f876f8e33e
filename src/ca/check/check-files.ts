import { readFileSync } from 'node:fs';
import { printable } from '../../errors.js';

// What check.ts and newcerts-check.ts share: reading a file that may be missing, and the text of a finding.

/**
 * A file's text, undefined when it does not exist; other errors propagate. Read synchronously: `check` reads
 * every certificate, and at 100,000 the promise API's thread-pool round trips cost more than the reads.
 */
export async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export const errorText = (error: unknown): string => printable(error instanceof Error ? error.message : String(error));
export const shorten = (text: string, max = 120): string => printable(text.length > max ? `${text.slice(0, max)}…` : text);

/** opendir's batch: its default of 32 names per read made a walk of 100,000 files 2–3 times slower than readdir. */
export const STREAMED_DIRECTORY = { bufferSize: 1024 };
