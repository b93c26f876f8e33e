import { access, constants } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CaError, UsageError } from '../../errors.js';
import { appendAudit } from '../audit/head.js';
import { caPaths, createLayout, type CaPaths } from './layout.js';
import { parseBackendChoice } from '../../openssl/backend.js';
import { caKeyType, digestFits, digestFor, parseDigest, parseKeyType, parseLeafSubject, requireConfigSafe, validateSettings, type CaRole, type Settings, type Subject, describeKeys } from './settings.js';

export interface InitOptions {
  readonly dir: string;
  readonly module: string;
  readonly token: string;
  readonly rootModule?: string;
  readonly rootToken?: string;
  readonly org: string;
  readonly country?: string;
  readonly state?: string;
  readonly orgUnit?: string;
  readonly rootCn?: string;
  readonly intermediateCn?: string;
  readonly keyType: string;
  readonly rootKeyType?: string;
  readonly intermediateKeyType?: string;
  readonly digest?: string;
  readonly backend: string;
  readonly crlUrl?: string;
  readonly caIssuersUrl?: string;
  readonly rootCrlUrl?: string;
  /** The CA's own attributes every leaf subject carries, e.g. "O,OU"; absent: CN only. */
  readonly leafSubject?: string;
}

/** A warning for each CA whose key the explicit --digest does not fit. */
function digestWarnings(settings: Settings): string[] {
  const { digest } = settings;
  if (digest === undefined) return [];
  return (['root', 'intermediate'] as CaRole[])
    .filter((role) => !digestFits(digest, caKeyType(settings, role)))
    .map((role) => `--digest ${digest} does not fit the ${role} key (${caKeyType(settings, role)}, which fits ${digestFor(caKeyType(settings, role))}); Mozilla's root store policy refuses EC signatures with another hash — leave --digest out unless you need it`);
}

/** The article's "Prepping to Start": the directory layout and a settings file naming the token and subject. */
export async function initCa(options: InitOptions): Promise<{ paths: CaPaths; settings: Settings; warnings: string[] }> {
  const keyType = parseKeyType(options.keyType);
  const subject: Subject = {
    ...(options.country !== undefined ? { country: options.country } : {}),
    ...(options.state !== undefined ? { state: options.state } : {}),
    organization: options.org,
    organizationalUnit: options.orgUnit ?? `${options.org} Certificate Authority`,
  };
  const settings: Settings = {
    version: 1,
    module: options.module,
    token: options.token,
    ...(options.rootModule !== undefined && options.rootModule !== options.module ? { rootModule: options.rootModule } : {}),
    ...(options.rootToken !== undefined && options.rootToken !== options.token ? { rootToken: options.rootToken } : {}),
    subject,
    ...(options.leafSubject !== undefined ? { leafSubject: parseLeafSubject(options.leafSubject, subject) } : {}),
    rootCommonName: options.rootCn ?? `${options.org} Root CA`,
    intermediateCommonName: options.intermediateCn ?? `${options.org} Intermediate CA`,
    keyType,
    ...(options.rootKeyType !== undefined ? { rootKeyType: parseKeyType(options.rootKeyType, '--root-key-type') } : {}),
    ...(options.intermediateKeyType !== undefined ? { intermediateKeyType: parseKeyType(options.intermediateKeyType, '--intermediate-key-type') } : {}),
    ...(options.digest !== undefined ? { digest: parseDigest(options.digest) } : {}),
    backend: parseBackendChoice(options.backend),
    ...(options.crlUrl !== undefined ? { crlUrl: options.crlUrl } : {}),
    ...(options.caIssuersUrl !== undefined ? { caIssuersUrl: options.caIssuersUrl } : {}),
    ...(options.rootCrlUrl !== undefined ? { rootCrlUrl: options.rootCrlUrl } : {}),
  };
  validateSettings(settings);
  requireConfigSafe('--dir', resolve(options.dir));
  if (settings.rootCommonName === settings.intermediateCommonName) {
    throw new UsageError('--root-cn and --intermediate-cn are the same; the two CAs need different names');
  }
  for (const module of [settings.module, settings.rootModule ?? settings.module]) {
    await access(module, constants.R_OK).catch(() => {
      throw new CaError(`PKCS#11 module ${module} does not exist or is not readable; pass --module (or --root-module) with your token's library (see the README's table of modules)`);
    });
  }
  const paths = caPaths(resolve(options.dir));
  await createLayout(paths.dir, settings);
  await appendAudit(paths.dir, { action: 'init', command: 'init', subject: `O=${settings.subject.organization}`, detail: `token '${settings.token}', ${describeKeys(settings)}, backend ${settings.backend}` });
  return { paths, settings, warnings: digestWarnings(settings) };
}
