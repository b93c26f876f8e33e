import { UsageError } from '../errors.js';
import { parseKeyType } from '../ca/directory/settings.js';
import { issueBatch } from '../ca/signing/batch/batch.js';
import { dryRunBatch } from '../ca/signing/batch/dry-run.js';
import { csrsInDirectory, type BatchRequest } from '../ca/signing/batch/plan.js';
import { issueLeaf, type IssueOptions } from '../ca/signing/issue.js';
import { dryRunNewKey, issueWithNewKey, type NewKeyRequest } from '../ca/signing/new-key.js';
import { dryRunLeaf } from '../ca/shadow/dry-run.js';
import { printBatchReport, printDryRun, printLeafReport } from './output.js';

/** A leaf command's options: a CSR to sign (`csrPath`), `newKey` to make the key here, or a `batch` of CSRs. */
export type LeafSource = { csrPath: string } | { newKey: NewKeyRequest } | { batch: BatchRequest & { fromDir?: string } };
export type LeafCommandOptions = Omit<IssueOptions, 'csrPath'> & LeafSource & { dryRun?: boolean };

/** `server` and `client`: sign the CSR(s), or with --new-key make the key and sign its CSR the same way. */
export async function leafCommand(title: string, options: LeafCommandOptions): Promise<void> {
  if ('batch' in options) {
    const { fromDir, ...batch } = options.batch;
    const csrPaths = fromDir === undefined ? batch.csrPaths : await csrsInDirectory(fromDir);
    if (options.dryRun) return printDryRun(await dryRunBatch({ ...options, ...batch, csrPaths }));
    return printBatchReport(title, await issueBatch({ ...options, ...batch, csrPaths }));
  }
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
  readonly fromDir?: string;
  readonly strict?: boolean;
  readonly san?: readonly string[];
}

const KEY_ONLY = [['keyType', '--key-type'], ['p12', '--p12'], ['p12PasswordFile', '--p12-password-file']] as const;

/** Several CSRs, --from-dir or --out-dir: a batch; each refusal names what does fit. */
function batchSource(csrs: readonly string[], flags: LeafSourceFlags): LeafSource {
  if (flags.fromDir !== undefined && csrs.length > 0) throw new UsageError(`give CSRs (${csrs[0]}…) or --from-dir ${flags.fromDir}, not both`);
  if (flags.out !== undefined) throw new UsageError('--out names one certificate; for several CSRs pass --out-dir DIR (NAME.csr → DIR/NAME.crt and DIR/NAME.chain.crt)');
  if ((flags.san ?? []).length > 0) throw new UsageError('--san adds names to one CSR; a batch signs each CSR with its own SANs — sign that CSR on its own with --san');
  return { batch: { csrPaths: csrs, strict: flags.strict ?? false, ...(flags.fromDir !== undefined ? { fromDir: flags.fromDir } : {}), ...(flags.outDir !== undefined ? { outDir: flags.outDir } : {}) } };
}

/** CSRs to sign, or --new-key NAME with its options; each refusal names the option that does fit. */
export function leafSource(csrs: readonly string[], flags: LeafSourceFlags): LeafSource {
  if (flags.newKey === undefined) {
    const keyOnly = KEY_ONLY.find(([field]) => flags[field] !== undefined);
    if (keyOnly?.[1] === '--p12') throw new UsageError('--p12 needs --new-key NAME: a PKCS#12 holds the private key, and for a CSR only its requester has that key');
    if (keyOnly) throw new UsageError(`${keyOnly[1]} is an option of --new-key NAME; a CSR already carries its key`);
    if (csrs.length === 0 && flags.fromDir === undefined) throw new UsageError('name the CSR(s) to sign, pass --from-dir DIR, or pass --new-key NAME to have the key made here');
    if (csrs.length > 1 || flags.fromDir !== undefined || flags.outDir !== undefined) return batchSource(csrs, flags);
    return { csrPath: csrs[0]! };
  }
  if (csrs.length > 0) throw new UsageError(`give either a CSR (${csrs[0]}) or --new-key ${flags.newKey}, not both`);
  if (flags.fromDir !== undefined) throw new UsageError(`give either --from-dir ${flags.fromDir} or --new-key ${flags.newKey}, not both`);
  if (flags.out !== undefined) throw new UsageError('--out names the certificate of a CSR; with --new-key the files are NAME.key, NAME.crt and NAME.chain.crt in --out-dir');
  const optional = { ...(flags.outDir ? { outDir: flags.outDir } : {}), ...(flags.p12 ? { p12: flags.p12 } : {}), ...(flags.p12PasswordFile ? { p12PasswordFile: flags.p12PasswordFile } : {}) };
  return { newKey: { name: flags.newKey, keyType: parseKeyType(flags.keyType ?? 'EC:secp256r1'), ...optional } };
}
