import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ShadowKey } from '../../tools/openssl.js';
import type { Runner } from '../../tools/run.js';
import { decodeCertificate, pemToDer, type DecodedCertificate } from '../../x509/decode.js';
import { caKeyType, type KeyType } from '../directory/settings.js';
import type { LoadedCa } from '../directory/context.js';
import { writeWorkspaceFile } from '../directory/workspace.js';
import { shadowKey } from './keys.js';
import { certificatePem, resignCertificate } from './resign.js';

/** One tier of the shadow CA: its software key and certificate for `openssl ca`, and the decoded certificate. */
export interface ShadowAuthority extends ShadowKey {
  readonly decoded: DecodedCertificate;
  /** The shadow root certificate, the trust anchor for `openssl verify`. */
  readonly rootFile: string;
}

async function realCertificate(path: string): Promise<DecodedCertificate> {
  return decodeCertificate(pemToDer(await readFile(path, 'utf8'), 'CERTIFICATE', path));
}

/**
 * The shadow of the CA tier that is about to sign, made in the workspace `work`: the real root (and, for the
 * intermediate, the real intermediate) re-signed with software keys of the same algorithms, every other
 * field kept. What this tier signs with its software key is what the token would sign, but trusted by nobody.
 * `intermediate` names another certificate of the intermediate than the current one: an earlier key's, whose CRLs it signs.
 */
export async function shadowAuthority(
  run: Runner,
  ca: LoadedCa,
  which: 'root' | 'intermediate',
  work: string,
  intermediate: { certificatePath: string; keyType: KeyType; workspaceName: string } = { certificatePath: ca.paths.intermediateCert, keyType: caKeyType(ca.settings, 'intermediate'), workspaceName: 'intermediate' },
): Promise<ShadowAuthority> {
  const rootKey = await shadowKey(caKeyType(ca.settings, 'root'), 'root', work);
  const root = resignCertificate(await realCertificate(ca.paths.rootCert), createPublicKey(rootKey.key), rootKey.key);
  const rootFile = join(work, 'shadow-root.crt');
  await writeWorkspaceFile(rootFile, certificatePem(root.der));
  if (which === 'root') return { run, keyFile: rootKey.file, certificate: rootFile, decoded: root, rootFile };
  const key = await shadowKey(intermediate.keyType, 'intermediate', work);
  const resigned = resignCertificate(await realCertificate(intermediate.certificatePath), createPublicKey(key.key), rootKey.key);
  const certificate = join(work, `shadow-${intermediate.workspaceName}.crt`);
  await writeWorkspaceFile(certificate, certificatePem(resigned.der));
  return { run, keyFile: key.file, certificate, decoded: resigned, rootFile };
}
