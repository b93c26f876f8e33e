#!/usr/bin/env node
// Speed and memory targets for hsm-openssl-ca, measured on a throwaway SoftHSM2 token (never in a test).
// Usage: npm run bench [-- --signings N]. Exits 1 when a target is missed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const signings = Number(process.argv[process.argv.indexOf('--signings') + 1]) || 20;

/** Target: what a careful operator would notice. SoftHSM2 is a floor; real HSMs add signing latency. */
const TARGETS = {
  'startup (--help), median ms': 600,
  'root (keygen + self-sign + verify), ms': 3000,
  'intermediate (keygen + CSR + sign + verify), ms': 3000,
  'server signing, median ms': 1500,
  'server signing, p95 ms': 2500,
  'peak RSS of one CLI run, MiB': 200,
  // Issue 13: the shadow CA's step alone (software signing + verify, no token), timed as server --dry-run.
  'shadow step (server --dry-run), median ms': 1500,
};

const root = mkdtempSync(join(tmpdir(), 'hsm-ca-bench-'));
const conf = join(root, 'softhsm2.conf');
mkdirSync(join(root, 'tokens'));
writeFileSync(conf, `directories.tokendir = ${join(root, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
const env = { ...process.env, SOFTHSM2_CONF: conf, HSM_CA_PIN: '246810', BENCH_SO_PIN: '13579111' };
execFileSync('pkcs11-tool', ['--module', MODULE, '--slot-index', '0', '--init-token', '--label', 'Bench', '--so-pin', 'env:BENCH_SO_PIN'], { env, stdio: 'ignore' });
execFileSync('pkcs11-tool', ['--module', MODULE, '--token-label', 'Bench', '--init-pin', '--login', '--login-type', 'so', '--so-pin', 'env:BENCH_SO_PIN', '--new-pin', 'env:HSM_CA_PIN'], { env, stdio: 'ignore' });

/** Runs the CLI once under python's getrusage to get wall time and the child's peak RSS. */
function timed(args) {
  const probe = 'import resource,subprocess,sys,time\nt=time.monotonic()\nr=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE)\nprint((time.monotonic()-t)*1000, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)\nsys.stderr.write(r.stderr.decode())';
  const out = spawnSync('python3', ['-c', probe, process.execPath, CLI, ...args], { env, encoding: 'utf8' });
  const [ms, rssKiB, code] = out.stdout.trim().split(' ').map(Number);
  if (code !== 0) throw new Error(`hsm-openssl-ca ${args.join(' ')} failed:\n${out.stderr}`);
  return { ms, rssMiB: rssKiB / 1024 };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const p95 = (values) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(values.length * 0.95) - 1)];

try {
  const dir = join(root, 'ca');
  const runs = [];
  const help = Array.from({ length: 5 }, () => timed(['--help']));
  runs.push(...help);
  timed(['init', '--dir', dir, '--token', 'Bench', '--org', 'Bench']);
  const rootRun = timed(['root', '--dir', dir]);
  const intermediateRun = timed(['intermediate', '--dir', dir]);
  runs.push(rootRun, intermediateRun);
  const serverTimes = [];
  for (let i = 0; i < signings; i += 1) {
    const csr = join(root, `s${i}.csr`);
    execFileSync('openssl', ['req', '-new', '-nodes', '-batch', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', join(root, `s${i}.key`), '-subj', `/CN=s${i}.bench.test`, '-out', csr], { stdio: 'ignore' });
    const run = timed(['server', csr, '--dir', dir]);
    serverTimes.push(run.ms);
    runs.push(run);
  }
  // Shadow step, measured apart: a dry run does everything a signing does up to the token, and no more.
  const shadowTimes = Array.from({ length: 5 }, () => timed(['server', join(root, 's0.csr'), '--dir', dir, '--out', join(root, 'dry.crt'), '--dry-run']).ms);
  const measured = {
    'startup (--help), median ms': median(help.map((r) => r.ms)),
    'root (keygen + self-sign + verify), ms': rootRun.ms,
    'intermediate (keygen + CSR + sign + verify), ms': intermediateRun.ms,
    'server signing, median ms': median(serverTimes),
    'server signing, p95 ms': p95(serverTimes),
    'peak RSS of one CLI run, MiB': Math.max(...runs.map((r) => r.rssMiB)),
    'shadow step (server --dry-run), median ms': median(shadowTimes),
  };
  let missed = 0;
  console.log(`hsm-openssl-ca bench: SoftHSM2, EC P-384 CA keys, ${signings} server signings`);
  for (const [name, target] of Object.entries(TARGETS)) {
    const value = measured[name];
    const ok = value <= target;
    if (!ok) missed += 1;
    console.log(`  ${ok ? 'ok  ' : 'MISS'}  ${name.padEnd(48)} ${value.toFixed(0).padStart(6)}  (target ≤ ${target})`);
  }
  process.exitCode = missed ? 1 : 0;
} finally {
  rmSync(root, { recursive: true, force: true });
}
