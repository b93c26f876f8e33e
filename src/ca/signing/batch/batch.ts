import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { CaError, ToolMissingError, UsageError } from '../../../errors.js';
import { confirmSigning } from '../../../terminal.js';
import * as openssl from '../../../tools/openssl.js';
import { decodeCertificate, formatName, pemToDer } from '../../../x509/decode.js';
import { sanStrings } from '../../../x509/san.js';
import { verifyLeafCertificate } from '../../../x509/verify.js';
import type { AuditEvent } from '../../audit/record.js';
import { loadCa, type LoadedCa } from '../../directory/context.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange, type ChangeOptions } from '../../directory/change.js';
import type { PlannedWrite } from '../../directory/journal.js';
import { requireWritableOutput } from '../../directory/output-file.js';
import { databaseWrites, stageDatabase, withWorkspace, writeWorkspaceFile } from '../../directory/workspace.js';
import { shadowAuthority, type ShadowAuthority } from '../../shadow/authority.js';
import { requireCaKey, signerFor } from '../../token/signer.js';
import { openToken, pinFor, requireTools } from '../../token/token.js';
import { chainOutput, defaultOutput, planLeaf, type IssuedLeaf, type IssueOptions } from '../issue.js';
import { groupRuns } from './grouping.js';
import { rehearseRun, signRun, type BatchRun, type RehearsedRun } from './runs.js';

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

type Plan = Awaited<ReturnType<typeof planLeaf>>;
interface Planned {
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
async function planBatch(options: BatchOptions, ca: LoadedCa): Promise<{ planned: Planned[]; refused: BatchRefusal[] }> {
  if (options.outDir !== undefined && !(await stat(options.outDir).then((s) => s.isDirectory(), () => false))) {
    throw new UsageError(`--out-dir ${options.outDir} is not a directory; create it first`);
  }
  const planned: Planned[] = [];
  const refused: BatchRefusal[] = [];
  const claimed = new Map<string, string>();
  for (const csrPath of options.csrPaths) {
    const out = batchOutput(csrPath, options.outDir);
    const clash = [out, chainOutput(out)].find((file) => claimed.has(file));
    if (clash) {
      refused.push({ csr: csrPath, reason: `its certificate files would be ${out} and ${chainOutput(out)}, which ${claimed.get(clash)} of this batch writes; rename one of the CSRs` });
      continue;
    }
    for (const file of [out, chainOutput(out)]) claimed.set(file, csrPath);
    try {
      planned.push({ csrPath, plan: await planLeaf({ ...options, csrPath, sans: [] }, ca, out) });
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      refused.push({ csr: csrPath, reason: error.message });
    }
  }
  return { planned, refused };
}

/** Refuses a batch with nothing to sign, or any refusal under --strict: nothing is asked, signed or written. */
function requireSomethingToSign(options: BatchOptions, planned: readonly Planned[], refused: readonly BatchRefusal[]): void {
  const reasons = refused.map((r) => `${r.csr}: ${r.reason}`).join('; ');
  if (planned.length === 0) throw new CaError(`none of the ${refused.length} CSRs can be signed, so nothing was: ${reasons}`);
  if (options.strict && refused.length > 0) throw new CaError(`--strict: ${refused.length} of ${options.csrPaths.length} CSRs refused, so none was signed: ${reasons}`);
}

function batchSummary(options: BatchOptions, planned: readonly Planned[], refused: readonly BatchRefusal[]): string {
  const lines = planned.map(({ plan }) => `  ${plan.subject.text}  ${plan.sanText.join(', ') || '(no SAN)'}  → ${plan.out}`);
  const left = refused.map((r) => `  refused ${r.csr}: ${r.reason}`);
  return [`About to sign ${planned.length} ${options.profile} certificates with the intermediate key, ${options.days} days each:`, ...lines, ...left].join('\n');
}

type RunRequest = BatchRun['requests'][number];
/** Whose request a run's request is, and the request as a run of its own would make it. */
type Owners = Map<RunRequest, { readonly item: Planned; readonly alone: RunRequest }>;

/** Each CSR's signing request in the workspace, grouped into runs (see groupRuns), and whose each request is. */
async function batchRuns(planned: readonly Planned[], work: string, shadow: ShadowAuthority): Promise<{ runs: BatchRun[]; ownerOf: Owners }> {
  const ownerOf: Owners = new Map();
  const shareable = [];
  for (const [i, item] of planned.entries()) {
    const csrCopy = join(work, `request-${i}.csr`);
    await writeWorkspaceFile(csrCopy, item.plan.csrPem);
    const alone = await item.plan.request(work, csrCopy, shadow);
    ownerOf.set(alone, { item, alone });
    shareable.push({ alone, csr: item.plan.expect.csr, subject: item.plan.subject.attributes, sans: item.plan.sanText, keyUsage: item.plan.expect.keyUsage });
  }
  const runs = groupRuns(shareable).map((group, i): BatchRun => {
    if (!group.shared) return { name: `run-${i}`, shared: false, requests: [group.members[0]!.alone] };
    const requests = group.members.map((member) => sharedRequest(member.alone));
    for (const [m, request] of requests.entries()) ownerOf.set(request, ownerOf.get(group.members[m]!.alone)!);
    return { name: `run-${i}`, shared: true, requests };
  });
  return { runs, ownerOf };
}

/** A refusal by the shadow CA is the request's (say why, sign the others); a missing or broken tool stops the batch. */
function requestRefusal(error: unknown): string {
  if (error instanceof CaError && !(error instanceof ToolMissingError)) return error.message;
  throw error;
}

/**
 * The shadow CA makes and judges every run first, so nothing it refuses reaches the token; a shared run it
 * refuses is made again request by request, each as its own run would be, and only the bad ones are left out.
 */
async function rehearseAll(runs: readonly BatchRun[], staging: string, refused: BatchRefusal[], ownerOf: Owners): Promise<RehearsedRun[]> {
  const rehearsed: RehearsedRun[] = [];
  for (const run of runs) {
    try {
      rehearsed.push(await rehearseRun(run, staging));
    } catch (error) {
      if (!run.shared) {
        refused.push({ csr: ownerOf.get(run.requests[0]!)!.item.csrPath, reason: requestRefusal(error) });
        continue;
      }
      const alone = run.requests.map((request, i): BatchRun => ({ name: `${run.name}-${i}`, requests: [ownerOf.get(request)!.alone], shared: false }));
      rehearsed.push(...(await rehearseAll(alone, staging, refused, ownerOf)));
    }
  }
  return rehearsed;
}

/**
 * Signs many CSRs as one change: each checked first (a bad one is reported and left out, or with --strict
 * refuses the batch), one question, one PIN entry, then as few `openssl ca` runs as the requests allow
 * (one login each), the shadow CA's runs judged before the token's, each certificate verified, and
 * everything committed together — a kill leaves all of it undone or all of it done.
 */
export async function issueBatch(options: BatchOptions): Promise<BatchResult> {
  const ca = await loadCa(options);
  const { paths } = ca;
  const csrBytes = await Promise.all(options.csrPaths.map((path) => readFile(path).catch(() => path)));
  const change: ChangeOptions = {
    command: options.profile,
    requestKey: requestKey('batch', options.profile, options.days, options.outDir, ...options.csrPaths.map((path) => resolve(path)), ...csrBytes),
    timeoutMs: options.lockTimeoutMs,
    onWait: options.say,
    say: options.say,
  };
  const resumed = await resumeInterrupted<BatchResult>(paths.dir, change);
  if (resumed) return resumed;
  const { planned, refused } = await planBatch(options, ca);
  requireSomethingToSign(options, planned, refused);
  await confirmSigning(batchSummary(options, planned, refused), options);
  await requireTools();
  const token = await openToken(options.run, ca.intermediateToken, options);
  return withCaChange(paths.dir, () =>
    withWorkspace(async (work) => {
      for (const { plan } of planned) for (const file of [plan.out, plan.chainOut]) await requireWritableOutput(file, paths.dir);
      const pin = await pinFor(ca.intermediateToken, options.say);
      await requireCaKey(token, pin, planned[0]!.plan.intermediateKey, ca.intermediateToken);
      const staging = await stageDatabase(paths.intermediateDir, work);
      const { runs, ownerOf } = await batchRuns(planned, work, await shadowAuthority(options.run, ca, 'intermediate', work));
      const allRefused = [...refused];
      const rehearsed = await rehearseAll(runs, staging, allRefused, ownerOf);
      if (rehearsed.length === 0) throw new CaError(`the shadow CA refused every CSR, so nothing was signed on the token: ${allRefused.map((r) => `${r.csr}: ${r.reason}`).join('; ')}`);
      if (options.strict && allRefused.length > refused.length) throw new CaError(`--strict: the shadow CA refused ${allRefused.slice(refused.length).map((r) => `${r.csr}: ${r.reason}`).join('; ')}; nothing was signed on the token`);
      const signer = await signerFor(token, ca.intermediateToken, pin, work, options.say);
      const intermediatePem = await readFile(paths.intermediateCert, 'utf8');
      const issued: Array<{ item: Planned; pem: string; file: string; checks: string[] }> = [];
      for (const [n, run] of rehearsed.entries()) {
        options.say(`signing ${run.run.requests.length} of the batch's ${planned.length} with the intermediate key on token '${ca.intermediateToken.tokenLabel}' (openssl ca run ${n + 1} of ${rehearsed.length})…`);
        for (const [i, signed] of (await signRun(signer, run, staging)).entries()) {
          const file = join(work, `issued-${issued.length}.crt`);
          await writeWorkspaceFile(file, signed.pem);
          issued.push({ item: ownerOf.get(run.run.requests[i]!)!.item, pem: signed.pem, file, checks: signed.checks });
        }
      }
      await openssl.verifyChains(options.run, { root: paths.rootCert, untrusted: paths.intermediateCert, certificates: issued.map((i) => i.file) });
      const results = issued.map(({ item, pem, checks }) => leafResult(options, item, pem, checks));
      const writes: PlannedWrite[] = [...(await databaseWrites(staging, paths.intermediateDir)), { path: join(paths.config, 'sign_server_csrs.ini'), data: rehearsed.at(-1)!.configText }];
      const audit: AuditEvent[] = [];
      for (const [i, { item, pem }] of issued.entries()) {
        const result = results[i]!;
        writes.push({ path: join(paths.csrArchive, `${result.serial}.csr`), data: item.plan.csrPem }, { path: result.certificate, data: pem, exclusive: true }, { path: result.chain, data: pem + intermediatePem, exclusive: true });
        audit.push({ action: 'certificate-issued', command: options.profile, ...certificateAudit(decodeCertificate(pemToDer(pem, 'CERTIFICATE', result.certificate)), result.subject, result.sans), detail: `${options.profile} certificate, ${options.days} days, one of a batch of ${issued.length}` });
      }
      const result: BatchResult = { issued: results, refused: allRefused };
      return { result, summary: `a batch of ${results.length} ${options.profile} certificates (${results.map((r) => r.serial).join(', ')})`, writes, audit };
    }),
    change,
  );
}

/** The same request in a shared run: no -subj and no SAN section; the config copies the CSR's validated SAN. */
function sharedRequest(request: RunRequest): RunRequest {
  const { subject: _decidedByPolicy, ...rest } = request;
  return { ...rest, context: { ...request.context, sans: [], copyExtensions: 'copy' } };
}

/** One issued certificate of the batch, verified against what its plan expects. */
function leafResult(options: BatchOptions, item: Planned, pem: string, shadowChecks: readonly string[]): IssuedLeaf {
  const { plan } = item;
  const cert = decodeCertificate(pemToDer(pem, 'CERTIFICATE', plan.out));
  const checks = [...shadowChecks, ...verifyLeafCertificate(`the ${options.profile} certificate`, cert, { ...plan.expect, issuer: plan.intermediate }, sanStrings(cert.extensions)), 'openssl verify -CAfile root.crt -untrusted intermediate.crt: OK'];
  return { certificate: plan.out, chain: plan.chainOut, serial: cert.serialHex, subject: formatName(cert.subject), sans: plan.sanText, notAfter: cert.notAfter, profile: options.profile, ignoredExtensions: plan.ignoredExtensions, checks };
}
