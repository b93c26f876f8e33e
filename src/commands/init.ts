import { initCa, type InitOptions } from '../ca/init.js';
import { printReport } from './output.js';

export async function initCommand(options: InitOptions): Promise<void> {
  const { paths, settings } = await initCa(options);
  printReport(
    `CA directory created: ${paths.dir}`,
    [
      ['module', settings.module],
      ['token', settings.token],
      ...(settings.rootToken || settings.rootModule ? [['root token', `${settings.rootToken ?? settings.token} on ${settings.rootModule ?? settings.module} (offline root)`] as [string, string]] : []),
      ['key type', settings.keyType],
      ['digest', settings.digest],
      ['root CN', settings.rootCommonName],
      ['interm. CN', settings.intermediateCommonName],
      ['settings', paths.settings],
      ['next', `hsm-openssl-ca root --dir ${paths.dir}`],
    ],
    [],
  );
}
