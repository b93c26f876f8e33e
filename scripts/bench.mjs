#!/usr/bin/env node
// The issue 11 bench: hsm-openssl-ca against raw openssl on the same SoftHSM2 token in the same run, paired
// (ours then the baseline, N times), medians. Writes bench/results.json and bench/results.md and prints the
// table. Not run in CI. The CA states with 10,000 and 100,000 certificates are grown once and cached (see
// bench-ca.mjs); each size is measured on a private copy. Usage: npm run bench [-- --runs N] [-- --sizes 1,10000]
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedState, copyState, makeCsr, MODULE, stateEnv } from './bench-ca.mjs';
import { backendFor } from './grow-ca.mjs';

const { keyLoadArgs } = await import(new URL('../dist/openssl/backend.js', import.meta.url).href);

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const OUT = fileURLToPath(new URL('../bench/', import.meta.url));
const SPY = '/usr/lib/x86_64-linux-gnu/pkcs11-spy.so';
const option = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const RUNS = Math.max(5, Number(option('--runs', 5)));
const SIZES = option('--sizes', '1,10000,100000').split(',').map(Number);

/** Runs a program under /usr/bin/time: wall ms and peak RSS (MiB); a failure stops the bench with its output. */
function timed(file, args, env) {
  const start = process.hrtime.bigint();
  const run = spawnSync('/usr/bin/time', ['-f', '%M', file, ...args], { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (run.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${run.status}:\n${run.stderr.slice(-2000)}`);
  return { ms, rssMiB: Number(run.stderr.trim().split('\n').at(-1)) / 1024 };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const peaks = [];

/** `ours` and `baseline` alternately, RUNS times each (after one unmeasured warm-up of each); medians. `what` names ours in the peak-memory row. */
function paired(what, ours, baseline) {
  ours(-1);
  baseline?.(-1);
  const a = [];
  const b = [];
  for (let i = 0; i < RUNS; i += 1) {
    const x = ours(i);
    a.push(x.ms);
    peaks.push({ rssMiB: x.rssMiB, what });
    if (baseline) b.push(baseline(i).ms);
  }
  return { ours: median(a), baseline: baseline ? median(b) : undefined };
}

/** A copy of a state's intermediate database, and the CLI's own config pointed at it, for raw openssl ca. */
async function rawOpensslCa(state, work) {
  const raw = join(work, 'raw');
  mkdirSync(join(raw, 'newcerts'), { recursive: true });
  for (const file of ['index.txt', 'index.txt.attr', 'crlnumber']) cpSync(join(state, 'ca', 'intermediate', file), join(raw, file));
  cpSync(join(state, 'ca', 'intermediate', 'certs', 'intermediate.crt'), join(raw, 'intermediate.crt'));
  const config = readFileSync(join(state, 'ca', 'config', 'sign_server_csrs.ini'), 'utf8')
    .replace(/^dir *=.*$/m, `dir = ${raw}`)
    .replace(/^certificate *=.*$/m, `certificate = ${join(raw, 'intermediate.crt')}`);
  writeFileSync(join(raw, 'ca.ini'), config);
  const settings = JSON.parse(readFileSync(join(state, 'ca', 'hsm-openssl-ca.json'), 'utf8'));
  const { backend, config: opensslConf } = await backendFor(settings, raw);
  const base = ['ca', '-config', join(raw, 'ca.ini'), ...keyLoadArgs(backend), '-passin', 'env:HSM_CA_PIN', '-batch', '-notext', '-extensions', 'server_cert', '-days', '375', '-md', 'sha384'];
  const env = { ...stateEnv(state), OPENSSL_CONF: opensslConf };
  const one = (csr, i) => timed('openssl', [...base, '-in', csr, '-out', join(raw, `raw${i}.crt`)], env);
  // The floor for a batch: one process, one login, every CSR (`-infiles` takes every argument after it).
  one.batch = (csrs, i) => timed('openssl', [...base, '-out', join(raw, `batch${i}.crt`), '-infiles', ...csrs], env);
  return one;
}

const BATCH = 1000;

/**
 * Issue 11's batch rows: `server --from-dir` with 1,000 CSRs against raw `openssl ca -infiles` of the same
 * CSRs on the same token (paired), against 1,000 single CLI runs (the measured single signing × 1,000: running
 * 1,000 of them would take a quarter of an hour per pairing), and its logins counted by pkcs11-spy.
 */
function measureBatch(state, dir, raw, single) {
  const requests = join(state, 'batch-requests');
  mkdirSync(requests);
  const csrs = Array.from({ length: BATCH }, (_, i) => makeCsr(requests, `b${String(i).padStart(4, '0')}`));
  const outDir = (i) => {
    const out = join(state, `batch-out-${i}`);
    mkdirSync(out);
    return out;
  };
  const batch = paired(`server --from-dir (${BATCH.toLocaleString('en')} CSRs)`, (i) => timed(process.execPath, [CLI, 'server', '--from-dir', requests, '--out-dir', outDir(i), '--dir', dir], stateEnv(state)), (i) => raw.batch(csrs, i));
  row(`batch of ${BATCH.toLocaleString('en')} CSRs (server --from-dir) vs raw \`openssl ca -infiles\``, batch.ours, batch.baseline, '≤ 1.5× raw', batch.ours <= 1.5 * batch.baseline);
  // Ours against ours: the ratio column reads as how many times faster the batch is.
  row(`${BATCH.toLocaleString('en')} single CLI runs (one single signing × ${BATCH.toLocaleString('en')}) vs the same batch`, single * BATCH, batch.ours, 'batch ≥ 20× faster', batch.ours * 20 <= single * BATCH);
  const log = join(state, 'batch-spy.log');
  timed(process.execPath, [CLI, 'server', '--from-dir', requests, '--out-dir', outDir('spied'), '--dir', dir, '--module', SPY], { ...stateEnv(state), PKCS11SPY: MODULE, PKCS11SPY_OUTPUT: log });
  const logins = (readFileSync(log, 'utf8').match(/^\d+: C_Login$/gm) ?? []).length;
  // These CSRs share one shadow CA run; the token signs each in a run of its own (a random serial each), one login per run.
  row(`logins (C_Login) for the batch of ${BATCH.toLocaleString('en')}, pkcs11-spy (${BATCH.toLocaleString('en')} token openssl ca runs)`, logins, undefined, `${BATCH.toLocaleString('en')} (1 per openssl run)`, logins === BATCH, 'login(s)');
}

/** C_Login calls of one CLI signing, counted by OpenSC's pkcs11-spy wrapped around SoftHSM2. */
function loginsPerSigning(state, dir, work) {
  const log = join(work, 'spy.log');
  const env = { ...stateEnv(state), PKCS11SPY: MODULE, PKCS11SPY_OUTPUT: log };
  timed(process.execPath, [CLI, 'server', makeCsr(work, 'spied'), '--dir', dir, '--module', SPY], env);
  return (readFileSync(log, 'utf8').match(/^\d+: C_Login$/gm) ?? []).length;
}

const rows = [];
/** One line of the table; another measurement (the shadow CA's, a batch) is one more call. */
const row = (name, ours, baseline, target, met, unit = 'ms') => rows.push({ name, ours: Math.round(ours), baseline: baseline === undefined ? null : Math.round(baseline), unit, target, met });

async function measureSize(count) {
  const state = mkdtempSync(join(tmpdir(), `hsm-ca-bench-${count}-`));
  try {
    copyState(cachedState.done[count], state);
    const dir = join(state, 'ca');
    const env = stateEnv(state);
    const raw = await rawOpensslCa(state, state);
    const csrs = Array.from({ length: RUNS + 1 }, (_, i) => makeCsr(state, `s${i}`));
    const label = count === 1 ? '0' : count.toLocaleString('en');
    const signing = paired(`server at ${label}`, (i) => timed(process.execPath, [CLI, 'server', csrs[i + 1], '--dir', dir], env), (i) => raw(csrs[i + 1], i + 1));
    row(`one signing at ${label} certificates vs raw openssl ca`, signing.ours, signing.baseline, '≤ raw + 150 ms', signing.ours <= signing.baseline + 150);
    const list = paired(`list at ${label}`, () => timed(process.execPath, [CLI, 'list', '--dir', dir], env));
    row(`list at ${label}`, list.ours, undefined, count >= 100000 ? '≤ 3,000 ms' : '', count >= 100000 ? list.ours <= 3000 : null);
    const check = paired(`check at ${label}`, () => timed(process.execPath, [CLI, 'check', '--dir', dir], env));
    row(`check at ${label}`, check.ours, undefined, count >= 100000 ? '≤ 10,000 ms' : '', count >= 100000 ? check.ours <= 10000 : null);
    if (count === 1) {
      // Issue 13: the shadow CA's step alone (software signing + verify, no token, no login), as server --dry-run.
      const dryCsrs = Array.from({ length: RUNS + 1 }, (_, i) => makeCsr(state, `dry${i}`));
      const shadow = paired('server --dry-run', (i) => timed(process.execPath, [CLI, 'server', dryCsrs[i + 1], '--dir', dir, '--dry-run'], env));
      row('shadow step alone (server --dry-run: checks, shadow signing and verify, no token)', shadow.ours, undefined, 'report only', null);
      const logins = loginsPerSigning(state, dir, state);
      row('logins (C_Login) per signing, pkcs11-spy', logins, undefined, '1', logins === 1, 'login(s)');
      measureBatch(state, dir, raw, signing.ours);
    }
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

function table() {
  const lines = ['| measurement | hsm-openssl-ca | baseline | ratio | target | met |', '|---|---:|---:|---:|---|---|'];
  for (const r of rows) {
    if (r.note) lines.push(`| ${r.name} | ${r.note} | | | ${r.target} | |`);
    else lines.push(`| ${r.name} | ${r.ours} ${r.unit} | ${r.baseline === null ? '' : `${r.baseline} ${r.unit}`} | ${r.baseline ? `${(r.ours / r.baseline).toFixed(1)}×` : ''} | ${r.target} | ${r.met === null ? '' : r.met ? 'yes' : '**no**'} |`);
  }
  return lines.join('\n');
}

function machine() {
  const version = (file, args) => spawnSync(file, args, { encoding: 'utf8' }).stdout.split('\n')[0].trim();
  return `${cpus().length} × ${cpus()[0].model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${version('openssl', ['version'])}, SoftHSM2 (file backend), load average at start ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`;
}

cachedState.done = {};
for (const count of SIZES) cachedState.done[count] = await cachedState(count);
const started = new Date().toISOString();
const host = machine();
const help = paired('--help', () => timed(process.execPath, [CLI, '--help'], process.env), () => timed(process.execPath, ['-e', '0'], process.env));
row('`--help` vs `node -e 0`', help.ours, help.baseline, '≤ node + 60 ms', help.ours <= help.baseline + 60);
for (const count of SIZES) await measureSize(count);
const peak = peaks.reduce((a, b) => (b.rssMiB > a.rssMiB ? b : a));
row(`peak RSS of any measured CLI run (${peak.what})`, peak.rssMiB, undefined, '≤ 200 MiB', peak.rssMiB <= 200, 'MiB');

const markdown = `Measured ${started} on ${host}; paired medians of ${RUNS} runs.\n\n${table()}\n`;
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'results.json'), `${JSON.stringify({ started, machine: host, runs: RUNS, rows }, null, 2)}\n`);
writeFileSync(join(OUT, 'results.md'), markdown);
process.stdout.write(markdown);
