import { UsageError } from '../errors.js';
import { parseKeyType } from '../ca/directory/settings.js';
import { issueLeaf, type IssueOptions } from '../ca/signing/issue.js';
import { dryRunNewKey, issueWithNewKey, type NewKeyRequest } from '../ca/signing/new-key.js';
import { dryRunLeaf } from '../ca/shadow/dry-run.js';
import { printDryRun, printLeafReport } from './output.js';

/** A leaf command's options: a CSR to sign (`csrPath`), or `newKey` to make the key here. */
export type LeafSource = { csrPath: string } | { newKey: NewKeyRequest };
export type LeafCommandOptions = Omit<IssueOptions, 'csrPath'> & LeafSource & { dryRun?: boolean };

/** `server` and `client`: sign the CSR, or with --new-key make the key and sign its CSR the same way. */
export async function leafCommand(title: string, options: LeafCommandOptions): Promise<void> {
  if ('newKey' in options) {
    if (options.dryRun) return printDryRun(await dryRunNewKey(options));
    const { issued, key, p12 } = await issueWithNewKey(options);
    return printLeafReport(title, issued, { key, ...(p12 ? { p12 } : {}) });
  }
  if (options.dryRun) return printDryRun(await dryRunLeaf(options));
  printLeafReport(title, await issueLeaf(options));
}

export function serverCommand(options: LeafCommandOptions): Promise<void> {
  return leafCommand(`${options.profile} certificate issued`, options);
}

/** The flags that choose what a leaf command signs. */
export interface LeafSourceFlags {
  readonly newKey?: string;
  readonly keyType?: string;
  readonly outDir?: string;
  readonly out?: string;
  readonly p12?: string;
  readonly p12PasswordFile?: string;
}

const KEY_ONLY = [['keyType', '--key-type'], ['outDir', '--out-dir'], ['p12', '--p12'], ['p12PasswordFile', '--p12-password-file']] as const;

/** A CSR to sign, or --new-key NAME with its options; each refusal names the option that does fit. */
export function leafSource(csr: string | undefined, flags: LeafSourceFlags): LeafSource {
  if (flags.newKey === undefined) {
    const keyOnly = KEY_ONLY.find(([field]) => flags[field] !== undefined);
    if (keyOnly?.[1] === '--p12') throw new UsageError('--p12 needs --new-key NAME: a PKCS#12 holds the private key, and for a CSR only its requester has that key');
    if (keyOnly) throw new UsageError(`${keyOnly[1]} is an option of --new-key NAME; a CSR already carries its key`);
    if (csr === undefined) throw new UsageError('name the CSR to sign, or pass --new-key NAME to have the key made here');
    return { csrPath: csr };
  }
  if (csr !== undefined) throw new UsageError(`give either a CSR (${csr}) or --new-key ${flags.newKey}, not both`);
  if (flags.out !== undefined) throw new UsageError('--out names the certificate of a CSR; with --new-key the files are NAME.key, NAME.crt and NAME.chain.crt in --out-dir');
  const optional = { ...(flags.outDir ? { outDir: flags.outDir } : {}), ...(flags.p12 ? { p12: flags.p12 } : {}), ...(flags.p12PasswordFile ? { p12PasswordFile: flags.p12PasswordFile } : {}) };
  return { newKey: { name: flags.newKey, keyType: parseKeyType(flags.keyType ?? 'EC:secp256r1'), ...optional } };
}
