import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { CaError, UsageError } from '../../../errors.js';
import { FILE_OPERATIONS_AT_ONCE, mapLimited } from '../../../map-limited.js';
import type { LoadedCa } from '../../directory/context.js';
import { chainOutput, defaultOutput, planLeaf, type IssuedLeaf, type IssueOptions } from '../issue.js';

/** What a batch signs: `server|client A.csr B.csr …` or `--from-dir DIR`. */
export interface BatchRequest {
  readonly csrPaths: readonly string[];
  /** Where the certificates go (NAME.crt and NAME.chain.crt for NAME.csr); else beside each CSR. */
  readonly outDir?: string;
  /** Refuse the whole batch when any CSR is refused, instead of signing the others. */
  readonly strict: boolean;
}

/** Many CSRs, one question, one PIN entry, one lock. */
export type BatchOptions = BatchRequest & Omit<IssueOptions, 'csrPath' | 'out' | 'sans' | 'replaceSans' | 'command' | 'nameConstraintPreCheck' | 'requestIdentity' | 'deliveries' | 'auditNote' | 'alsoRevoke'>;

export interface BatchRefusal {
  readonly csr: string;
  readonly reason: string;
}

export interface BatchResult {
  readonly issued: readonly IssuedLeaf[];
  readonly refused: readonly BatchRefusal[];
}

export type Plan = Awaited<ReturnType<typeof planLeaf>>;
export interface Planned {
  readonly csrPath: string;
  readonly plan: Plan;
}

const CSR_NAME = /\.(csr|req)$/i;

/** --from-dir: the directory's *.csr and *.req files, in name order. */
export async function csrsInDirectory(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => {
    throw new UsageError(`--from-dir ${dir} is not a readable directory`);
  });
  const csrs = names.filter((name) => CSR_NAME.test(name)).sort().map((name) => join(dir, name));
  if (csrs.length === 0) throw new UsageError(`--from-dir ${dir} holds no *.csr or *.req file`);
  return csrs;
}

/** NAME.csr's certificate: OUT/NAME.crt with --out-dir, else beside the CSR. */
function batchOutput(csrPath: string, outDir: string | undefined): string {
  const beside = defaultOutput(resolve(csrPath));
  return outDir === undefined ? beside : join(resolve(outDir), basename(beside));
}

/** Every check that needs no token, for each CSR: the ones that pass, and each refusal with its reason. */
export async function planBatch(options: BatchOptions, ca: LoadedCa): Promise<{ planned: Planned[]; refused: BatchRefusal[] }> {
  if (options.outDir !== undefined && !(await stat(options.outDir).then((s) => s.isDirectory(), () => false))) {
    throw new UsageError(`--out-dir ${options.outDir} is not a directory; create it first`);
  }
  const claimed = new Map<string, string>();
  // Each item claims its files before its first await, and items start in order: the clashes a loop would find.
  const outcomes = await mapLimited(options.csrPaths, FILE_OPERATIONS_AT_ONCE, async (csrPath): Promise<Planned | BatchRefusal> => {
    const out = batchOutput(csrPath, options.outDir);
    const clash = [out, chainOutput(out)].find((file) => claimed.has(file));
    if (clash) return { csr: csrPath, reason: `its certificate files would be ${out} and ${chainOutput(out)}, which ${claimed.get(clash)} of this batch writes; rename one of the CSRs` };
    for (const file of [out, chainOutput(out)]) claimed.set(file, csrPath);
    try {
      return { csrPath, plan: await planLeaf({ ...options, csrPath, sans: [] }, ca, out) };
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      return { csr: csrPath, reason: error.message };
    }
  });
  return { planned: outcomes.filter((o): o is Planned => 'plan' in o), refused: outcomes.filter((o): o is BatchRefusal => 'reason' in o) };
}

/** The refusals on one line, for an error message: "a.csr: why; b.csr: why". */
export function describeRefusals(refused: readonly BatchRefusal[]): string {
  return refused.map((r) => `${r.csr}: ${r.reason}`).join('; ');
}

/** Refuses a batch with nothing to sign, or any refusal under --strict: nothing is asked, signed or written. */
export function requireSomethingToSign(options: BatchOptions, planned: readonly Planned[], refused: readonly BatchRefusal[]): void {
  const reasons = describeRefusals(refused);
  if (planned.length === 0) throw new CaError(`none of the ${refused.length} CSRs can be signed, so nothing was: ${reasons}`);
  if (options.strict && refused.length > 0) throw new CaError(`--strict: ${refused.length} of ${options.csrPaths.length} CSRs refused, so none was signed: ${reasons}`);
}

/**
 * What the batch's one "Sign the certificate?" question shows (confirmSigning: on a terminal, unless --yes):
 * the profile, the validity, each certificate to be signed with its subject, SANs and file, and each refused
 * CSR with its reason, so the answer covers the whole batch before the PIN is read.
 */
export function batchSummary(options: BatchOptions, planned: readonly Planned[], refused: readonly BatchRefusal[]): string {
  const lines = planned.map(({ plan }) => `  ${plan.subject.text}  ${plan.sanText.join(', ') || '(no SAN)'}  → ${plan.out}`);
  const left = refused.map((r) => `  refused ${r.csr}: ${r.reason}`);
  return [`About to sign ${planned.length} ${options.profile} certificates with the intermediate key, ${options.days} days each:`, ...lines, ...left].join('\n');
}
