import { fingerprintOfFile } from '../ca/inventory/inventory.js';
import { CaError, printable } from '../errors.js';
import { emitJson, jsonKey, jsonOutput } from './json-output.js';

/** Formatting shared by the command files: what was made, where, and what was verified. */
export function printReport(title: string, fields: Array<[string, string]>, checks: readonly string[]): void {
  if (jsonOutput()) return emitJson({ title, ...Object.fromEntries(fields.map(([name, value]) => [jsonKey(name), value])), verified: checks });
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = [printable(title), ...fields.map(([name, value]) => `  ${name.padEnd(width)}  ${printable(value)}`)];
  if (checks.length > 0) lines.push('verified:', ...checks.map((check) => `  ok  ${check}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

export const say = (line: string): void => {
  process.stderr.write(`${printable(line)}\n`);
};

export const day = (date: Date): string => date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

/**
 * The report of `root` and `intermediate`: what was created, its key on the token, its fingerprint (to
 * compare wherever the certificate is installed as a trust anchor), and the next step.
 */
export async function printCaReport(title: string, ca: { certificate: string; subject: string; keyUri: string; notAfter: Date; files: readonly string[]; checks: readonly string[] }, next: string): Promise<void> {
  printReport(
    title,
    [
      ['subject', ca.subject],
      ['key', ca.keyUri],
      ['expires', day(ca.notAfter)],
      ['SHA-256', await fingerprintOfFile(ca.certificate)],
      ['files', ca.files.join(', ')],
      ['next', next],
    ],
    ca.checks,
  );
}

/** With --new-key: the key (and PKCS#12) delivered beside the certificate, and how a server or client uses them. */
function keyFields(leaf: { chain: string; profile: string }, delivered: { key: string; p12?: string }): Array<[string, string]> {
  const next = leaf.profile === 'client' ? `curl --cert ${leaf.chain} --key ${delivered.key} https://…` : `nginx: ssl_certificate ${leaf.chain}; ssl_certificate_key ${delivered.key};`;
  return [['key', `${delivered.key} (private key, mode 0600: keep it on the machine that uses it)`], ...(delivered.p12 ? [['PKCS#12', `${delivered.p12} (key + certificate + intermediate, mode 0600: Java keystores, Windows)`] as [string, string]] : []), ['next', next]];
}

/** The report of `server`, `client` and `renew`: the issued certificate, its names, and what was checked. */
export function printLeafReport(title: string, leaf: { certificate: string; chain: string; serial: string; subject: string; sans: readonly string[]; notAfter: Date; profile: string; ignoredExtensions: readonly string[]; checks: readonly string[] }, delivered?: { key: string; p12?: string }): void {
  printReport(
    `${title}: ${leaf.certificate}`,
    [
      ['chain', `${leaf.chain} (certificate + intermediate: nginx ssl_certificate, HAProxy crt, Kubernetes tls.crt)`],
      ['serial', leaf.serial],
      ['profile', leaf.profile],
      ['subject', leaf.subject],
      ['SANs', leaf.sans.join(', ') || '(none)'],
      ['expires', day(leaf.notAfter)],
      ...(leaf.ignoredExtensions.length > 0 ? [['ignored', `${leaf.ignoredExtensions.join(', ')} (requested by the CSR, not signed)`] as [string, string]] : []),
      ...(delivered ? keyFields(leaf, delivered) : []),
    ],
    leaf.checks,
  );
}

/** A dry run: the commands the token would run, each config in full, and the shadow CA's result as text. */
export function printDryRun(dry: { title: string; commands: readonly string[]; configs: ReadonlyArray<{ path: string; text: string }>; results: readonly string[]; checks: readonly string[] }): void {
  if (jsonOutput()) return emitJson({ dryRun: true, ...dry });
  const lines = [
    printable(dry.title),
    'nothing was signed on the token and nothing was written; no PIN was needed',
    'would run against the token (the PIN reaches openssl only through HSM_CA_PIN; the run uses a staged copy of the database):',
    ...dry.commands.map((command) => `  $ ${printable(command)}`),
    ...dry.configs.flatMap((config) => [`config ${printable(config.path)}:`, config.text.trimEnd()]),
    'what the shadow CA made from the same command and config:',
    ...dry.results.map((text) => text.trimEnd()),
    'verified (shadow):',
    ...dry.checks.map((check) => `  ok  ${check}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * The report of a batch: each certificate issued (file, serial, subject, SANs), each CSR refused with its
 * reason, and the count. A batch with refusals still signs the others but exits 1, so a script notices.
 */
export function printBatchReport(title: string, batch: { issued: ReadonlyArray<{ certificate: string; chain: string; serial: string; subject: string; sans: readonly string[]; notAfter: Date }>; refused: ReadonlyArray<{ csr: string; reason: string }> }): void {
  const count = `${batch.issued.length} issued, ${batch.refused.length} refused`;
  if (jsonOutput()) emitJson({ title: `${title}: ${count}`, issued: batch.issued, refused: batch.refused });
  else {
    const lines = [
      printable(`${title}: ${count}`),
      ...batch.issued.map((leaf) => printable(`  ${leaf.certificate}  serial ${leaf.serial}  ${leaf.subject}  ${leaf.sans.join(', ') || '(no SAN)'}  expires ${day(leaf.notAfter)}  (chain: ${leaf.chain})`)),
      ...batch.refused.map((refusal) => printable(`  refused ${refusal.csr}: ${refusal.reason}`)),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (batch.refused.length > 0) throw new CaError(`${batch.refused.length} of ${batch.issued.length + batch.refused.length} CSRs refused (listed above, each with its reason); the other ${batch.issued.length} were issued — fix or replace the refused ones and sign them again`);
}
