import { join } from 'node:path';
import { CaError, ToolFailedError } from '../../errors.js';
import { renderTemplates, type TemplateName } from '../../openssl-config.js';
import * as openssl from '../../tools/openssl.js';
import { readOpensslOutput } from '../../tools/openssl-output.js';
import { decodeCertificate, pemToDer } from '../../x509/decode.js';
import type { Digest } from '../../x509/verify.js';
import { readIndexSerials } from '../inventory/issued.js';
import { requireFreshSerial } from './serial.js';
import { stageDatabase, writeWorkspaceFile } from '../directory/workspace.js';
import { requireSameCertificate } from '../shadow/compare.js';
import { rehearse, shadowRefused } from '../shadow/rehearse.js';

/** The shadow CA's run of the same `openssl ca`: its key and certificate, and the checks its result must pass. */
export interface ShadowStep {
  readonly key: openssl.ShadowKey;
  /** Verifies the shadow's certificate (PEM, and its file for `openssl verify`); throws to refuse. */
  judge(pem: string, file: string): Promise<string[]>;
  /**
   * judge in two halves, for a batch's run of many certificates: the tool's own verifier on one certificate,
   * and one `openssl verify` run over all their files (a process per certificate would cost more than the signing).
   */
  readonly inspect?: (pem: string) => string[];
  readonly verifyChains?: (files: readonly string[]) => Promise<string>;
}

export interface StagedSigning {
  /** The issued certificate, PEM. */
  readonly pem: string;
  /** The config as it is kept in DIR/config: the same as the one that ran, with `dir` the real CA directory. */
  readonly configText: string;
  /** The staged database to commit once the certificate has been verified. */
  readonly staging: string;
  /** What the shadow CA issued first from the same command, its checks, and the field-by-field comparison. */
  readonly shadow: { readonly pem: string; readonly checks: readonly string[] };
}

/** openssl ca's refusal of a serial index.txt already holds ("Serial number X has already been issued"), worded. */
export function explainRepeatedSerial(error: unknown): never {
  const repeated = error instanceof ToolFailedError ? /Serial number ([0-9A-F]+) has already been issued/.exec(error.stderr) : null;
  if (repeated) throw new CaError(`openssl ca drew serial ${repeated[1]}, which index.txt already holds, and refused to sign; nothing was changed — run the command again`);
  throw error;
}

export interface SignRequest {
  signer: openssl.SigningContext;
  workspace: string;
  caDir: string;
  /** The config's templates: the CA part, then (for leaves) the profile's extension section. */
  templates: readonly TemplateName[];
  context: Record<string, unknown>;
  extensions: string;
  days: number;
  digest: Digest;
  csr: string;
  /** The subject to issue, as `openssl ca -subj` takes it; absent: the request's, filtered by the config's policy. */
  subject?: string;
  shadow: ShadowStep;
  /** A database already staged in this workspace: a batch signs one request after another on the same copy. */
  staging?: string;
}

/** Everything up to the token's signature: the staged database, the config, and the shadow's judged result. */
export interface ShadowedSigning {
  readonly staging: string;
  /** The `openssl ca` request the token runs: the same config, dates and database the shadow ran with. */
  readonly signing: openssl.SignWithCaRequest;
  /** The config as it is kept in DIR/config: the same as the one that ran, with `dir` the real CA directory. */
  readonly configText: string;
  readonly shadow: { readonly pem: string; readonly file: string; readonly checks: readonly string[] };
}

/**
 * Stages the CA database in the workspace (unless a batch has), renders the config (renderRun), and has the
 * shadow CA run the very same `openssl ca` on the copy and judge the result. No token is involved here.
 */
export async function shadowStaged(request: Omit<SignRequest, 'signer'>): Promise<ShadowedSigning> {
  const staging = request.staging ?? (await stageDatabase(request.caDir, request.workspace));
  const { signing, configText } = await renderRun(request, staging);
  const file = join(request.workspace, 'shadow-issued.crt');
  const shadow = await rehearse(staging, async () => {
    const printed = await openssl.signWithCa(request.shadow.key, { ...signing, out: file }).catch(explainRepeatedSerial);
    const pem = await readOpensslOutput(file, 'openssl ca (shadow CA)', printed);
    return { pem, file, checks: await request.shadow.judge(pem, file) };
  }).catch((error: unknown) => {
    throw shadowRefused('the certificate', error);
  });
  return { staging, signing, shadow, configText };
}

/**
 * The config of one `openssl ca` run, rendered twice from one template: once pointing at the staged copy
 * (what runs), once at the real directory (what is kept, so an operator can replay it); and the run itself.
 */
export async function renderRun(request: Omit<SignRequest, 'signer' | 'shadow'>, staging: string, name = 'openssl-ca'): Promise<{ signing: openssl.SignWithCaRequest; configText: string }> {
  const config = join(request.workspace, `${name}.ini`);
  await writeWorkspaceFile(config, await renderTemplates(request.templates, { ...request.context, dir: staging }));
  const signing: openssl.SignWithCaRequest = {
    config, extensions: request.extensions, days: request.days, validity: openssl.validityFor(request.days), digest: request.digest, csr: request.csr,
    out: join(request.workspace, name === 'openssl-ca' ? 'issued.crt' : `${name}.crt`), ...(request.subject !== undefined ? { subject: request.subject } : {}),
  };
  return { signing, configText: await renderTemplates(request.templates, { ...request.context, dir: request.caDir }) };
}

/**
 * Runs `openssl ca` against a copy of the CA database in the workspace, the shadow CA first, then the token,
 * and compares the two results field by field. Nothing in the CA directory changes here.
 */
export async function signStaged(request: SignRequest): Promise<StagedSigning> {
  const staged = await shadowStaged(request);
  const issuedBefore = await readIndexSerials(staged.staging);
  const printed = await openssl.signWithCa(request.signer, staged.signing).catch(explainRepeatedSerial);
  const pem = await readOpensslOutput(staged.signing.out, 'openssl ca', printed);
  const der = pemToDer(pem, 'CERTIFICATE', 'the issued certificate');
  requireFreshSerial(der, issuedBefore);
  const same = requireSameCertificate('the certificate', decodeCertificate(der), decodeCertificate(pemToDer(staged.shadow.pem, 'CERTIFICATE', 'the shadow certificate')));
  return { shadow: { pem: staged.shadow.pem, checks: [...staged.shadow.checks, same] }, pem, configText: staged.configText, staging: staged.staging };
}
