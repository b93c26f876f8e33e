import { join } from 'node:path';
import { CaError, UsageError } from '../errors.js';
import { renderTemplate } from '../openssl-config.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { Runner } from '../tools/run.js';

/**
 * How openssl reaches a key on the token. The libp11 `pkcs11` engine works on OpenSSL 1.1–3.x; OpenSSL 4 and
 * RHEL 10 have no engines at all, and there only a provider (pkcs11-provider) can. Both take the same
 * `pkcs11:` URIs and the PIN through `-passin env:…`, and the certificates they sign are equivalent.
 */
export type BackendName = 'engine' | 'provider';
export type BackendChoice = BackendName | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'engine', 'provider'];

/** The Debian package that brings each backend. */
export const BACKEND_PACKAGES: Readonly<Record<BackendName, string>> = { engine: 'libengine-pkcs11-openssl', provider: 'pkcs11-provider' };

/** The backends a choice may take, in order of preference: `auto` prefers the provider. */
export function backendCandidates(choice: BackendChoice): BackendName[] {
  return choice === 'auto' ? ['provider', 'engine'] : [choice];
}

/**
 * pkcs11-provider settings under which no supported pair crashes. `no-deinit`: pkcs11-provider 1.0 with
 * SoftHSM2 makes every openssl run end in SIGSEGV after writing its output without it (measured), and
 * skipping C_Finalize at exit is harmless for a short-lived openssl process with every version since.
 */
export const PROVIDER_QUIRKS = 'no-deinit';

export function parseBackendChoice(value: string, option = '--backend'): BackendChoice {
  const match = BACKEND_CHOICES.find((choice) => choice === value.toLowerCase());
  if (!match) throw new UsageError(`${option} ${value} is not a backend; choose one of ${BACKEND_CHOICES.join(', ')}`);
  return match;
}

/** The argv that makes `openssl req` or `openssl ca` load its key from the token through this backend. */
export function keyLoadArgs(backend: BackendName): string[] {
  return backend === 'engine' ? ['-engine', 'pkcs11', '-keyform', 'engine'] : [];
}

/** Renders the OPENSSL_CONF that loads `backend` with `module` into `dir` and returns its path. */
export async function writeBackendConfig(dir: string, backend: BackendName, module: string, name: string): Promise<string> {
  const path = join(dir, `openssl_${backend}.${name}.cnf`);
  const text = backend === 'engine' ? await renderTemplate('openssl_engine.cnf', { module }) : await renderTemplate('openssl_provider.cnf', { module, quirks: PROVIDER_QUIRKS });
  await writeFileAtomic(path, text, 0o600);
  return path;
}

/** Whether openssl, with the OPENSSL_CONF at `config`, loads the backend (the provider also loads the module). */
export async function backendLoads(run: Runner, backend: BackendName, config: string): Promise<boolean> {
  const env = { env: { OPENSSL_CONF: config } };
  try {
    if (backend === 'engine') return /\[ available \]/.test((await run('openssl', ['engine', '-t', 'pkcs11'], env)).stdout);
    return providerListed((await run('openssl', ['list', '-providers'], env)).stdout);
  } catch {
    return false;
  }
}

/** Whether `openssl list -providers` shows the pkcs11 provider as active. */
export function providerListed(text: string): boolean {
  return /^\s+pkcs11\n(?:\s+\w+:.*\n)*?\s+status: active$/m.test(text);
}

/** The backend a run uses, and the OPENSSL_CONF that loads it. */
export interface OpensslBackend {
  readonly backend: BackendName;
  readonly config: string;
}

/**
 * Resolves a choice for one module: `auto` takes the provider when it is installed and loads the module,
 * else the engine; an explicit choice that does not load fails here, before any login, saying what to install.
 */
export async function resolveBackend(run: Runner, choice: BackendChoice, module: string, dir: string, name: string): Promise<OpensslBackend> {
  for (const backend of backendCandidates(choice)) {
    const config = await writeBackendConfig(dir, backend, module, name);
    if (await backendLoads(run, backend, config)) return { backend, config };
  }
  throw new CaError(
    choice === 'auto'
      ? `OpenSSL can load neither pkcs11-provider nor the libp11 pkcs11 engine with ${module}; install ${BACKEND_PACKAGES.provider} (or ${BACKEND_PACKAGES.engine} where OpenSSL still has engines) and check --module, or run \`hsm-openssl-ca doctor\``
      : `OpenSSL cannot load the ${choice === 'provider' ? 'pkcs11-provider' : 'libp11 pkcs11 engine'} (package ${BACKEND_PACKAGES[choice]}) with ${module}; install it, check --module, or pass --backend auto`,
  );
}
