import type { TokenCommandOptions } from '../ca/directory/context.js';
import type { NameConstraints } from '../ca/directory/settings.js';
import { signForeignIntermediate } from '../ca/signing/foreign.js';
import { createIntermediate } from '../ca/signing/intermediate.js';
import { renewIntermediate } from '../ca/signing/intermediate-renewal.js';
import { rekeyIntermediate } from '../ca/signing/intermediate-rekey.js';
import { UsageError } from '../errors.js';
import { day, printCaReport, printDryRun, printReport } from './output.js';
import { dryRunIntermediate } from '../ca/shadow/dry-run.js';

export interface IntermediateCommandOptions extends TokenCommandOptions {
  readonly days: number;
  readonly label: string;
  /** --label was on the command line (it has a default): refused where no key is made, never ignored. */
  readonly labelGiven?: boolean;
  readonly nameConstraints?: NameConstraints;
  /** An online CA's CSR (step-ca, Vault, EJBCA): sign it instead of making our own intermediate. */
  readonly csr?: string;
  readonly pathlen?: number;
  readonly out?: string;
  readonly outDir?: string;
  readonly dryRun?: boolean;
  /** Renew this directory's intermediate: same key and subject, new certificate from the root. */
  readonly renew?: boolean;
  /** Rekey it: a new key and certificate; the old key keeps signing the CRL of what it issued. */
  readonly rekey?: boolean;
  readonly crlUrl?: string;
  readonly caIssuersUrl?: string;
}

/** `intermediate`: our own intermediate on the token, or with --csr an online CA's, signed by the root. */
export async function intermediateCommand(options: IntermediateCommandOptions): Promise<void> {
  if (options.renew && options.rekey) throw new UsageError('--renew keeps the key and --rekey replaces it: choose one');
  if (options.renew) return renewCommand(options);
  if (options.rekey) return rekeyCommand(options);
  const rekeyOnly = [['--crl-url', options.crlUrl], ['--ca-issuers-url', options.caIssuersUrl]].find(([, value]) => value !== undefined);
  if (rekeyOnly) throw new UsageError(`${rekeyOnly[0]} here applies to --rekey only (a new intermediate takes the URLs of \`init\`); drop ${rekeyOnly[0]}`);
  if (options.csr === undefined) {
    const foreignOnly = [['--pathlen', options.pathlen], ['--out', options.out], ['--out-dir', options.outDir], ['--exclude-dns', options.nameConstraints?.excludedDns]].find(([, value]) => value !== undefined);
    if (foreignOnly) throw new UsageError(`${foreignOnly[0]} applies to an online CA's intermediate only; add --csr FILE, or drop ${foreignOnly[0]}`);
    if (options.dryRun) return printDryRun(await dryRunIntermediate(options));
    const intermediate = await createIntermediate(options);
    await printCaReport(`intermediate CA created: ${intermediate.certificate}`, intermediate, `hsm-openssl-ca server REQ.csr --dir ${options.dir}`);
    return;
  }
  if (options.labelGiven) throw new UsageError('--label names a key this command makes on the token; with --csr the online CA holds its own key: drop --label');
  if (options.dryRun) throw new UsageError('--dry-run is offered for this directory\'s own intermediate, not yet with --csr; drop one of them');
  const { csr, pathlen, out, outDir, ...rest } = options;
  const signed = await signForeignIntermediate({ ...rest, csrPath: csr, pathlen: pathlen ?? 0, ...(out !== undefined ? { out } : {}), ...(outDir !== undefined ? { outDir } : {}) });
  printReport(
    `intermediate CA certificate signed for an online CA: ${signed.subject}`,
    [
      ['serial', signed.serial],
      ['pathlen', String(signed.pathlen)],
      ['expires', day(signed.notAfter)],
      ['files', signed.files.join(', ')],
      ...(signed.ignoredExtensions.length > 0 ? [['ignored', `${signed.ignoredExtensions.join(', ')} (requested by the CSR, not signed)`] as [string, string]] : []),
      ['root SHA-256', signed.rootFingerprint],
      ['root CRL', signed.rootCrlUrl ? `${signed.rootCrlUrl} (publish ${signed.rootCrlFile} there after each \`crl --root\`)` : `no URL configured (init --root-crl-url); the file is ${signed.rootCrlFile}`],
      ['revoke', `hsm-openssl-ca revoke --root ${signed.serial} --dir ${options.dir}`],
    ],
    signed.checks,
  );
}

/** `intermediate --renew`: options that shape a new intermediate or an online CA's are refused, not ignored. */
async function renewCommand(options: IntermediateCommandOptions): Promise<void> {
  const other = [['--label', options.labelGiven ? options.label : undefined], ['--crl-url', options.crlUrl], ['--ca-issuers-url', options.caIssuersUrl], ['--csr', options.csr], ['--pathlen', options.pathlen], ['--out', options.out], ['--out-dir', options.outDir], ['--permit-dns/--permit-ip/--exclude-dns', options.nameConstraints]].find(([, value]) => value !== undefined);
  if (other) throw new UsageError(`${other[0]} does not apply to --renew (the renewed certificate keeps the intermediate's key, subject and name constraints); drop ${other[0]}`);
  if (options.dryRun) return printDryRun(await dryRunIntermediate({ ...options, renew: true }));
  const renewed = await renewIntermediate(options);
  await printCaReport(
    `intermediate CA renewed: ${renewed.certificate} (the old certificate is kept as ${renewed.superseded}; certificates it issued still verify, their NAME.chain.crt files are not rewritten)`,
    renewed,
    `hsm-openssl-ca status --dir ${options.dir}`,
  );
}

/** `intermediate --rekey`: a new key; where the old and new CRLs and certificates are to be published. */
async function rekeyCommand(options: IntermediateCommandOptions): Promise<void> {
  const other = [['--csr', options.csr], ['--pathlen', options.pathlen], ['--out', options.out], ['--out-dir', options.outDir], ['--permit-dns/--permit-ip/--exclude-dns', options.nameConstraints]].find(([, value]) => value !== undefined);
  if (other) throw new UsageError(`${other[0]} does not apply to --rekey (the new certificate keeps the intermediate's subject and name constraints); drop ${other[0]}`);
  const rekey = { days: options.days, ...(options.labelGiven ? { label: options.label } : {}), ...(options.crlUrl !== undefined ? { crlUrl: options.crlUrl } : {}), ...(options.caIssuersUrl !== undefined ? { caIssuersUrl: options.caIssuersUrl } : {}) };
  if (options.dryRun) return printDryRun(await dryRunIntermediate({ ...options, rekeyWith: rekey }));
  const { label: _label, ...token } = options;
  const rekeyed = await rekeyIntermediate({ ...token, ...rekey });
  const publish = rekeyed.crlUrl ? `copy ${rekeyed.crlFile} to ${rekeyed.crlUrl} now and after each \`crl\`` : `${rekeyed.crlFile}, signed now; publish it after each \`crl\` (no CRL URL set)`;
  await printCaReport(
    `intermediate CA rekeyed: ${rekeyed.certificate} has a new key (generation ${rekeyed.generation}); the old certificate is kept as ${rekeyed.superseded}, and the old key signs only the CRL of what it issued until that certificate expires`,
    { ...rekeyed, files: [...rekeyed.files, `new CRL: ${publish}`, ...(rekeyed.caIssuersUrl ? [`publish ${rekeyed.certificate} at ${rekeyed.caIssuersUrl} (keep the old one at its URL)`] : [])] },
    `publish the new key's CRL; from now on \`hsm-openssl-ca crl --dir ${options.dir}\` signs both keys' CRLs — publish both each time`,
  );
}
