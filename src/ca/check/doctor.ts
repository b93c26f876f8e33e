import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatPkcs11Uri, parsePkcs11Uri, uriText, withoutNulPadding } from '../../pkcs11/uri.js';
import * as dpkg from '../../tools/dpkg.js';
import * as openssl from '../../tools/openssl.js';
import * as p11tool from '../../tools/p11tool.js';
import type { Runner } from '../../tools/run.js';
import { daysUntil, decodeCertificate, pemToDer } from '../../x509/decode.js';
import { caPaths } from '../directory/layout.js';
import { DEFAULT_MODULE, describeKeys, readSettings, type Settings } from '../directory/settings.js';
import { findToken, requireTools } from '../token/token.js';
import { withWorkspace } from '../directory/workspace.js';
import { BACKEND_PACKAGES, backendCandidates, backendLoads, writeBackendConfig, type BackendName } from '../../openssl/backend.js';

export type Finding = { readonly level: 'ok' | 'warn' | 'fail'; readonly text: string };

async function attempt(findings: Finding[], what: () => Promise<Finding>): Promise<void> {
  try {
    findings.push(await what());
  } catch (error) {
    findings.push({ level: 'fail', text: error instanceof Error ? error.message : String(error) });
  }
}

async function checkCertificate(path: string, name: string): Promise<Finding> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return { level: 'warn', text: `${name}: not created yet (${path})` };
  const cert = decodeCertificate(pemToDer(text, 'CERTIFICATE', path));
  const days = daysUntil(cert.notAfter);
  return { level: days < 0 ? 'fail' : days < 30 ? 'warn' : 'ok', text: `${name}: expires ${cert.notAfter.toISOString().slice(0, 10)} (${days} days)` };
}

/** Which of the two backends load with `module`, and which one `auto` (or the CA's setting) takes. */
async function checkBackends(run: Runner, module: string, settings: Settings | undefined): Promise<Finding> {
  const all = backendCandidates('auto');
  const loading = await withWorkspace(async (work) => {
    const found: BackendName[] = [];
    for (const backend of all) if (await backendLoads(run, backend, await writeBackendConfig(work, backend, module, 'doctor'))) found.push(backend);
    return found;
  });
  const versions = await Promise.all(all.map(async (b) => `${b} ${loading.includes(b) ? 'loads' : 'does not load'} (${BACKEND_PACKAGES[b]} ${(await dpkg.installedVersion(run, BACKEND_PACKAGES[b])) ?? 'not installed'})`));
  const choice = settings?.backend ?? 'auto';
  // The one resolveBackend would take: the first of the choice's candidates that loads.
  const chosen = backendCandidates(choice).find((backend) => loading.includes(backend));
  const text = `OpenSSL backends with ${module}: ${versions.join('; ')}; this CA uses ${chosen ?? 'none'} (--backend ${choice})`;
  if (chosen) return { level: 'ok', text };
  return { level: 'fail', text: `${text}; install ${choice === 'auto' ? 'pkcs11-provider' : BACKEND_PACKAGES[choice]}` };
}

/**
 * Checks what the ceremony needs, without logging in: the tools, libp11's version (0.4.12 segfaults on
 * key-load failures), which backends OpenSSL loads, that the module loads and the token is present,
 * and — in a CA directory — its settings and certificates.
 */
export async function diagnose(options: { run: Runner; dir: string; module?: string; token?: string }): Promise<Finding[]> {
  const findings: Finding[] = [];
  const settings: Settings | undefined = await readSettings(resolve(options.dir)).catch(() => undefined);
  const module = options.module ?? settings?.module ?? DEFAULT_MODULE;
  const tokenLabel = options.token ?? settings?.token;
  await attempt(findings, async () => {
    await requireTools();
    return { level: 'ok', text: `tools: ${await openssl.version(options.run)}; ${await p11tool.version(options.run)}; pkcs11-tool present` };
  });
  await attempt(findings, async () => {
    const libp11 = await dpkg.installedVersion(options.run, 'libengine-pkcs11-openssl');
    // Without the engine (OpenSSL 4, RHEL 10, or simply not installed) the provider is the backend.
    if (libp11 === undefined) return { level: 'ok', text: 'libp11 engine: no Debian package installed (if you install it elsewhere, use 0.4.13 or later: 0.4.12 crashes on every key-load failure)' };
    if (!dpkg.upstreamAtLeast(libp11, '0.4.13')) return { level: 'warn', text: `libp11 ${libp11}: crashes (SIGSEGV) on every key-load failure, a wrong PIN included; install 0.4.13 from bookworm-backports` };
    return { level: 'ok', text: `libp11 ${libp11}` };
  });
  await attempt(findings, () => checkBackends(options.run, module, settings));
  await attempt(findings, async () => {
    // Listed again when the token is missing, as openToken does: a listing can miss a token SoftHSM2 is rewriting.
    const { tokens, match } = await findToken(options.run, module, tokenLabel);
    if (tokenLabel !== undefined && !match) {
      const labels = tokens.map((token) => `'${uriText(parsePkcs11Uri(token.url), 'token') ?? '?'}'`);
      return { level: 'fail', text: `token '${tokenLabel}' not found on ${module}; tokens present: ${labels.join(', ') || 'none'}` };
    }
    const shown = tokens.map((token) => formatPkcs11Uri(withoutNulPadding(parsePkcs11Uri(token.url)))).join(', ');
    return { level: 'ok', text: `module ${module}: ${tokens.length} token(s)${tokenLabel ? `, '${tokenLabel}' present` : ''} — ${shown || 'none'}` };
  });
  const rootModule = settings?.rootModule;
  const rootToken = settings?.rootToken;
  if (rootModule !== undefined || rootToken !== undefined) {
    await attempt(findings, async () => {
      const module = rootModule ?? settings!.module;
      const label = rootToken ?? settings!.token;
      return (await findToken(options.run, module, label)).match
        ? { level: 'ok', text: `offline root token '${label}' present on ${module}` }
        : { level: 'warn', text: `offline root token '${label}' not plugged in (${module}); only root, intermediate, crl --root and revoke --root need it` };
    });
  }
  if (settings) {
    const paths = caPaths(resolve(options.dir));
    findings.push({ level: 'ok', text: `CA in ${paths.dir}: ${describeKeys(settings)}, token '${settings.token}'` });
    await attempt(findings, () => checkCertificate(paths.rootCert, 'root CA'));
    await attempt(findings, () => checkCertificate(paths.intermediateCert, 'intermediate CA'));
  }
  return findings;
}
