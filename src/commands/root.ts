import type { TokenCommandOptions } from '../ca/directory/context.js';
import { createRoot } from '../ca/signing/root.js';
import { printCaReport } from './output.js';

export async function rootCommand(options: TokenCommandOptions & { days: number; label: string }): Promise<void> {
  const root = await createRoot(options);
  await printCaReport(`root CA created: ${root.certificate}`, root, `hsm-openssl-ca intermediate --dir ${options.dir}`);
}
