#!/usr/bin/env node
// Grows a CA made by hsm-openssl-ca to N issued certificates, fast, for the scale tests and the bench.
// Usage: node scripts/grow-ca.mjs --dir CA_DIR --count N   (SOFTHSM2_CONF and HSM_CA_PIN as for the CLI)
//
// The CA must have its intermediate and have signed one `server` certificate with the CLI (that run keeps
// DIR/config/sign_server_csrs.ini). The rest is signed the way the issue measured it: raw `openssl ca
// -infiles` with that very config on the same token key, thousands per run (one login each), and for every
// certificate the audit record the CLI would have written, chained and anchored in audit.head. The CA then
// publishes its CRL with the CLI, so `check` says OK on the result.
import { execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;
const { buildRecord, sha256Hex } = await import(dist('ca/audit/record.js'));
const { chainHead } = await import(dist('ca/audit/log.js'));
const { auditHeadPath, auditHeadText } = await import(dist('ca/audit/head.js'));
const { writeBackendConfig, backendCandidates, backendLoads, keyLoadArgs } = await import(dist('openssl/backend.js'));
const { run } = await import(dist('tools/run.js'));
const { decodeCertificate, formatName, pemToDer } = await import(dist('x509/decode.js'));
const { sanStrings } = await import(dist('x509/san.js'));

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
/** Certificates per `openssl ca -infiles` run: one login each, and an argv well under the kernel's limit. */
const PER_RUN = 2000;
/** Distinct requests cycled through: distinct subjects without a key generation per certificate. */
const DISTINCT_CSRS = 50;

/** The backend the CA's settings choose, with an OPENSSL_CONF that loads it (as the CLI resolves it). */
export async function backendFor(settings, workspace) {
  for (const backend of backendCandidates(settings.backend ?? 'auto')) {
    const config = await writeBackendConfig(workspace, backend, settings.module, 'grow');
    if (await backendLoads(run, backend, config)) return { backend, config };
  }
  throw new Error(`no OpenSSL backend loads ${settings.module}`);
}

function makeCsrs(workspace) {
  return Array.from({ length: DISTINCT_CSRS }, (_, i) => {
    const csr = join(workspace, `g${i}.csr`);
    execFileSync('openssl', ['req', '-new', '-nodes', '-batch', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', join(workspace, `g${i}.key`), '-subj', `/CN=g${i}.grown.example`, '-out', csr], { stdio: 'ignore' });
    return csr;
  });
}

/** The audit lines for the index.txt lines `added`, chained onto `head`; returns the new head. */
function recordIssued(caDir, added, head, now) {
  const lines = [];
  for (const indexLine of added) {
    const serial = indexLine.split('\t')[3];
    const path = join(caDir, 'intermediate', 'newcerts', `${serial}.pem`);
    const cert = decodeCertificate(pemToDer(readFileSync(path, 'utf8'), 'CERTIFICATE', path));
    const event = { action: 'certificate-issued', command: 'server', serial: cert.serialHex, subject: formatName(cert.subject), sans: sanStrings(cert.extensions), certificateSha256: sha256Hex(cert.der), detail: 'server certificate, 375 days (grown by scripts/grow-ca.mjs)' };
    const line = JSON.stringify(buildRecord(event, head.seq + 1, now, head.hash));
    lines.push(line);
    head = { seq: head.seq + 1, hash: sha256Hex(Buffer.from(line, 'utf8')) };
  }
  appendFileSync(join(caDir, 'audit.log'), lines.map((l) => `${l}\n`).join(''));
  writeFileSync(auditHeadPath(caDir), auditHeadText(head));
  return head;
}

/** One `openssl ca -infiles` run; its chatter (a few lines per certificate) goes to `log`, shown on failure. */
function signAll(caDir, backend, env, infiles, log) {
  const fd = openSync(log, 'w');
  try {
    execFileSync('openssl', ['ca', '-config', join(caDir, 'config', 'sign_server_csrs.ini'), ...keyLoadArgs(backend), '-passin', 'env:HSM_CA_PIN', '-batch', '-notext', '-extensions', 'server_cert', '-days', '375', '-md', 'sha384', '-out', '/dev/null', '-infiles', ...infiles], { env, stdio: ['ignore', 'ignore', fd] });
  } catch (error) {
    throw new Error(`openssl ca -infiles failed: ${readFileSync(log, 'utf8').split('\n').slice(-5).join('\n')}`, { cause: error });
  } finally {
    closeSync(fd);
  }
}

/** Adds certificates to `caDir` until its intermediate has issued `count`; then publishes the CRL. */
export async function growCa(caDir, count, env = process.env) {
  const settings = JSON.parse(readFileSync(join(caDir, 'hsm-openssl-ca.json'), 'utf8'));
  const indexPath = join(caDir, 'intermediate', 'index.txt');
  const workspace = mkdtempSync(join(tmpdir(), 'hsm-ca-grow-'));
  try {
    const { backend, config } = await backendFor(settings, workspace);
    const csrs = makeCsrs(workspace);
    let head = await chainHead(caDir);
    for (;;) {
      const before = readFileSync(indexPath, 'utf8').split('\n').filter(Boolean);
      const missing = count - before.length;
      if (missing <= 0) break;
      const infiles = Array.from({ length: Math.min(PER_RUN, missing) }, (_, i) => csrs[i % csrs.length]);
      signAll(caDir, backend, { ...env, OPENSSL_CONF: config }, infiles, join(workspace, 'openssl.log'));
      const after = readFileSync(indexPath, 'utf8').split('\n').filter(Boolean);
      head = recordIssued(caDir, after.slice(before.length), head, new Date().toISOString());
    }
    execFileSync(process.execPath, [CLI, 'crl', '--dir', caDir], { env, stdio: 'ignore' });
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name) => process.argv[process.argv.indexOf(name) + 1];
  if (!process.argv.includes('--dir') || !process.argv.includes('--count')) {
    console.error('usage: node scripts/grow-ca.mjs --dir CA_DIR --count N');
    process.exit(64);
  }
  await growCa(arg('--dir'), Number(arg('--count')));
}
