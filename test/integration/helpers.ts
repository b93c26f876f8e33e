import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@jest/globals';

/** Integration tests run the built CLI (`npm test` builds first), exactly as a user would. */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
/** OpenSC's logging PKCS#11 wrapper: counts C_Login calls and their results. */
export const SPY_MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11-spy.so';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with an argv array and no shell; never throws for a non-zero exit. */
export function exec(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: options.env, cwd: options.cwd, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 128) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Like exec, but a non-zero exit is a test failure with the output shown. */
export async function mustExec(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  const result = await exec(file, args, options);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.code}\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

/** A temp folder with its own SoftHSM2 token store and one initialised token. */
export interface Sandbox {
  readonly root: string;
  readonly caDir: string;
  readonly pin: string;
  readonly tokenLabel: string;
  /** SOFTHSM2_CONF and HSM_CA_PIN set; everything else inherited. */
  readonly env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export async function makeSandbox(options: { tokenLabel?: string; pin?: string } = {}): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), 'hsm-ca-it-'));
  const tokenLabel = options.tokenLabel ?? 'CA Token';
  const pin = options.pin ?? '648213';
  await mustExec('mkdir', [join(root, 'tokens')]);
  const conf = join(root, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${join(root, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  // XDG_CACHE_HOME: `list`'s summary cache of a large CA stays in the sandbox and goes with it.
  const env = { ...process.env, SOFTHSM2_CONF: conf, HSM_CA_PIN: pin, XDG_CACHE_HOME: join(root, 'cache') };
  // PINs through the environment here too, so the argv checks see no PIN from the test set-up either.
  const setup = { env: { ...env, SO_PIN: '87654321' } };
  await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--slot-index', '0', '--init-token', '--label', tokenLabel, '--so-pin', 'env:SO_PIN'], setup);
  await mustExec('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', tokenLabel, '--init-pin', '--login', '--login-type', 'so', '--so-pin', 'env:SO_PIN', '--new-pin', 'env:HSM_CA_PIN'], setup);
  return { root, caDir: join(root, 'ca'), pin, tokenLabel, env, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/**
 * The backend every CA made by the tests records (`init --backend`), so one suite runs once per backend:
 * the release matrix sets HSM_CA_TEST_BACKEND=engine or provider; unset, the CLI's own default (auto) applies.
 */
const TEST_BACKEND = process.env['HSM_CA_TEST_BACKEND'];

function withTestBackend(args: readonly string[]): readonly string[] {
  return args[0] === 'init' && TEST_BACKEND && !args.includes('--backend') ? [...args, '--backend', TEST_BACKEND] : args;
}

export function cli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Result> {
  return exec(process.execPath, [CLI, ...withTestBackend(args)], options);
}

/** init + root + intermediate, each asserted to succeed. */
export async function ceremony(sandbox: Sandbox, initArgs: readonly string[] = [], intermediateArgs: readonly string[] = []): Promise<void> {
  for (const args of [
    ['init', '--dir', sandbox.caDir, '--token', sandbox.tokenLabel, '--org', 'My Company', '--country', 'US', '--state', 'My State', ...initArgs],
    ['root', '--dir', sandbox.caDir],
    ['intermediate', '--dir', sandbox.caDir, ...intermediateArgs],
  ]) {
    const result = await cli(args, { env: sandbox.env });
    if (result.code !== 0) throw new Error(`${args[0]} exited ${result.code}: ${result.stderr}`);
  }
}

/** A software key and CSR made with openssl, as a server operator would. */
export async function makeCsr(dir: string, name: string, options: { subject?: string; sans?: string; key?: string[] } = {}): Promise<string> {
  const csr = join(dir, `${name}.csr`);
  await mustExec('openssl', [
    'req', '-new', '-nodes', '-batch',
    ...(options.key ?? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']),
    '-keyout', join(dir, `${name}.key`),
    '-subj', options.subject ?? `/CN=${name}.example.com`,
    ...(options.sans ? ['-addext', `subjectAltName=${options.sans}`] : []),
    '-out', csr,
  ]);
  return csr;
}

/** Path → SHA-256 of every file and directory below `dir`, to prove a failed run changed nothing. */
export async function treeHash(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(path: string): Promise<void> {
    const info = await stat(path);
    if (info.isDirectory()) {
      out[path] = `dir ${info.mode.toString(8)}`;
      for (const entry of (await readdir(path)).sort()) await walk(join(path, entry));
    } else {
      out[path] = createHash('sha256').update(await readFile(path)).digest('hex');
    }
  }
  await walk(dir);
  return out;
}

/** Every file's text below `dir`, concatenated: for "the PIN is nowhere" checks. */
export async function allFileText(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const path of Object.keys(await treeHash(dir))) {
    if (!(await stat(path)).isDirectory()) parts.push(await readFile(path, 'latin1'));
  }
  return parts.join('\n');
}

/** One error line from the CLI, last on stderr, and a failing exit code. */
export function expectOneLineError(result: Result, pattern: RegExp): void {
  expect(result.code).not.toBe(0);
  const errorLines = result.stderr.trim().split('\n').filter((line) => line.startsWith('hsm-openssl-ca:'));
  expect(errorLines).toHaveLength(1);
  expect(result.stderr.trim().split('\n').at(-1)).toBe(errorLines[0]);
  expect(errorLines[0]).toMatch(pattern);
}

