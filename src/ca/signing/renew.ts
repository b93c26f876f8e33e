import { basename, dirname, join, resolve } from 'node:path';
import { CaError } from '../../errors.js';
import { sanStrings } from '../../x509/san.js';
import { authority } from './authority.js';
import { fileExists, loadCa, type TokenCommandOptions } from '../directory/context.js';
import { resumeInterrupted } from '../directory/change.js';
import { issueLeaf, leafChange, type IssuedLeaf, type IssueOptions } from './issue.js';
import { findIssued, type IssuedCertificate } from '../inventory/issued.js';
import { profileOf } from '../inventory/inventory.js';
import { isProfileName } from './profiles.js';
import { shadowAuthority } from '../shadow/authority.js';
import { revokeInStaging, stagedAuthority, type Revocation } from './revocation.js';

function defaultOutput(target: string, serial: string, isFile: boolean): string {
  const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  return isFile ? join(dirname(resolve(target)), `${basename(target).replace(/\.(crt|pem)$/i, '')}-renewed-${stamp}.crt`) : resolve(`${serial}-renewed-${stamp}.crt`);
}

export type RenewOptions = TokenCommandOptions & { target: string; days: number; out?: string; revokeOld: boolean };

/** The issuance a renewal is: the kept CSR, the old certificate's profile and SANs, fresh validity. */
export async function renewalRequest(options: RenewOptions): Promise<{ request: IssueOptions; old: IssuedCertificate; csrPath: string; out: string }> {
  const ca = await loadCa(options);
  const auth = await authority(ca, 'intermediate');
  const old = await findIssued(auth, options.target);
  const csrPath = join(ca.paths.csrArchive, `${old.entry.serial}.csr`);
  if (!(await fileExists(csrPath))) throw new CaError(`no CSR kept for serial ${old.entry.serial} (${csrPath}); renew by signing a new CSR with \`hsm-openssl-ca server\``);
  const profile = profileOf(old.cert);
  if (!profile || !isProfileName(profile)) throw new CaError(`serial ${old.entry.serial} has no server or client usage to renew with; sign a new CSR instead`);
  const isFile = resolve(options.target) !== resolve(old.entry.serial) && (await fileExists(options.target));
  const out = resolve(options.out ?? defaultOutput(options.target, old.entry.serial, isFile));
  const revokeOld: IssueOptions['alsoRevoke'] = async (staged) =>
    revokeInStaging(await stagedAuthority(auth, staged.signer, staged.staging, staged.work, await shadowAuthority(options.run, ca, 'intermediate', staged.work)), auth, old, { reason: 'superseded', crlDays: 30, command: 'renew', say: options.say, run: options.run, ca });
  const request: IssueOptions = { ...options, csrPath, days: options.days, out, profile, sans: sanStrings(old.cert.extensions), replaceSans: true, command: 'renew', ...(options.revokeOld ? { alsoRevoke: revokeOld } : {}) };
  return { request, old, csrPath, out };
}

/**
 * `renew CERT|SERIAL`: re-signs the CSR kept at issuance (intermediate/csr/SERIAL.csr) with fresh validity,
 * the same profile and the same SANs as the old certificate; `--revoke-old` also revokes the predecessor
 * as superseded and publishes a CRL — in the same change, so a kill never leaves one without the other.
 */
export async function renewCertificate(options: RenewOptions): Promise<{ issued: IssuedLeaf; revocation?: Revocation }> {
  const ca = await loadCa(options);
  const { request, old, csrPath, out } = await renewalRequest(options);
  // Before judging the old certificate: an interrupted renewal of it may have revoked it already.
  const resumed = await resumeInterrupted<IssuedLeaf>(ca.paths.dir, await leafChange(request, csrPath, out));
  if (resumed) return { issued: resumed, ...(resumed.revocation ? { revocation: resumed.revocation } : {}) };
  if (old.entry.status === 'revoked') throw new CaError(`serial ${old.entry.serial} is revoked${old.entry.reason ? ` (${old.entry.reason})` : ''}; a revoked certificate is not renewed — sign a new CSR instead`);
  const issued = await issueLeaf(request);
  return { issued, ...(issued.revocation ? { revocation: issued.revocation } : {}) };
}
