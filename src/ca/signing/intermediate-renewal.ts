import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError } from '../../errors.js';
import { confirmSigning } from '../../terminal.js';
import { decodeCertificate, formatName, pemToDer } from '../../x509/decode.js';
import { describeKey } from '../../x509/verify.js';
import { fileExists, loadCa, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange } from '../directory/change.js';
import { databaseWrites, withWorkspace } from '../directory/workspace.js';
import type { PlannedWrite } from '../directory/journal.js';
import { requireCaKey } from '../token/signer.js';
import { requireTools, tokenPublicKey } from '../token/token.js';
import { intermediateCsr, intermediateCsrConfig, planRootSigning, rootSignsIntermediate } from './intermediate.js';
import type { IssuedCa } from './root.js';
import { bothPins, bothSigners, openBothTokens } from '../token/both-tokens.js';

/** Where a superseded intermediate certificate is kept, beside the active one: intermediate/certs/intermediate-SERIAL.crt. */
export function supersededPath(ca: LoadedCa, serialHex: string): string {
  return join(ca.paths.intermediateDir, 'certs', `intermediate-${serialHex.toUpperCase()}.crt`);
}

/**
 * The writes that put a new intermediate certificate (renewed or rekeyed) in place of the current one: the
 * root's database, the current certificate kept as intermediate-SERIAL.crt, then the new CSR, certificate and chain.
 */
export async function replacementWrites(
  ca: LoadedCa,
  plan: { archive: string; currentPem: string; rootPem: string },
  made: { signed: { staging: string; configText: string; pem: string }; csrPem: string; signConfig: string },
): Promise<PlannedWrite[]> {
  const { paths } = ca;
  return [
    ...(await databaseWrites(made.signed.staging, paths.dir)),
    { path: plan.archive, data: plan.currentPem },
    { path: made.signConfig, data: made.signed.configText },
    { path: paths.intermediateCsr, data: made.csrPem },
    { path: paths.intermediateCert, data: made.signed.pem },
    { path: paths.chain, data: made.signed.pem + plan.rootPem },
  ];
}

/**
 * What renewing needs, checked before any token is touched (also by its dry run): this directory's own
 * intermediate (key in the settings, certificate on disk) and the root's plan, its name constraints kept.
 */
export async function planRenewal(ca: LoadedCa, options: { days: number }) {
  const { settings, paths } = ca;
  if (!settings.intermediateKey || !(await fileExists(paths.intermediateCert))) {
    throw new CaError(`no intermediate CA to renew in ${paths.dir}; create it with \`hsm-openssl-ca intermediate --dir ${paths.dir}\``);
  }
  const currentPem = await readFile(paths.intermediateCert, 'utf8');
  const current = decodeCertificate(pemToDer(currentPem, 'CERTIFICATE', paths.intermediateCert));
  const plan = await planRootSigning(ca, { days: options.days, ...(settings.nameConstraints ? { nameConstraints: settings.nameConstraints } : {}) });
  return { ...plan, key: settings.intermediateKey, currentPem, current, archive: supersededPath(ca, current.serialHex) };
}

/**
 * `intermediate --renew`: a new certificate over the same token key and subject, signed by the root (easy-rsa
 * `renew-ca`, Vault `intermediate/generate/existing`). Leaves issued before keep verifying: their issuer name
 * and authority key id still match. The old certificate is kept as intermediate-SERIAL.crt and stays in the
 * root's index; chain.crt is rewritten, the NAME.chain.crt of issued leaves are not.
 */
export async function renewIntermediate(options: TokenCommandOptions & { days: number }): Promise<IssuedCa & { superseded: string }> {
  const ca = await loadCa(options);
  const { settings, paths } = ca;
  const change = { command: 'intermediate --renew', requestKey: requestKey('intermediate --renew', options.days), timeoutMs: options.lockTimeoutMs, onWait: options.say, say: options.say };
  const resumed = await resumeInterrupted<IssuedCa & { superseded: string }>(paths.dir, change);
  if (resumed) return resumed;
  const plan = await planRenewal(ca, options);
  await confirmSigning(
    `About to renew the intermediate certificate ${plan.current.serialHex} (expires ${plan.current.notAfter.toISOString().slice(0, 10)}) with the root key:\n  subject  ${formatName(plan.current.subject)}\n  key      ${plan.key.uri} (the same key)\n  validity ${options.days} days`,
    options,
  );
  await requireTools();
  const tokens = await openBothTokens(options, ca);
  const { token, rootToken } = tokens;
  return withCaChange(paths.dir, () =>
    withWorkspace(async (work) => {
      const pins = await bothPins(tokens, ca, options.say);
      const { pin, rootPin } = pins;
      await requireCaKey(token, pin, plan.key, ca.intermediateToken);
      if (rootToken !== token) await requireCaKey(rootToken, rootPin, plan.rootKey, ca.rootToken);
      const tokenSpki = await tokenPublicKey(token, pin, plan.key, work);
      if (!tokenSpki.equals(plan.current.spkiDer)) {
        throw new CaError(`the key ${plan.key.uri} on token '${token.label}' is not the key of ${paths.intermediateCert}; restore the settings or the certificate from your backup (\`hsm-openssl-ca check\` says more)`);
      }
      const { signer, rootSigner } = await bothSigners(tokens, ca, pins, work, options.say);
      const configText = await intermediateCsrConfig(settings, plan.digest);
      const { csrPath, csrPem, csrChecks } = await intermediateCsr(signer, settings, { configText, digest: plan.digest, keyUri: plan.key.uri, tokenSpki, work, say: options.say });
      options.say('signing the renewed intermediate certificate with the root key (openssl ca)…');
      const { signed, cert, checks } = await rootSignsIntermediate(options.run, ca, plan, { rootSigner, what: 'the renewed intermediate certificate', days: options.days, csr: csrPath, work, tokenSpki });
      const signConfig = join(paths.config, 'sign_intermediate_csr.ini');
      const result = {
        certificate: paths.intermediateCert,
        keyUri: plan.key.uri,
        subject: formatName(cert.subject),
        notAfter: cert.notAfter,
        superseded: plan.archive,
        checks: [`key ${describeKey(cert.spkiDer)} (unchanged)`, ...csrChecks, ...checks],
        files: [paths.intermediateCert, paths.chain, plan.archive, paths.intermediateCsr, signConfig],
      };
      return {
        result,
        summary: `intermediate CA certificate ${cert.serialHex} renewing ${plan.current.serialHex} for ${result.subject}, key ${plan.key.uri}`,
        writes: [
          ...(await replacementWrites(ca, plan, { signed, csrPem, signConfig })),
        ],
        audit: [{ action: 'certificate-issued' as const, command: 'intermediate', ...certificateAudit(cert, result.subject), detail: `intermediate CA renewed (same key), supersedes ${plan.current.serialHex}` }],
      };
    }),
    change,
  );
}
