import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError } from '../../../errors.js';
import { FILE_OPERATIONS_AT_ONCE, mapLimited } from '../../../map-limited.js';
import * as openssl from '../../../tools/openssl.js';
import { readOpensslOutput } from '../../../tools/openssl-output.js';
import type { RunResult } from '../../../tools/run.js';
import { indexSerials, parseIndex, type IndexEntry } from '../../../tools/parse/index-txt.js';
import { decodeCertificate, pemToDer } from '../../../x509/decode.js';
import { writeWorkspaceFile } from '../../directory/workspace.js';
import { requireSameCertificate } from '../../shadow/compare.js';
import { rehearse, shadowRefused } from '../../shadow/rehearse.js';
import { requireFreshSerial } from '../serial.js';
import { explainRepeatedSerial, renderRun, type SignRequest } from '../sign.js';

/**
 * One `openssl ca` run of the shadow CA in a batch: one request (`-in`), or several that share one config
 * (`-infiles`, with `copy_extensions = copy`: see sharesRun). Every request keeps its own shadow judge, and
 * gets its own token run (tokenSignings).
 */
export interface BatchRun {
  readonly name: string;
  readonly requests: ReadonlyArray<Omit<SignRequest, 'signer'>>;
  readonly shared: boolean;
}

/** A run the shadow CA has made and judged: what the token will run, and the shadow's certificate for each request. */
export interface RehearsedRun {
  readonly run: BatchRun;
  readonly signing: openssl.SignWithCaRequest;
  readonly configText: string;
  readonly shadow: ReadonlyArray<{ readonly pem: string; readonly checks: readonly string[] }>;
}

/**
 * The records `openssl ca` added to the staged index.txt after its first `end` bytes: it writes the records
 * it had back byte for byte (TXT_DB) and appends the new ones (stageDatabase made sure the file ends with a
 * line break), so only the new bytes are read, however long the database is. Were the old records rewritten
 * otherwise, the new bytes would not parse or not count one record per request, and the run is refused.
 */
async function indexAfter(staging: string, end: number): Promise<IndexEntry[]> {
  const added: Buffer[] = [];
  for await (const chunk of createReadStream(join(staging, 'index.txt'), { start: end })) added.push(chunk as Buffer);
  return parseIndex(Buffer.concat(added).toString('utf8'));
}

/**
 * The certificates of one run, in the order of its requests, exactly one each or the run is refused. Read
 * from the database (index.txt's records after byte `indexEnd`, newcerts/SERIAL.pem): with -infiles,
 * openssl reopens `-out` for every certificate and leaves only the last one there.
 */
async function runCertificates(staging: string, indexEnd: number, out: string, command: string, printed: RunResult, expected: number): Promise<string[]> {
  await readOpensslOutput(out, command, printed);
  const entries = await indexAfter(staging, indexEnd);
  if (entries.length !== expected) throw new CaError(`${command} issued ${entries.length} certificates for ${expected} requests; nothing was changed — run the command again, and report it if it happens again`);
  return Promise.all(entries.map((entry) => readFile(join(staging, 'newcerts', `${entry.serial}.pem`), 'utf8')));
}

/**
 * The shadow CA runs the very same `openssl ca` on the staged database (put back afterwards) and each
 * certificate is judged on its own. A refusal throws, worded as the shadow's: the token has signed nothing.
 */
export async function rehearseRun(run: BatchRun, staging: string): Promise<RehearsedRun> {
  const first = run.requests[0]!;
  const { signing: base, configText } = await renderRun(first, staging, run.name);
  const signing = run.shared ? { ...base, infiles: run.requests.map((request) => request.csr) } : base;
  const file = join(first.workspace, `${run.name}-shadow.crt`);
  const shadow = await rehearse(staging, async () => {
    const { size: indexEnd } = await stat(join(staging, 'index.txt'));
    const printed = await openssl.signWithCa(first.shadow.key, { ...signing, out: file }).catch(explainRepeatedSerial);
    const pems = await runCertificates(staging, indexEnd, file, 'openssl ca (shadow CA)', printed, run.requests.length);
    return judgeAll(run, pems);
  }).catch((error: unknown) => {
    throw shadowRefused('the certificate', error);
  });
  return { run, signing, configText, shadow };
}

/** Each shadow certificate judged by its own request's expectations, with one `openssl verify` for the whole run. */
async function judgeAll(run: BatchRun, pems: readonly string[]): Promise<Array<{ pem: string; checks: string[] }>> {
  const files = pems.map((_, i) => join(run.requests[0]!.workspace, `${run.name}-shadow-${i}.crt`));
  await mapLimited(pems, FILE_OPERATIONS_AT_ONCE, (pem, i) => writeWorkspaceFile(files[i]!, pem));
  const steps = run.requests.map((request) => request.shadow);
  const [first] = steps;
  if (!first?.verifyChains || steps.some((step) => !step.inspect)) return Promise.all(pems.map(async (pem, i) => ({ pem, checks: await steps[i]!.judge(pem, files[i]!) })));
  const inspected = pems.map((pem, i) => ({ pem, checks: steps[i]!.inspect!(pem) }));
  const chain = await first.verifyChains(files);
  return inspected.map(({ pem, checks }) => ({ pem, checks: [...checks, chain] }));
}

/**
 * The token's `openssl ca` runs for a rehearsed run: one per request, with the run's config. A shared run is
 * the shadow's only: `openssl ca -infiles` draws one random serial and counts up from it, certificate after
 * certificate, and serials are never consecutive (CA/Browser Forum BR 7.1: non-sequential, 64 random bits).
 */
export function tokenSignings(rehearsed: RehearsedRun): openssl.SignWithCaRequest[] {
  const { infiles: _shared, ...single } = rehearsed.signing;
  return rehearsed.run.requests.map((request, i) => ({ ...single, csr: request.csr, out: join(request.workspace, `${rehearsed.run.name}-${i}.crt`) }));
}

/**
 * The token signs what the shadow signed, on the same staged database (which keeps what it signed, for the
 * next run and the commit), one `openssl ca` run per request; each certificate must have a fresh serial and
 * equal the shadow's in every field.
 */
export async function signRun(signer: openssl.SigningContext, rehearsed: RehearsedRun, staging: string): Promise<Array<{ pem: string; checks: string[] }>> {
  // Read whole once, for the serials a new certificate must not repeat; each run's own record comes after its end.
  const index = await readFile(join(staging, 'index.txt'));
  const issued = indexSerials(index.toString('utf8'));
  let indexEnd = index.length;
  const signed: Array<{ pem: string; checks: string[] }> = [];
  for (const [i, signing] of tokenSignings(rehearsed).entries()) {
    const printed = await openssl.signWithCa(signer, signing).catch(explainRepeatedSerial);
    const [pem] = await runCertificates(staging, indexEnd, signing.out, 'openssl ca', printed, 1);
    indexEnd = (await stat(join(staging, 'index.txt'))).size;
    const der = pemToDer(pem!, 'CERTIFICATE', 'the issued certificate');
    issued.add(requireFreshSerial(der, issued));
    const shadow = rehearsed.shadow[i]!;
    const same = requireSameCertificate('the certificate', decodeCertificate(der), decodeCertificate(pemToDer(shadow.pem, 'CERTIFICATE', 'the shadow certificate')));
    signed.push({ pem: pem!, checks: [...shadow.checks, same] });
  }
  return signed;
}
