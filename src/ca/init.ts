import { access, constants } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CaError, UsageError } from '../errors.js';
import { caPaths, createLayout, type CaPaths } from './layout.js';
import { parseDigest, parseKeyType, requireConfigSafe, validateSettings, type Settings } from './settings.js';

export interface InitOptions {
  readonly dir: string;
  readonly module: string;
  readonly token: string;
  readonly org: string;
  readonly country?: string;
  readonly state?: string;
  readonly orgUnit?: string;
  readonly rootCn?: string;
  readonly intermediateCn?: string;
  readonly keyType: string;
  readonly digest: string;
  readonly crlUrl?: string;
  readonly caIssuersUrl?: string;
  readonly rootCrlUrl?: string;
}

/** The article's "Prepping to Start": the directory layout and a settings file naming the token and subject. */
export async function initCa(options: InitOptions): Promise<{ paths: CaPaths; settings: Settings }> {
  const settings: Settings = {
    version: 1,
    module: options.module,
    token: options.token,
    subject: {
      ...(options.country !== undefined ? { country: options.country } : {}),
      ...(options.state !== undefined ? { state: options.state } : {}),
      organization: options.org,
      organizationalUnit: options.orgUnit ?? `${options.org} Certificate Authority`,
    },
    rootCommonName: options.rootCn ?? `${options.org} Root CA`,
    intermediateCommonName: options.intermediateCn ?? `${options.org} Intermediate CA`,
    keyType: parseKeyType(options.keyType),
    digest: parseDigest(options.digest),
    ...(options.crlUrl !== undefined ? { crlUrl: options.crlUrl } : {}),
    ...(options.caIssuersUrl !== undefined ? { caIssuersUrl: options.caIssuersUrl } : {}),
    ...(options.rootCrlUrl !== undefined ? { rootCrlUrl: options.rootCrlUrl } : {}),
  };
  validateSettings(settings);
  requireConfigSafe('--dir', resolve(options.dir));
  if (settings.rootCommonName === settings.intermediateCommonName) {
    throw new UsageError('--root-cn and --intermediate-cn are the same; the two CAs need different names');
  }
  await access(settings.module, constants.R_OK).catch(() => {
    throw new CaError(`PKCS#11 module ${settings.module} does not exist or is not readable; pass --module with your token's library (hsm-openssl-ca --help lists common ones)`);
  });
  const paths = caPaths(resolve(options.dir));
  await createLayout(paths.dir, settings);
  return { paths, settings };
}
