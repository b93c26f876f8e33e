import { readFile } from 'node:fs/promises';
import { CaError } from '../../errors.js';
import type { TemplateName } from '../../openssl-config.js';
import { decodeCertificate, pemToDer, type DecodedCertificate } from '../../x509/decode.js';
import type { LoadedCa } from '../directory/context.js';
import { caDigest, type TokenKey } from '../directory/settings.js';
import type { Digest } from '../../x509/verify.js';

/** One of the two CAs as `openssl ca` sees it: its database, key, certificate, config and CRL. */
export interface Authority {
  readonly name: 'root' | 'intermediate';
  /** The directory holding index.txt, serial, crlnumber and newcerts/. */
  readonly databaseDir: string;
  readonly certificatePath: string;
  readonly certificate: DecodedCertificate;
  readonly key: TokenKey;
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
  const common = { privateKeyUri: key.uri, certificate: certificatePath, digest };
  return {
    name: which,
    databaseDir: which === 'root' ? paths.dir : paths.intermediateDir,
    certificatePath,
    certificate: decodeCertificate(pemToDer(pem, 'CERTIFICATE', certificatePath)),
    key,
    digest,
    crlPath: which === 'root' ? paths.rootCrl : paths.intermediateCrl,
    crlDerPath: which === 'root' ? paths.rootCrlDer : paths.intermediateCrlDer,
    crlUrl: which === 'root' ? settings.rootCrlUrl : settings.crlUrl,
    configName: which === 'root' ? 'sign_intermediate_csr.ini' : 'sign_server_csrs.ini',
    configContext: which === 'root' ? { ...common, rootCrlUrl: '', nameConstraints: [], pathlen: 0, foreignSubject: false } : { ...common, profile: 'server', extensions: 'server_cert', sans: [], subjectPolicy: [], copyExtensions: 'none' },
  };
}
