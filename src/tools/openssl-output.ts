import { readFile } from 'node:fs/promises';
import { CaError } from '../errors.js';
import { lastMeaningfulLine, type RunResult } from './run.js';

/**
 * Reads the file an openssl command was told to write. openssl can exit 0 without writing it (`openssl ca`
 * skips a request it refuses in batch mode, printing why on stderr); that is reported with what openssl
 * printed, not as an internal ENOENT.
 */
export async function readOpensslOutput(path: string, command: string, printed: RunResult): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const said = lastMeaningfulLine(printed.stderr);
    throw new CaError(`${command} exited 0 but wrote nothing to ${path}; it printed: ${said}; nothing was changed — fix what openssl names and run the command again (hsm-openssl-ca doctor checks the tools)`);
  }
}
