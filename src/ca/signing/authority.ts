import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { CaError } from '../../errors.js';
import type { TemplateName } from '../../openssl-config.js';
import { decodeCertificate, pemToDer, type DecodedCertificate } from '../../x509/decode.js';
import type { LoadedCa } from '../directory/context.js';
import { intermediateCrlFiles } from '../directory/layout.js';
import { caDigest, caKeyType, digestFor, intermediateGeneration, type PreviousIntermediate, type Settings, type KeyType, type TokenKey } from '../directory/settings.js';
import type { Digest } from '../../x509/verify.js';

/** One of the two CAs as `openssl ca` sees it: its database, key, certificate, config and CRL. */
export interface Authority {
  readonly name: 'root' | 'intermediate';
  /** What messages call it: "root", "intermediate", or "intermediate key 1" for a key replaced by `intermediate --rekey`. */
  readonly title: string;
  /**
   * The intermediate's earlier keys' certificates: what this database holds may be signed by one of them.
   * Read when asked (finding an issued certificate), not by every signing, which needs only the current one.
   */
  readonly earlierCertificates: () => Promise<readonly DecodedCertificate[]>;
  /** Where this CA's files are put in a workspace, so two generations of the intermediate never share one. */
  readonly workspaceName: string;
  /** The directory holding index.txt, serial, crlnumber and newcerts/. */
  readonly databaseDir: string;
  readonly certificatePath: string;
  readonly certificate: DecodedCertificate;
  readonly key: TokenKey;
  readonly keyType: KeyType;
  /** The digest this CA signs with. */
  readonly digest: Digest;
  /** The published CRL, PEM; and the same CRL in DER, under the name its Distribution Point URL ends in. */
  readonly crlPath: string;
  readonly crlDerPath: string;
  /** Where the certificates this CA issues say its CRL is published (their CRL Distribution Point), if set. */
  readonly crlUrl: string | undefined;
  /** The config that signs with this CA, and the context its template takes. */
  readonly configName: TemplateName;
  readonly configContext: Record<string, unknown>;
}

/** The root (for `--root`) or the intermediate, once it exists. */
export async function authority(ca: LoadedCa, which: 'root' | 'intermediate'): Promise<Authority> {
  const { settings, paths } = ca;
  const key = which === 'root' ? settings.rootKey : settings.intermediateKey;
  const certificatePath = which === 'root' ? paths.rootCert : paths.intermediateCert;
  const pem = key ? await readFile(certificatePath, 'utf8').catch(() => undefined) : undefined;
  if (!key || pem === undefined) throw new CaError(`no ${which} CA yet in ${paths.dir}; run \`hsm-openssl-ca ${which} --dir ${paths.dir}\` first`);
  const digest = caDigest(settings, which);
  const certificate = decodeCertificate(pemToDer(pem, 'CERTIFICATE', certificatePath));
  if (which === 'root') {
    return {
      name: which,
      title: which,
      earlierCertificates: noEarlierCertificates,
      workspaceName: which,
      databaseDir: paths.dir,
      certificatePath,
      certificate,
      key,
      keyType: caKeyType(settings, 'root'),
      digest,
      crlPath: paths.rootCrl,
      crlDerPath: paths.rootCrlDer,
      crlUrl: settings.rootCrlUrl,
      configName: 'sign_intermediate_csr.ini',
      configContext: { privateKeyUri: key.uri, certificate: certificatePath, digest, rootCrlUrl: '', nameConstraints: [], pathlen: 0, foreignSubject: false },
    };
  }
  const earlier = () => Promise.all((settings.previousIntermediates ?? []).map((previous) => readPrevious(ca, previous)));
  return intermediateAuthority(ca, { title: which, generation: intermediateGeneration(settings), key, keyType: caKeyType(settings, 'intermediate'), digest, certificatePath, certificate, crlUrl: settings.crlUrl, earlier });
}

/** An authority whose database holds only what its current key signed. */
export const noEarlierCertificates = async (): Promise<readonly DecodedCertificate[]> => [];

async function readPrevious(ca: LoadedCa, previous: PreviousIntermediate): Promise<DecodedCertificate> {
  const path = resolve(ca.paths.dir, previous.certificate);
  const pem = await readFile(path, 'utf8').catch(() => undefined);
  if (pem === undefined) throw new CaError(`${path}, the certificate of the intermediate's earlier key ${previous.key.uri}, is missing; restore it from your backup (\`hsm-openssl-ca check\` says more)`);
  return decodeCertificate(pemToDer(pem, 'CERTIFICATE', path));
}

/** One key of the intermediate as `openssl ca` sees it: the current one, an earlier one, or (rekey) the one about to be current. */
export function intermediateAuthority(
  ca: LoadedCa,
  one: { title: string; generation: number; key: TokenKey; keyType: KeyType; digest: Digest; certificatePath: string; certificate: DecodedCertificate; crlUrl: string | undefined; earlier: Authority['earlierCertificates'] },
): Authority {
  const files = intermediateCrlFiles(ca.paths, one.generation);
  return {
    name: 'intermediate',
    title: one.title,
    earlierCertificates: one.earlier,
    workspaceName: one.generation === intermediateGeneration(ca.settings) ? 'intermediate' : `intermediate-${one.generation}`,
    databaseDir: ca.paths.intermediateDir,
    certificatePath: one.certificatePath,
    certificate: one.certificate,
    key: one.key,
    keyType: one.keyType,
    digest: one.digest,
    ...files,
    crlUrl: one.crlUrl,
    configName: 'sign_server_csrs.ini',
    configContext: { privateKeyUri: one.key.uri, certificate: one.certificatePath, digest: one.digest, profile: 'server', extensions: 'server_cert', sans: [], subjectPolicy: [], copyExtensions: 'none' },
  };
}

/** The digest an earlier key signs with: the settings' choice, else the one that fits its type. */
function previousDigest(settings: Settings, previous: PreviousIntermediate): Digest {
  return settings.digest ?? digestFor(previous.keyType);
}

/**
 * The intermediate's earlier keys that still sign CRLs: those whose certificate has not expired — what
 * they issued cannot outlive it. Each publishes at its own URL; the certificates of all of them stay readable.
 */
export async function earlierAuthorities(ca: LoadedCa, now = new Date()): Promise<Authority[]> {
  const out: Authority[] = [];
  for (const [index, previous] of (ca.settings.previousIntermediates ?? []).entries()) {
    const certificatePath = resolve(ca.paths.dir, previous.certificate);
    const certificate = await readPrevious(ca, previous);
    if (certificate.notAfter <= now) continue;
    const generation = index + 1;
    out.push(intermediateAuthority(ca, { title: `intermediate key ${generation} (${basename(certificatePath)})`, generation, key: previous.key, keyType: previous.keyType, digest: previousDigest(ca.settings, previous), certificatePath, certificate, crlUrl: previous.crlUrl, earlier: noEarlierCertificates }));
  }
  return out;
}

/** The authorities whose CRLs a change of this CA's database republishes: the root; or the intermediate and its earlier keys. */
export async function crlAuthorities(ca: LoadedCa, main: Authority): Promise<Authority[]> {
  return main.name === 'root' ? [main] : [main, ...(await earlierAuthorities(ca))];
}
