import type { TokenCommandOptions } from '../ca/context.js';
import { createIntermediate } from '../ca/intermediate.js';
import { printCaReport } from './output.js';

export async function intermediateCommand(options: TokenCommandOptions & { days: number; label: string }): Promise<void> {
  const intermediate = await createIntermediate(options);
  printCaReport(`intermediate CA created: ${intermediate.certificate}`, intermediate, `hsm-openssl-ca server REQ.csr --dir ${options.dir}`);
}
