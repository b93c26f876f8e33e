import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { CaError, UsageError } from '../../errors.js';
import { resolveBackend, type OpensslBackend } from '../../openssl/backend.js';
import { renderTemplate } from '../../openssl-config.js';
import * as openssl from '../../tools/openssl.js';
import { authority, type Authority } from '../signing/authority.js';
import { loadCa, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import { stageDatabase, withWorkspace, writeWorkspaceFile } from '../directory/workspace.js';
import { formatName } from '../../x509/decode.js';
import { findIssued } from '../inventory/issued.js';
import { leafOutput, planLeaf, type IssueOptions } from '../signing/issue.js';
import { intermediateCsrConfig, intermediateSigning, planIntermediate } from '../signing/intermediate.js';
import { planRenewal } from '../signing/intermediate-renewal.js';
import { planRekey, type RekeyOptions } from '../signing/intermediate-rekey.js';
import { requireNoRootYet, rootConfigText } from '../signing/root.js';
import { earlierCrls, requireCrlDays, shadowCrl, shadowStagedAuthority, workspaceFile, type RevocationReason } from '../signing/revocation.js';
import { shadowStaged } from '../signing/sign.js';
import { shadowAuthority } from './authority.js';
import { shadowRoot } from './root.js';
import { keyPairGenArgs } from '../../tools/pkcs11-tool.js';
import { commandLine } from '../../tools/run.js';
import { caDigest, caKeyType, requireKeyLabel, type NameConstraints } from '../directory/settings.js';
import { shadowKey } from './keys.js';

/**
 * What a dry run shows: each command it would run against the token (the PIN only as `env:HSM_CA_PIN`),
 * each rendered config in full, and what the shadow CA made from them, as text. A dry run takes no lock,
 * writes no journal, never logs in and needs no PIN: everything it runs, runs in a private workspace.
 */
export interface DryRun {
  readonly title: string;
  readonly commands: readonly string[];
  readonly configs: ReadonlyArray<{ readonly path: string; readonly text: string }>;
  readonly results: readonly string[];
  readonly checks: readonly string[];
}

/** The backend the token's run would use (loading the module, as `doctor` does; no session, no login). */
function backendOf(options: TokenCommandOptions, ca: LoadedCa, which: 'root' | 'intermediate', work: string): Promise<OpensslBackend> {
  const role = which === 'root' ? ca.rootToken : ca.intermediateToken;
  return resolveBackend(options.run, role.backend, role.module, work, role.role);
}

/** The URI a key about to be generated will have; its id (ID) is drawn when the token makes it. */
function keyUriToBe(tokenLabel: string, label: string): string {
  return `pkcs11:token=${encodeURIComponent(tokenLabel)};object=${encodeURIComponent(label)};id=ID;type=private`;
}

/** `server`, `client`, `renew --dry-run`: the leaf the shadow CA issues from the very command and config. */
export async function dryRunLeaf(options: IssueOptions): Promise<DryRun> {
  const ca = await loadCa(options);
  const plan = await planLeaf(options, ca, leafOutput(options));
  return withWorkspace(async (work) => {
    const csrCopy = join(work, 'request.csr');
    await writeWorkspaceFile(csrCopy, plan.csrPem);
    const staged = await shadowStaged(await plan.request(work, csrCopy));
    const keptConfig = join(ca.paths.config, 'sign_server_csrs.ini');
    const backend = await backendOf(options, ca, 'intermediate', work);
    return {
      title: `${options.command ?? options.profile} --dry-run: ${plan.subject.text} would be signed with the intermediate key and delivered to ${plan.out}`,
      commands: [openssl.tokenCommandLine(backend, (keyArgs) => openssl.signWithCaArgs(keyArgs, { ...staged.signing, config: keptConfig, csr: options.csrPath, out: plan.out }))],
      configs: [{ path: keptConfig, text: staged.configText }],
      results: [await openssl.asText(options.run, 'x509', staged.shadow.file)],
      checks: staged.shadow.checks,
    };
  });
}

/** The CA's own config, kept path and text as `crl` and `revoke` render it. */
async function keptConfig(ca: LoadedCa, auth: Authority): Promise<{ path: string; text: string }> {
  return { path: join(ca.paths.config, workspaceFile(auth, auth.configName)), text: await renderTemplate(auth.configName, { ...auth.configContext, dir: auth.databaseDir }) };
}

/** The CRLs of the intermediate's earlier keys (after `intermediate --rekey`), as `crl` would sign them next. */
async function dryRunEarlierCrls(options: TokenCommandOptions & { days: number }, ca: LoadedCa, auth: Authority, at: { work: string; staging: string; backend: Awaited<ReturnType<typeof backendOf>> }) {
  const out = { titles: [] as string[], commands: [] as string[], configs: [] as Array<{ path: string; text: string }>, results: [] as string[], checks: [] as string[] };
  for (const { auth: other, days } of await earlierCrls(ca, auth, options.days)) {
    const staged = await shadowStagedAuthority(other, at.staging, at.work, await shadowAuthority(options.run, ca, 'intermediate', at.work, other));
    const crl = await shadowCrl(staged, other, days);
    const config = await keptConfig(ca, other);
    out.titles.push(`${other.title} to ${other.crlPath}`);
    out.commands.push(openssl.tokenCommandLine(at.backend, (keyArgs) => openssl.generateCrlArgs(keyArgs, { config: config.path, days, digest: other.digest, out: other.crlPath })));
    out.configs.push(config);
    out.results.push(await openssl.asText(options.run, 'crl', join(at.work, workspaceFile(other, 'shadow-crl.pem'))));
    out.checks.push(...crl.checks);
  }
  return out;
}

/** `crl` and `revoke --dry-run`: the CRL the shadow CA signs from the staged database (after `revoke` there, for revoke). */
export async function dryRunCrl(options: TokenCommandOptions & { root: boolean; days: number; revoke?: { target?: string; reason: RevocationReason } }): Promise<DryRun> {
  const ca = await loadCa(options);
  const auth = await authority(ca, options.root ? 'root' : 'intermediate');
  const target = options.revoke ? (options.revoke.target ?? (options.root ? ca.paths.intermediateCert : undefined)) : undefined;
  if (options.revoke && !target) throw new UsageError('name the certificate to revoke: a certificate file or its serial number');
  const found = target ? await findIssued(auth, target) : undefined;
  if (found?.entry.status === 'revoked') throw new CaError(`serial ${found.entry.serial} is already revoked; nothing to do`);
  requireCrlDays(options.days, auth);
  return withWorkspace(async (work) => {
    const staged = await shadowStagedAuthority(auth, await stageDatabase(auth.databaseDir, work), work, await shadowAuthority(options.run, ca, auth.name, work));
    const config = await keptConfig(ca, auth);
    const backend = await backendOf(options, ca, auth.name, work);
    const commands: string[] = [];
    if (found && options.revoke) {
      const request = { certificate: found.path, reason: options.revoke.reason };
      await openssl.revoke(staged.shadow, { ...request, config: staged.config });
      commands.push(openssl.tokenCommandLine(backend, (keyArgs) => openssl.revokeArgs(keyArgs, { ...request, config: config.path })));
    }
    const crl = await shadowCrl(staged, auth, options.days);
    commands.push(openssl.tokenCommandLine(backend, (keyArgs) => openssl.generateCrlArgs(keyArgs, { config: config.path, days: options.days, digest: auth.digest, out: auth.crlPath })));
    const earlier = await dryRunEarlierCrls(options, ca, auth, { work, staging: staged.staging, backend });
    return {
      title: `${found ? `revoke --dry-run: serial ${found.entry.serial} would be revoked and` : 'crl --dry-run:'} the ${auth.name} CRL number ${crl.crl.crlNumber} would be signed to ${auth.crlPath}${earlier.titles.length ? `, and the CRLs of ${earlier.titles.join(', ')}` : ''}`,
      commands: [...commands, ...earlier.commands],
      configs: [config, ...earlier.configs],
      results: [await openssl.asText(options.run, 'crl', join(work, 'shadow-crl.pem')), ...earlier.results],
      checks: [...crl.checks, ...earlier.checks],
    };
  });
}

/**
 * `root --dry-run`: the root certificate the shadow CA self-signs from the very config `root` renders, and the
 * two token commands (key generation, then `openssl req -x509`). The key's id and URI are only known once
 * the token has made the key; they are shown as ID.
 */
export async function dryRunRoot(options: TokenCommandOptions & { days: number; label: string }): Promise<DryRun> {
  requireKeyLabel('--label', options.label);
  const ca = await loadCa(options);
  const { settings, paths } = ca;
  await requireNoRootYet(ca);
  const keyType = caKeyType(settings, 'root');
  const digest = caDigest(settings, 'root');
  return withWorkspace(async (work) => {
    const text = await rootConfigText(ca, digest);
    const config = join(work, 'create_root_cert.ini');
    await writeWorkspaceFile(config, text);
    const shadow = await shadowRoot(options.run, keyType, { config, days: options.days, digest, work });
    const kept = join(paths.config, 'create_root_cert.ini');
    const backend = await backendOf(options, ca, 'root', work);
    const keyUri = keyUriToBe(ca.rootToken.tokenLabel, options.label);
    const generate = ['pkcs11-tool', ...keyPairGenArgs(ca.rootToken, { keyType, label: options.label, idHex: 'ID' })];
    return {
      title: `root --dry-run: a ${keyType} key '${options.label}' would be generated on token '${ca.rootToken.tokenLabel}' and ${formatName(shadow.decoded.subject)} self-signed to ${paths.rootCert} (ID: the fresh key id, chosen when the key is made)`,
      commands: [
        commandLine(generate),
        openssl.tokenCommandLine(backend, (keyArgs) => openssl.createSelfSignedArgs(keyArgs, { config: kept, keyUri, days: options.days, digest, out: paths.rootCert })),
      ],
      configs: [{ path: kept, text }],
      results: [await openssl.asText(options.run, 'x509', join(work, 'shadow-root.crt'))],
      checks: shadow.checks,
    };
  });
}

/**
 * `intermediate --dry-run`: a software key of the intermediate's type stands in for the token's, makes the
 * CSR from the very config `intermediate` renders, and the shadow root signs it with the very `openssl ca`
 * config and staged root database; shown with the three token commands (key, CSR, root's signature).
 */
export async function dryRunIntermediate(options: TokenCommandOptions & { days: number; label: string; nameConstraints?: NameConstraints; renew?: boolean; rekeyWith?: RekeyOptions }): Promise<DryRun> {
  requireKeyLabel('--label', options.label);
  const ca = await loadCa(options);
  const { settings, paths } = ca;
  const rekey = options.rekeyWith ? await planRekey(ca, { ...options.rekeyWith, days: options.days }) : undefined;
  const renewal = options.renew ? await planRenewal(ca, options) : undefined;
  const plan = rekey ?? renewal ?? (await planIntermediate(ca, options));
  const label = rekey?.label ?? options.label;
  const { keyType, digest } = plan;
  return withWorkspace(async (work) => {
    const csrText = await intermediateCsrConfig(settings, digest);
    const csrConfig = join(work, 'create_intermediate_csr.ini');
    await writeWorkspaceFile(csrConfig, csrText);
    const key = await shadowKey(keyType, 'intermediate', work);
    const csr = join(work, 'intermediate.csr');
    await options.run('openssl', openssl.createCsrArgs([], { config: csrConfig, keyUri: key.file, digest, out: csr }));
    const tokenSpki = createPublicKey(key.key).export({ type: 'spki', format: 'der' });
    const staged = await shadowStaged(await intermediateSigning(options.run, ca, plan, { days: options.days, csr, work, tokenSpki }));
    const kept = { csr: join(paths.config, 'create_intermediate_csr.ini'), sign: join(paths.config, 'sign_intermediate_csr.ini') };
    const [backend, rootBackend] = [await backendOf(options, ca, 'intermediate', work), await backendOf(options, ca, 'root', work)];
    const keyUri = renewal?.key.uri ?? keyUriToBe(ca.intermediateToken.tokenLabel, label);
    return {
      title: rekey
        ? `intermediate --rekey --dry-run: a new ${keyType} key '${label}' would be generated on token '${ca.intermediateToken.tokenLabel}', its CSR signed with the root key to ${paths.intermediateCert}, the current certificate kept as ${rekey.archive}; the old key would sign only its CRL, the new key's CRL would go to ${rekey.crlFile}${rekey.crlUrl ? ` for ${rekey.crlUrl}` : ''} (ID: the fresh key id)`
        : renewal
          ? `intermediate --renew --dry-run: a CSR from the intermediate's key ${keyUri} would be signed with the root key to ${paths.intermediateCert}, the current certificate kept as ${renewal.archive} (the shadow CA's stand-in key signed the certificate shown)`
          : `intermediate --dry-run: a ${keyType} key '${label}' would be generated on token '${ca.intermediateToken.tokenLabel}', its CSR signed with the root key to ${paths.intermediateCert} (ID: the fresh key id, chosen when the key is made)`,
      commands: [
        ...(renewal ? [] : [commandLine(['pkcs11-tool', ...keyPairGenArgs(ca.intermediateToken, { keyType, label, idHex: 'ID' })])]),
        openssl.tokenCommandLine(backend, (keyArgs) => openssl.createCsrArgs(keyArgs, { config: kept.csr, keyUri, digest, out: paths.intermediateCsr })),
        openssl.tokenCommandLine(rootBackend, (keyArgs) => openssl.signWithCaArgs(keyArgs, { ...staged.signing, config: kept.sign, csr: paths.intermediateCsr, out: paths.intermediateCert })),
      ],
      configs: [{ path: kept.csr, text: csrText }, { path: kept.sign, text: staged.configText }],
      results: [await openssl.asText(options.run, 'x509', staged.shadow.file)],
      checks: staged.shadow.checks,
    };
  });
}
