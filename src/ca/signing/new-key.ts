import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import * as openssl from '../../tools/openssl.js';
import { rememberSecret } from '../../secrets.js';
import { commandLine, type Runner } from '../../tools/run.js';
import { loadCa } from '../directory/context.js';
import { requireWritableOutput } from '../directory/output-file.js';
import type { PlannedWrite } from '../directory/journal.js';
import type { KeyType } from '../directory/settings.js';
import { withWorkspace, writeWorkspaceFile } from '../directory/workspace.js';
import { parseSanText } from '../../x509/san.js';
import { dryRunLeaf, type DryRun } from '../shadow/dry-run.js';
import { P12_PASSWORD_VARIABLE } from './option-values.js';
import { chainOutput, issueLeaf, type Deliveries, type IssuedLeaf, type IssueOptions } from './issue.js';


/**
 * `--new-key NAME`: the CN and the files' stem. Letters, digits and `. _ @ -` only: a DNS name, a host or
 * user name or an e-mail address fits, while `/`, spaces, a leading dot or `..` (which would leave the
 * output directory or hide the file) and OpenSSL's `-subj` separators cannot get in. 64: the CN's upper bound.
 */
const LEAF_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._@-]{0,62}[A-Za-z0-9])?$/;

export interface NewKeyRequest {
  readonly name: string;
  readonly keyType: KeyType;
  /** Where NAME.key, NAME.crt and NAME.chain.crt go (default: the current directory). */
  readonly outDir?: string;
  readonly p12?: string;
  readonly p12PasswordFile?: string;
}

export type NewKeyOptions = Omit<IssueOptions, 'csrPath' | 'out'> & { readonly newKey: NewKeyRequest };

/** What `--new-key` delivers besides the certificate and chain. */
export interface IssuedWithKey {
  readonly issued: IssuedLeaf;
  readonly key: string;
  readonly p12?: string;
}

export function requireLeafName(name: string): void {
  if (LEAF_NAME.test(name) && !name.includes('..')) return;
  throw new UsageError(`--new-key ${name}: the name becomes the CN and the file names NAME.key and NAME.crt, so it takes letters, digits and . _ @ - only (at most 64, a letter or digit at each end); choose another name`);
}

/** The files' paths: NAME.key and NAME.crt in --out-dir, the chain beside them, the PKCS#12 where --p12 says. */
export function newKeyFiles(request: NewKeyRequest): { key: string; certificate: string; chain: string; p12?: string } {
  const dir = resolve(request.outDir ?? '.');
  const certificate = join(dir, `${request.name}.crt`);
  return { key: join(dir, `${request.name}.key`), certificate, chain: chainOutput(certificate), ...(request.p12 ? { p12: resolve(request.p12) } : {}) };
}

/**
 * The SANs to sign: for a server, NAME itself first when it is a DNS name or an IP address (as mkcert and
 * step do), then --san; a client's NAME is often a person, so only --san (the CSR rule then applies).
 */
function sansWithName(options: NewKeyOptions): readonly string[] {
  if (options.profile === 'client') return options.sans;
  const own = ownSan(options.newKey.name);
  if (!own || options.sans.some((san) => san.toLowerCase() === own.toLowerCase())) return options.sans;
  return [own, ...options.sans];
}

/** NAME as a SAN, when it is an IP address or a DNS name. */
function ownSan(name: string): string | undefined {
  if (isIP(name)) return `IP:${name}`;
  try {
    return `DNS:${parseSanText(`DNS:${name}`).value}`;
  } catch {
    return undefined;
  }
}

/** The PKCS#12 password: --p12-password-file's first line, else HSM_CA_P12_PASSWORD; never empty. */
async function p12Password(request: NewKeyRequest): Promise<string> {
  const source = request.p12PasswordFile ? `--p12-password-file ${request.p12PasswordFile}` : P12_PASSWORD_VARIABLE;
  const password = request.p12PasswordFile
    ? (await readFile(request.p12PasswordFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read --p12-password-file ${request.p12PasswordFile} (${error.code ?? error.message})`);
      })).replace(/\r?\n$/, '')
    : process.env[P12_PASSWORD_VARIABLE];
  if (password === undefined) throw new UsageError(`--p12 needs a password: set ${P12_PASSWORD_VARIABLE} or pass --p12-password-file FILE`);
  if (password === '') throw new UsageError(`the PKCS#12 password from ${source} is empty; a PKCS#12 holds the private key — give it a password`);
  if (/[\r\n\0]/.test(password)) throw new UsageError(`the PKCS#12 password from ${source} contains a line break or NUL; use one line of text`);
  rememberSecret(password);
  return password;
}

/** Before anything is made: the files are new and outside the CA directory, the name is usable, the password given. */
async function prepare(options: NewKeyOptions): Promise<{ files: ReturnType<typeof newKeyFiles>; password?: string }> {
  requireLeafName(options.newKey.name);
  const files = newKeyFiles(options.newKey);
  const { paths } = await loadCa(options);
  const key = await requireWritableOutput(files.key, paths.dir, '--new-key');
  // Here too, so a clash names --new-key and --out-dir rather than planLeaf's --out, which this mode refuses.
  for (const path of [files.certificate, files.chain]) await requireWritableOutput(path, paths.dir, '--new-key');
  const p12 = files.p12 === undefined ? undefined : await requireWritableOutput(files.p12, paths.dir, '--p12');
  const password = p12 === undefined ? undefined : await p12Password(options.newKey);
  return { files: { ...files, key, ...(p12 ? { p12 } : {}) }, ...(password ? { password } : {}) };
}

/** The software key (never on the token) and its CSR with CN=NAME, in the private workspace `work`. */
async function makeKeyAndCsr(run: Runner, request: NewKeyRequest, work: string): Promise<{ key: string; csr: string }> {
  const key = join(work, 'leaf.key');
  const csr = join(work, 'leaf.csr');
  await run('openssl', openssl.generateKeyArgs(request.keyType, key));
  await run('openssl', openssl.createLeafCsrArgs({ key, subject: `/CN=${request.name}`, out: csr }));
  return { key, csr };
}

/** The key (0600) and, with --p12, the PKCS#12 (0600): delivered in the certificate's own commit. */
function deliveries(run: Runner, files: ReturnType<typeof newKeyFiles>, key: string, name: string, password: string | undefined): Deliveries {
  return {
    files: [{ path: files.key, option: '--new-key' }, ...(files.p12 ? [{ path: files.p12, option: '--p12' }] : [])],
    writes: async ({ chain, work }) => {
      const writes: PlannedWrite[] = [{ path: files.key, data: await readFile(key), mode: 0o600, exclusive: true }];
      if (files.p12 === undefined || password === undefined) return writes;
      const chainFile = join(work, 'p12-chain.pem');
      await writeWorkspaceFile(chainFile, chain);
      const out = join(work, 'leaf.p12');
      await openssl.exportPkcs12(run, { key, chain: chainFile, name, out, password });
      return [...writes, { path: files.p12, data: await readFile(out), mode: 0o600, exclusive: true }];
    },
  };
}

/**
 * `server|client --new-key NAME`: a software key made here, its CSR, and that CSR signed exactly as a
 * requester's would be (same checks, shadow run, journal and audit). The key reaches its file only in the
 * certificate's commit, so a refused or failed signing leaves no key behind.
 */
export async function issueWithNewKey(options: NewKeyOptions): Promise<IssuedWithKey> {
  const { files, password } = await prepare(options);
  return withWorkspace(async (work) => {
    const { key, csr } = await makeKeyAndCsr(options.run, options.newKey, work);
    const { newKey, ...rest } = options;
    const issued = await issueLeaf({
      ...rest,
      csrPath: csr,
      out: files.certificate,
      sans: sansWithName(options),
      requestIdentity: JSON.stringify(['new-key', newKey.name, newKey.keyType, files.key, files.p12 ?? '']),
      deliveries: deliveries(options.run, files, key, newKey.name, password),
      auditNote: `${newKey.keyType} key made here (software) for ${files.key}${files.p12 ? `, PKCS#12 ${files.p12}` : ''}`,
    });
    return { issued, key: files.key, ...(files.p12 ? { p12: files.p12 } : {}) };
  });
}

/** `--new-key --dry-run`: the leaf the shadow CA signs from a throwaway key; the key commands are listed first. */
export async function dryRunNewKey(options: NewKeyOptions): Promise<DryRun> {
  const { files } = await prepare(options);
  return withWorkspace(async (work) => {
    const { csr } = await makeKeyAndCsr(options.run, options.newKey, work);
    const { newKey, ...rest } = options;
    const dry = await dryRunLeaf({ ...rest, csrPath: csr, out: files.certificate, sans: sansWithName(options) });
    const kept = [
      commandLine(['openssl', ...openssl.generateKeyArgs(newKey.keyType, files.key)]),
      commandLine(['openssl', ...openssl.createLeafCsrArgs({ key: files.key, subject: `/CN=${newKey.name}`, out: 'WORKSPACE/leaf.csr' })]),
    ];
    const p12 = files.p12 ? [commandLine(['openssl', ...openssl.exportPkcs12Args({ key: files.key, chain: files.chain, name: newKey.name, out: files.p12 })])] : [];
    return { ...dry, title: `${dry.title}, with a new ${newKey.keyType} key to ${files.key}`, commands: [...kept, ...dry.commands, ...p12] };
  });
}
