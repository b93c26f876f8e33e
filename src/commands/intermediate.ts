import type { TokenCommandOptions } from '../ca/directory/context.js';
import type { NameConstraints } from '../ca/directory/settings.js';
import { createIntermediate } from '../ca/signing/intermediate.js';
import { printCaReport } from './output.js';

export async function intermediateCommand(options: TokenCommandOptions & { days: number; label: string; nameConstraints?: NameConstraints }): Promise<void> {
  const intermediate = await createIntermediate(options);
  await printCaReport(`intermediate CA created: ${intermediate.certificate}`, intermediate, `hsm-openssl-ca server REQ.csr --dir ${options.dir}`);
}
