import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { pemToDer } from '../x509/decode.js';
import type { Runner } from './run.js';
import { parseTokens, parseUrls, type P11toolToken } from './parse/p11tool.js';

/** `--batch` makes p11tool fail instead of prompting; the PIN reaches it only through GNUTLS_PIN. */
const BATCH = ['--batch'];

/** Whether `module` is p11-kit's proxy, which exposes every module p11-kit has registered. */
export function isP11KitProxy(module: string): boolean {
  return basename(module).startsWith('p11-kit-proxy');
}

/**
 * The module selection: `--provider` keeps p11-kit's other modules out. p11tool refuses the p11-kit proxy
 * as `--provider` ("refusing to load the p11-kit-proxy.so module as a registered module"), and without
 * `--provider` it already sees exactly what the proxy shows.
 */
function moduleArgs(module: string): string[] {
  return isP11KitProxy(module) ? [] : ['--provider', module];
}

/** Tokens of one module. Fails when the module cannot load. */
export async function listTokens(run: Runner, module: string): Promise<P11toolToken[]> {
  const { stdout } = await run('p11tool', [...BATCH, ...moduleArgs(module), '--list-tokens']);
  return parseTokens(stdout);
}

/** URLs of the private keys on a token (one login). */
export async function listPrivateKeyUrls(run: Runner, module: string, tokenUrl: string, pin: string): Promise<string[]> {
  const { stdout } = await run('p11tool', [...BATCH, ...moduleArgs(module), '--login', '--only-urls', '--list-all-privkeys', tokenUrl], {
    secrets: { GNUTLS_PIN: pin },
  });
  return parseUrls(stdout);
}

/**
 * The DER SubjectPublicKeyInfo of a key on the token, to compare with what a certificate carries.
 * Written to `outfile`: printing a key to stdout makes p11tool 3.7 warn and then sleep for 3 seconds.
 */
export async function exportPublicKey(run: Runner, module: string, keyUrl: string, pin: string, outfile: string): Promise<Buffer> {
  await run('p11tool', [...BATCH, ...moduleArgs(module), '--login', '--export-pubkey', '--outfile', outfile, keyUrl], {
    secrets: { GNUTLS_PIN: pin },
  });
  return pemToDer(await readFile(outfile, 'utf8'), 'PUBLIC KEY', `p11tool --export-pubkey ${keyUrl}`);
}

/** `p11tool --version`'s first line, e.g. "p11tool 3.7.9". */
export async function version(run: Runner): Promise<string> {
  return (await run('p11tool', ['--version'])).stdout.split('\n')[0]!.trim();
}
