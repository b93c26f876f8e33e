import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FILE_OPERATIONS_AT_ONCE, mapLimited } from '../../../map-limited.js';
import { confirmSigning } from '../../../terminal.js';
import * as openssl from '../../../tools/openssl.js';
import { decodeCertificate, formatName, pemToDer } from '../../../x509/decode.js';
import { sanStrings } from '../../../x509/san.js';
import { verifyLeafCertificate } from '../../../x509/verify.js';
import type { AuditEvent } from '../../audit/record.js';
import { loadCa } from '../../directory/context.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange, type ChangeOptions } from '../../directory/change.js';
import type { PlannedWrite } from '../../directory/journal.js';
import { requireWritableOutput } from '../../directory/output-file.js';
import { databaseWrites, withWorkspace, writeWorkspaceFile } from '../../directory/workspace.js';
import { requireCaKey, signerFor } from '../../token/signer.js';
import { openToken, pinFor, requireTools } from '../../token/token.js';
import type { IssuedLeaf } from '../issue.js';
import { batchSummary, planBatch, requireSomethingToSign, type BatchOptions, type BatchResult, type Planned } from './plan.js';
import { rehearseBatch } from './rehearse.js';
import { signRun } from './runs.js';

/**
 * Signs many CSRs as one change: each checked first (a bad one is reported and left out, or with --strict
 * refuses the batch), one question, one PIN entry, the shadow CA's runs (as few as the requests allow) judged
 * before the token's (one per certificate, one login each), each certificate verified, and
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
      await mapLimited(planned.flatMap(({ plan }) => [plan.out, plan.chainOut]), FILE_OPERATIONS_AT_ONCE, (file) => requireWritableOutput(file, paths.dir));
      const pin = await pinFor(ca.intermediateToken, options.say);
      await requireCaKey(token, pin, planned[0]!.plan.intermediateKey, ca.intermediateToken);
      const { staging, rehearsed, ownerOf, refused: allRefused } = await rehearseBatch(options, ca, planned, refused, work);
      const signer = await signerFor(token, ca.intermediateToken, pin, work, options.say);
      const intermediatePem = await readFile(paths.intermediateCert, 'utf8');
      const issued: Array<{ item: Planned; pem: string; file: string; checks: string[] }> = [];
      for (const run of rehearsed) {
        options.say(`signing ${run.run.requests.length} of the batch's ${planned.length} with the intermediate key on token '${ca.intermediateToken.tokenLabel}' (${tokenRuns(issued.length, run.run.requests.length, planned.length)})…`);
        const signed = (await signRun(signer, run, staging)).map((one, i) => ({ item: ownerOf.get(run.run.requests[i]!)!.item, pem: one.pem, file: join(work, `issued-${issued.length + i}.crt`), checks: one.checks }));
        await mapLimited(signed, FILE_OPERATIONS_AT_ONCE, ({ file, pem }) => writeWorkspaceFile(file, pem));
        issued.push(...signed);
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

/** Which of the batch's token runs come next: one `openssl ca` run per certificate (see tokenSignings). */
function tokenRuns(done: number, count: number, total: number): string {
  return count === 1 ? `openssl ca run ${done + 1} of ${total}` : `openssl ca runs ${done + 1}–${done + count} of ${total}, one per certificate`;
}

/** One issued certificate of the batch, verified against what its plan expects. */
function leafResult(options: BatchOptions, item: Planned, pem: string, shadowChecks: readonly string[]): IssuedLeaf {
  const { plan } = item;
  const cert = decodeCertificate(pemToDer(pem, 'CERTIFICATE', plan.out));
  const checks = [...shadowChecks, ...verifyLeafCertificate(`the ${options.profile} certificate`, cert, { ...plan.expect, issuer: plan.intermediate }, sanStrings(cert.extensions)), 'openssl verify -CAfile root.crt -untrusted intermediate.crt: OK'];
  return { certificate: plan.out, chain: plan.chainOut, serial: cert.serialHex, subject: formatName(cert.subject), sans: plan.sanText, notAfter: cert.notAfter, profile: options.profile, ignoredExtensions: plan.ignoredExtensions, checks };
}
