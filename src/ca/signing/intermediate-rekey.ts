import { join, relative } from 'node:path';
import { CaError, UsageError } from '../../errors.js';
import { confirmSigning } from '../../terminal.js';
import { formatName } from '../../x509/decode.js';
import { describeKey } from '../../x509/verify.js';
import { loadCa, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange } from '../directory/change.js';
import { intermediateCrlFiles } from '../directory/layout.js';
import { caKeyType, intermediateGeneration, requireKeyLabel, requirePublicationUrl, settingsWrite, type PreviousIntermediate, type Settings } from '../directory/settings.js';
import { withWorkspace } from '../directory/workspace.js';
import { requireCaKey } from '../token/signer.js';
import { removeLeftoverKey, requireTools, withNewCaKey } from '../token/token.js';
import { intermediateCsr, intermediateCsrConfig, rootSignsIntermediate } from './intermediate.js';
import { planRenewal, replacementWrites } from './intermediate-renewal.js';
import type { IssuedCa } from './root.js';
import { bothPins, bothSigners, openBothTokens } from '../token/both-tokens.js';
import { intermediateAuthority, noEarlierCertificates } from './authority.js';
import { firstCrl } from './revocation.js';

/** The new key's first CRL lasts as long as `crl` makes them by default. */
const FIRST_CRL_DAYS = 30;

export interface RekeyOptions {
  readonly days: number;
  /** The new key's label; default: the current key's label with the new generation appended. */
  readonly label?: string;
  /** Where the new key's CRL is published; default: the current URL with -N before its extension. */
  readonly crlUrl?: string;
  /** Where the new intermediate certificate is published (AIA caIssuers); default derived the same way. */
  readonly caIssuersUrl?: string;
}

export interface RekeyedIntermediate extends IssuedCa {
  readonly generation: number;
  readonly superseded: string;
  /** The new key's CRL files and URL, and where the new certificate is to be published. */
  readonly crlFile: string;
  readonly crlUrl: string | undefined;
  readonly caIssuersUrl: string | undefined;
}

/**
 * The URL for generation N of the intermediate's key, from generation N-1's: `-N` before the extension of the
 * path's last segment (…/intermediate.crl → …/intermediate-2.crl → …/intermediate-3.crl), or after it.
 * Only the previous generation's own `-(N-1)` is replaced: a name like ca-2024.crl keeps its digits.
 */
export function generationUrl(url: string, generation: number): string {
  const parsed = new URL(url);
  const slash = parsed.pathname.lastIndexOf('/');
  const last = parsed.pathname.slice(slash + 1);
  const dot = last.lastIndexOf('.');
  const [stem, extension] = dot > 0 ? [last.slice(0, dot), last.slice(dot)] : [last || 'crl', ''];
  const previous = `-${generation - 1}`;
  const bare = generation > 2 && stem.endsWith(previous) ? stem.slice(0, -previous.length) : stem;
  parsed.pathname = `${parsed.pathname.slice(0, slash + 1)}${bare}-${generation}${extension}`;
  return parsed.toString();
}

/** The new generation's URL (given or derived), refused when an earlier key's certificates already name it. */
function nextUrl(option: string, given: string | undefined, current: string | undefined, earlier: ReadonlyArray<string | undefined>, generation: number): string | undefined {
  const url = given ?? (current === undefined ? undefined : generationUrl(current, generation));
  if (url === undefined) return undefined;
  requirePublicationUrl(option, url);
  if ([current, ...earlier].includes(url)) {
    throw new UsageError(`${option} ${url} is already where an earlier key of the intermediate publishes; each key needs its own URL (clients take the CRL found there as the one for the key that signed the certificate) — pass another ${option}`);
  }
  return url;
}

/** What rekeying needs, checked before any token is touched: renewal's checks, the new key's label and URLs. */
export async function planRekey(ca: LoadedCa, options: RekeyOptions) {
  const { settings, paths } = ca;
  const renewal = await planRenewal(ca, options);
  const generation = intermediateGeneration(settings) + 1;
  const label = options.label ?? `${renewal.key.label}-${generation}`;
  requireKeyLabel('--label', label);
  if (label === renewal.key.label || (settings.previousIntermediates ?? []).some((p) => p.key.label === label)) {
    throw new UsageError(`--label ${label} is the label of an earlier intermediate key; choose a new one`);
  }
  const earlier = settings.previousIntermediates ?? [];
  const crlUrl = nextUrl('--crl-url', options.crlUrl, settings.crlUrl, earlier.map((p) => p.crlUrl), generation);
  const caIssuersUrl = nextUrl('--ca-issuers-url', options.caIssuersUrl, settings.caIssuersUrl, earlier.map((p) => p.caIssuersUrl), generation);
  const previous: PreviousIntermediate = {
    key: renewal.key,
    keyType: caKeyType(settings, 'intermediate'),
    certificate: relative(paths.dir, renewal.archive),
    ...(settings.crlUrl !== undefined ? { crlUrl: settings.crlUrl } : {}),
    ...(settings.caIssuersUrl !== undefined ? { caIssuersUrl: settings.caIssuersUrl } : {}),
  };
  const next = (key: Settings['intermediateKey']): Settings => {
    const { crlUrl: _crl, caIssuersUrl: _aia, ...rest } = settings;
    return { ...rest, intermediateKey: key, previousIntermediates: [...earlier, previous], ...(crlUrl !== undefined ? { crlUrl } : {}), ...(caIssuersUrl !== undefined ? { caIssuersUrl } : {}) };
  };
  return { ...renewal, generation, label, crlUrl, caIssuersUrl, next, crlFile: intermediateCrlFiles(paths, generation).crlDerPath };
}

/**
 * `intermediate --rekey`: a new key on the intermediate's token and a certificate for it from the root, same
 * subject and name constraints (Vault's `intermediate/generate`, EJBCA's "renew CA with new keys"). The old
 * key signs nothing new: it keeps signing the CRL of what it issued, at its old URL, until its certificate
 * expires; the new key's certificates carry a CRL URL of their own. Both keys are in the settings.
 */
export async function rekeyIntermediate(options: TokenCommandOptions & RekeyOptions): Promise<RekeyedIntermediate> {
  if (options.label !== undefined) requireKeyLabel('--label', options.label);
  const ca = await loadCa(options);
  const { settings, paths } = ca;
  const change = { command: 'intermediate --rekey', requestKey: requestKey('intermediate --rekey', options.days, options.label, options.crlUrl, options.caIssuersUrl), timeoutMs: options.lockTimeoutMs, onWait: options.say, say: options.say };
  const resumed = await resumeInterrupted<RekeyedIntermediate>(paths.dir, change);
  if (resumed) return resumed;
  const plan = await planRekey(ca, options);
  await confirmSigning(
    `About to generate a new intermediate key (${plan.keyType}, label '${plan.label}') on token '${ca.intermediateToken.tokenLabel}' and sign its certificate with the root key:\n  subject  ${formatName(plan.current.subject)}\n  validity ${options.days} days\n  old key  ${plan.key.uri} signs no more certificates, only its CRL${settings.crlUrl ? ` (${settings.crlUrl})` : ''} until ${plan.current.notAfter.toISOString().slice(0, 10)}\n  new CRL  ${plan.crlUrl ?? '(no URL: init --crl-url was not given)'}`,
    options,
  );
  await requireTools();
  const tokens = await openBothTokens(options, ca);
  const { token, rootToken } = tokens;
  return withCaChange(paths.dir, ({ leftoverKey, keyGenerationStarts }) =>
    withWorkspace(async (work) => {
      const pins = await bothPins(tokens, ca, options.say);
      const { pin, rootPin } = pins;
      if (leftoverKey) await removeLeftoverKey(token, pin, leftoverKey.idHex, options.say);
      // The old key stays in service for CRLs: a rekey that would leave it unreachable is refused before the new key exists.
      await requireCaKey(token, pin, plan.key, ca.intermediateToken);
      if (rootToken !== token) await requireCaKey(rootToken, rootPin, plan.rootKey, ca.rootToken);
      options.say(`generating the new intermediate key (${plan.keyType}, label '${plan.label}') on token '${ca.intermediateToken.tokenLabel}'…`);
      const { signer, rootSigner } = await bothSigners(tokens, ca, pins, work, options.say);
      const csrConfigText = await intermediateCsrConfig(settings, plan.digest);
      const starts = (idHex: string) => keyGenerationStarts({ role: 'intermediate', tokenLabel: ca.intermediateToken.tokenLabel, label: plan.label, idHex });
      const { key, csrPem, signed, cert, crl, checks } = await withNewCaKey(token, pin, { keyType: plan.keyType, label: plan.label, workspace: work, starts }, async (key, tokenSpki) => {
        if (tokenSpki.equals(plan.current.spkiDer)) throw new CaError(`the token gave the new key the public key of the old one (${plan.key.uri}); nothing was changed`);
        const { csrPath, csrPem, csrChecks } = await intermediateCsr(signer, settings, { configText: csrConfigText, digest: plan.digest, keyUri: key.uri, tokenSpki, work, say: options.say });
        options.say('signing the new intermediate certificate with the root key (openssl ca)…');
        const { signed, cert, issuedPath, checks: signedChecks } = await rootSignsIntermediate(options.run, ca, plan, { rootSigner, what: 'the new intermediate certificate', days: options.days, csr: csrPath, work, tokenSpki });
        options.say('signing the new key\'s first CRL (openssl ca -gencrl)…');
        const newKey = intermediateAuthority(ca, { title: `intermediate key ${plan.generation}`, generation: plan.generation, key, keyType: plan.keyType, digest: plan.digest, certificatePath: issuedPath, certificate: cert, crlUrl: plan.crlUrl, earlier: noEarlierCertificates });
        const crl = await firstCrl(signer, newKey, { run: options.run, ca, command: 'intermediate', work, days: FIRST_CRL_DAYS });
        return { key, csrPem, signed, cert, crl, checks: [...csrChecks, ...signedChecks, ...crl.result.checks, `the old key ${plan.key.uri} is on the token (it signs the CRLs of what it issued)`] };
      });
      const signConfig = join(paths.config, 'sign_intermediate_csr.ini');
      const result: RekeyedIntermediate = {
        certificate: paths.intermediateCert,
        keyUri: key.uri,
        subject: formatName(cert.subject),
        notAfter: cert.notAfter,
        generation: plan.generation,
        superseded: plan.archive,
        crlFile: plan.crlFile,
        crlUrl: plan.crlUrl,
        caIssuersUrl: plan.caIssuersUrl,
        checks: [`new key ${describeKey(cert.spkiDer)}`, ...checks],
        files: [paths.intermediateCert, paths.chain, plan.archive, paths.intermediateCsr, signConfig],
      };
      return {
        result,
        summary: `intermediate CA certificate ${cert.serialHex} with a new key ${key.uri} (key generation ${plan.generation}), superseding ${plan.current.serialHex}`,
        writes: [
          ...(await replacementWrites(ca, plan, { signed, csrPem, signConfig })),
          ...crl.writes,
          settingsWrite(paths.dir, plan.next(key)),
        ],
        audit: [
          { action: 'key-generated' as const, command: 'intermediate', keyUri: key.uri, detail: `${plan.keyType} on token '${ca.intermediateToken.tokenLabel}' (intermediate key generation ${plan.generation})` },
          { action: 'certificate-issued' as const, command: 'intermediate', ...certificateAudit(cert, result.subject), detail: `intermediate CA rekeyed (new key), supersedes ${plan.current.serialHex}; the old key ${plan.key.uri} signs only its CRL from now on` },
          crl.audit,
        ],
      };
    }),
    change,
  );
}
