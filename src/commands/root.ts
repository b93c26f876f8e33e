import type { TokenCommandOptions } from '../ca/directory/context.js';
import { dryRunRoot } from '../ca/shadow/dry-run.js';
import { createRoot } from '../ca/signing/root.js';
import { printCaReport, printDryRun } from './output.js';

export async function rootCommand(options: TokenCommandOptions & { days: number; label: string; dryRun?: boolean }): Promise<void> {
  if (options.dryRun) return printDryRun(await dryRunRoot(options));
  const root = await createRoot(options);
  await printCaReport(`root CA created: ${root.certificate}`, root, `hsm-openssl-ca intermediate --dir ${options.dir}`);
}
