import { join } from 'node:path';
import { CaError } from '../../errors.js';
import { renderTemplate } from '../../openssl-config.js';
import * as openssl from '../../tools/openssl.js';
import { readOpensslOutput } from '../../tools/openssl-output.js';
import { decodeCertificate, formatName, pemToDer } from '../../x509/decode.js';
import { describeKey, verifyCaCertificate, type Digest } from '../../x509/verify.js';
import { fileExists, loadCa, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange } from '../directory/change.js';
import { caDigest, caKeyType, requireKeyLabel, settingsWrite } from '../directory/settings.js';
import { requireFreshSerial } from './serial.js';
import { signerFor } from '../token/signer.js';
import { openToken, pinFor, removeLeftoverKey, requireTools, withNewCaKey } from '../token/token.js';
import { withWorkspace, writeWorkspaceFile } from '../directory/workspace.js';
import { requireSameCertificate } from '../shadow/compare.js';
import { ROOT_NOT_BEFORE_TOLERANCE_MS, shadowRoot } from '../shadow/root.js';

export interface IssuedCa {
  readonly certificate: string;
  readonly keyUri: string;
  readonly subject: string;
  readonly notAfter: Date;
  readonly checks: readonly string[];
  readonly files: readonly string[];
}

/** A CA has one root: refused before anything else when this directory already has one (also by its dry run). */
export async function requireNoRootYet(ca: LoadedCa): Promise<void> {
  const { settings, paths } = ca;
  if (settings.rootKey || (await fileExists(paths.rootCert))) {
    throw new CaError(`the root CA already exists (${paths.rootCert}, key ${settings.rootKey?.uri ?? 'unknown'}); a CA has one root — use a new --dir for another`);
  }
}

/** `create_root_cert.ini` as `root` renders it and keeps it in DIR/config. */
export function rootConfigText(ca: LoadedCa, digest: Digest): Promise<string> {
  return renderTemplate('create_root_cert.ini', { dir: ca.paths.dir, digest, subject: ca.settings.subject, commonName: ca.settings.rootCommonName });
}

/**
 * The article's "Creating the Root Certificate Authority": a key pair generated on the token, its URI
 * found with p11tool, `create_root_cert.ini` rendered, `openssl req -x509` through the engine, and the
 * result verified before anything is written to the CA directory.
 */
export async function createRoot(options: TokenCommandOptions & { days: number; label: string }): Promise<IssuedCa> {
  requireKeyLabel('--label', options.label);
  const ca = await loadCa(options);
  const { settings, paths } = ca;
  const change = { command: 'root', requestKey: requestKey('root', options.label, options.days), timeoutMs: options.lockTimeoutMs, onWait: options.say, say: options.say };
  const resumed = await resumeInterrupted<IssuedCa>(paths.dir, change);
  if (resumed) return resumed;
  const keyType = caKeyType(settings, 'root');
  const digest = caDigest(settings, 'root');
  await requireNoRootYet(ca);
  await requireTools();
  const token = await openToken(options.run, ca.rootToken, options);
  return withCaChange(paths.dir, ({ leftoverKey, keyGenerationStarts }) =>
    withWorkspace(async (work) => {
      const pin = await pinFor(ca.rootToken, options.say);
      if (leftoverKey) await removeLeftoverKey(token, pin, leftoverKey.idHex, options.say);
      options.say(`generating the root key (${keyType}, label '${options.label}') on token '${ca.rootToken.tokenLabel}'…`);
      const configText = await rootConfigText(ca, digest);
      const config = join(work, 'create_root_cert.ini');
      await writeWorkspaceFile(config, configText);
      const shadow = await shadowRoot(options.run, keyType, { config, days: options.days, digest, work });
      const starts = (idHex: string) => keyGenerationStarts({ role: 'root', tokenLabel: ca.rootToken.tokenLabel, label: options.label, idHex });
      const { key, pem, checks } = await withNewCaKey(token, pin, { keyType, label: options.label, workspace: work, starts }, async (key, tokenSpki) => {
        const out = join(work, 'root.crt');
        options.say('self-signing the root certificate on the token (openssl req -x509)…');
        const printed = await openssl.createSelfSigned(
          await signerFor(token, ca.rootToken, pin, work, options.say),
          { config, keyUri: key.uri, days: options.days, digest, out },
        );
        const pem = await readOpensslOutput(out, 'openssl req -x509', printed);
        const der = pemToDer(pem, 'CERTIFICATE', 'root.crt');
        requireFreshSerial(der, new Set()); // openssl req -x509 draws it; no database to collide with
        const checks = verifyCaCertificate('the root certificate', decodeCertificate(der), {
          issuer: undefined,
          digest,
          tokenSpki,
          pathLength: undefined,
        });
        const same = requireSameCertificate('the root certificate', decodeCertificate(der), shadow.decoded, ROOT_NOT_BEFORE_TOLERANCE_MS);
        return { key, pem, checks: [...shadow.checks, ...checks, same] };
      });
      const configPath = join(paths.config, 'create_root_cert.ini');
      const cert = decodeCertificate(pemToDer(pem, 'CERTIFICATE', paths.rootCert));
      const result = {
        certificate: paths.rootCert,
        keyUri: key.uri,
        subject: formatName(cert.subject),
        notAfter: cert.notAfter,
        checks: [`key ${describeKey(cert.spkiDer)}`, ...checks],
        files: [paths.rootCert, configPath],
      };
      return {
        result,
        summary: `root CA certificate ${cert.serialHex} for ${result.subject}, key ${key.uri}`,
        writes: [
          { path: configPath, data: configText },
          { path: paths.rootCert, data: pem },
          settingsWrite(paths.dir, { ...settings, rootKey: key }),
        ],
        audit: [
          { action: 'key-generated' as const, command: 'root', keyUri: key.uri, detail: `${keyType} on token '${ca.rootToken.tokenLabel}'` },
          { action: 'certificate-issued' as const, command: 'root', ...certificateAudit(cert, result.subject), detail: 'root CA' },
        ],
      };
    }),
    change,
  );
}
