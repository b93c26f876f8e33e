import { join } from 'node:path';
import { CaError, ToolFailedError } from '../../errors.js';
import { renderTemplates, type TemplateName } from '../../openssl-config.js';
import * as openssl from '../../tools/openssl.js';
import { readOpensslOutput } from '../../tools/openssl-output.js';
import { pemToDer } from '../../x509/decode.js';
import type { Digest } from '../../x509/verify.js';
import { readIndex } from '../inventory/issued.js';
import { requireFreshSerial } from './serial.js';
import { stageDatabase, writeWorkspaceFile } from '../directory/workspace.js';

export interface StagedSigning {
  /** The issued certificate, PEM. */
  readonly pem: string;
  /** The config as it is kept in DIR/config: the same as the one that ran, with `dir` the real CA directory. */
  readonly configText: string;
  /** The staged database to commit once the certificate has been verified. */
  readonly staging: string;
}

/** openssl ca's refusal of a serial index.txt already holds ("Serial number X has already been issued"), worded. */
function explainRepeatedSerial(error: unknown): never {
  const repeated = error instanceof ToolFailedError ? /Serial number ([0-9A-F]+) has already been issued/.exec(error.stderr) : null;
  if (repeated) throw new CaError(`openssl ca drew serial ${repeated[1]}, which index.txt already holds, and refused to sign; nothing was changed — run the command again`);
  throw error;
}

/**
 * Runs `openssl ca` against a copy of the CA database in the workspace. The config is rendered twice from
 * one template: once pointing at the copy (what runs) and once at the real directory (what is kept, so an
 * operator can replay it). Nothing in the CA directory changes here.
 */
export async function signStaged(request: {
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
}): Promise<StagedSigning> {
  const staging = await stageDatabase(request.caDir, request.workspace);
  const issuedBefore = new Set((await readIndex(staging)).map((entry) => BigInt(`0x${entry.serial}`)));
  const config = join(request.workspace, 'openssl-ca.ini');
  await writeWorkspaceFile(config, await renderTemplates(request.templates, { ...request.context, dir: staging }));
  const out = join(request.workspace, 'issued.crt');
  const printed = await openssl.signWithCa(
    request.signer,
    { config, extensions: request.extensions, days: request.days, digest: request.digest, csr: request.csr, out, ...(request.subject !== undefined ? { subject: request.subject } : {}) },
  ).catch(explainRepeatedSerial);
  const pem = await readOpensslOutput(out, 'openssl ca', printed);
  requireFreshSerial(pemToDer(pem, 'CERTIFICATE', 'the issued certificate'), issuedBefore);
  return {
    pem,
    configText: await renderTemplates(request.templates, { ...request.context, dir: request.caDir }),
    staging,
  };
}
