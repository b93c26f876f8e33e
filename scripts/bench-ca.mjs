// CA states for the bench: a SoftHSM2 token and a CA directory that has issued N certificates, made once
// and kept under /var/cache (growing 100,000 takes minutes), copied fresh for every measurement that changes it.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { growCa } from './grow-ca.mjs';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const PIN = '246810';
const CACHE = process.env.HSM_CA_BENCH_CACHE ?? (isWritable('/var/cache') ? '/var/cache/hsm-openssl-ca-bench' : join(tmpdir(), 'hsm-openssl-ca-bench'));

function isWritable(dir) {
  try {
    const probe = mkdtempSync(join(dir, '.probe-'));
    rmSync(probe, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

/** The environment that reaches the token of the state in `root`. */
export function stateEnv(root) {
  return { ...process.env, SOFTHSM2_CONF: join(root, 'softhsm2.conf'), HSM_CA_PIN: PIN };
}

function writeConf(root) {
  writeFileSync(join(root, 'softhsm2.conf'), `directories.tokendir = ${join(root, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
}

/** A fresh token with a CA (EC P-256 keys, as the issue measured) that signed one server certificate. */
function makeState(root) {
  mkdirSync(join(root, 'tokens'), { recursive: true });
  writeConf(root);
  const env = { ...stateEnv(root), BENCH_SO_PIN: '13579111' };
  const quiet = { env, stdio: 'ignore' };
  execFileSync('pkcs11-tool', ['--module', MODULE, '--slot-index', '0', '--init-token', '--label', 'Bench', '--so-pin', 'env:BENCH_SO_PIN'], quiet);
  execFileSync('pkcs11-tool', ['--module', MODULE, '--token-label', 'Bench', '--init-pin', '--login', '--login-type', 'so', '--so-pin', 'env:BENCH_SO_PIN', '--new-pin', 'env:HSM_CA_PIN'], quiet);
  const dir = join(root, 'ca');
  execFileSync(process.execPath, [CLI, 'init', '--dir', dir, '--token', 'Bench', '--org', 'Bench', '--key-type', 'EC:secp256r1'], quiet);
  execFileSync(process.execPath, [CLI, 'root', '--dir', dir], quiet);
  execFileSync(process.execPath, [CLI, 'intermediate', '--dir', dir], quiet);
  execFileSync(process.execPath, [CLI, 'server', makeCsr(root, 'first'), '--dir', dir], quiet);
}

/** A software key and CSR, as a server operator makes them. */
export function makeCsr(dir, name) {
  const csr = join(dir, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', '-nodes', '-batch', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', join(dir, `${name}.key`), '-subj', `/CN=${name}.bench.example`, '-addext', `subjectAltName=DNS:${name}.bench.example`, '-out', csr], { stdio: 'ignore' });
  return csr;
}

/** The cached state with `count` issued certificates (1 means the CA after its first signing), made if missing. */
export async function cachedState(count) {
  const root = join(CACHE, `issued-${count}`);
  if (existsSync(join(root, 'ready'))) return root;
  mkdirSync(CACHE, { recursive: true });
  const building = mkdtempSync(join(CACHE, `.building-${count}-`));
  try {
    makeState(building);
    if (count > 1) await growCa(join(building, 'ca'), count, stateEnv(building));
    writeFileSync(join(building, 'ready'), `${new Date().toISOString()}\n`);
    rmSync(root, { recursive: true, force: true });
    // The paths inside (softhsm2.conf, the CA's configs) name `root`: build in place is simpler than rewriting.
    renameSync(building, root);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw error;
  }
  return root;
}

/** A private copy of a cached state, for a measurement that changes it; the caller removes it. */
export function copyState(cached, into) {
  cpSync(cached, into, { recursive: true });
  writeConf(into);
  return into;
}
