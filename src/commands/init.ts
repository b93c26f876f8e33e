import { initCa, type InitOptions } from '../ca/directory/init.js';
import { leafSubjectFor } from '../ca/signing/leaf-subject.js';
import { describeKeys } from '../ca/directory/settings.js';
import { printReport, say } from './output.js';

export async function initCommand(options: InitOptions): Promise<void> {
  const { paths, settings, warnings } = await initCa(options);
  for (const warning of warnings) say(`warning: ${warning}`);
  printReport(
    `CA directory created: ${paths.dir}`,
    [
      ['module', settings.module],
      ['token', settings.token],
      ...(settings.rootToken || settings.rootModule ? [['root token', `${settings.rootToken ?? settings.token} on ${settings.rootModule ?? settings.module} (offline root)`] as [string, string]] : []),
      ['keys', describeKeys(settings)],
      ['backend', settings.backend ?? 'auto'],
      ['root CN', settings.rootCommonName],
      ['interm. CN', settings.intermediateCommonName],
      ['leaf subj.', leafSubjectFor(settings, '<the CSR\'s CN>').text],
      ['settings', paths.settings],
      ['next', `hsm-openssl-ca root --dir ${paths.dir}`],
    ],
    [],
  );
}
