import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, mustExec, type Result } from '../helpers.js';

/** The preload that counts file-system steps and kills at one of them (see its header). */
export const TRACER = fileURLToPath(new URL('./tracer.cjs', import.meta.url));

/**
 * One place a sweep runs in: its own CA directory, SoftHSM2 token directory and request directory (the --out
 * files' directory), so kill points can run side by side. `env` points SoftHSM2 at this worker's tokens.
 */
export interface Worker {
  readonly root: string;
  readonly caDir: string;
  readonly tokenDir: string;
  readonly reqDir: string;
  readonly env: NodeJS.ProcessEnv;
}

/** The three directories a worker is made of; a snapshot holds a copy of each under the same names. */
const PARTS = ['ca', 'tokens', 'req'] as const;

export async function makeWorker(root: string, env: NodeJS.ProcessEnv): Promise<Worker> {
  await mkdir(root, { recursive: true });
  const conf = join(root, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${join(root, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  return { root, caDir: join(root, 'ca'), tokenDir: join(root, 'tokens'), reqDir: join(root, 'req'), env: { ...env, SOFTHSM2_CONF: conf } };
}

/** Copies the worker's CA, token and request directories to `to` (copying the token files copies the token). */
export async function snapshot(worker: Worker, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const part of PARTS) await mustExec('cp', ['-a', join(worker.root, part), join(to, part)]);
}

/** Puts the worker back exactly as the snapshot was: faster than re-running the ceremony by far. */
export async function restore(worker: Worker, from: string): Promise<void> {
  for (const part of PARTS) {
    await rm(join(worker.root, part), { recursive: true, force: true });
    await mustExec('cp', ['-a', join(from, part), join(worker.root, part)]);
  }
}

export interface Run extends Result {
  readonly signal: NodeJS.Signals | null;
  /** Stopped by the harness after RUN_TIMEOUT_MS: the run hung. */
  readonly timedOut: boolean;
}

/** A run of one command on a CA of a few certificates takes seconds; this is a hang, well before the CLI's own 300 s child timeout. */
const RUN_TIMEOUT_MS = 120_000;

/** Runs the built CLI; never throws for a failed or killed run. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, preload = false): Promise<Run> {
  const argv = preload ? ['--require', TRACER, CLI, ...args] : [CLI, ...args];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(process.execPath, argv, { env, maxBuffer: 64 * 1024 * 1024, timeout: RUN_TIMEOUT_MS }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 128) : 0;
      const timedOut = Boolean(error?.killed) && Date.now() - started >= RUN_TIMEOUT_MS;
      resolve({ code, signal: child.signalCode, timedOut, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end();
  });
}

export interface TracedRun extends Run {
  /** One `kind<TAB>where` line per step, in order. */
  readonly steps: string[];
}

/** Runs the CLI under the tracer over the worker's three directories; with `killAt`, SIGKILLed after that step. */
export async function runTraced(worker: Worker, args: readonly string[], killAt?: number): Promise<TracedRun> {
  const traceFile = join(worker.root, 'trace.txt');
  await rm(traceFile, { force: true });
  const env = {
    ...worker.env,
    HSM_CA_TRACE_DIRS: [worker.caDir, worker.tokenDir, worker.reqDir].join(':'),
    HSM_CA_TRACE_FILE: traceFile,
    ...(killAt === undefined ? {} : { HSM_CA_KILL_AT: String(killAt) }),
  };
  const run = await runCli(args, env, true);
  const text = await readFile(traceFile, 'utf8').catch(() => '');
  return { ...run, steps: text.split('\n').filter(Boolean) };
}

/** A step line without what changes from run to run: temporary names, pids, key ids, the workspace's name. */
export function normalizeStep(line: string): string {
  return line.replace(/hsm-openssl-ca-[^/\s]*/g, 'WORKSPACE').replace(/(%[0-9a-f]{2})+/gi, '%H').replace(/[0-9a-f]{8,}/gi, 'H').replace(/\d+/g, 'N');
}

export interface IndexEntry {
  readonly status: string;
  readonly serial: string;
  readonly line: string;
}

/** An OpenSSL index.txt: status, expiry, revocation, serial, file, subject, tab-separated. */
export async function readIndex(path: string): Promise<IndexEntry[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => {
    const fields = line.split('\t');
    return { status: fields[0] ?? '', serial: (fields[3] ?? '').toUpperCase(), line };
  });
}

export interface AuditRecord {
  readonly action: string;
  readonly command?: string;
  readonly serial?: string;
}

/** audit.log's records; a line that is not JSON is left out (audit verify reports it). */
export async function readAudit(caDir: string): Promise<AuditRecord[]> {
  const text = await readFile(join(caDir, 'audit.log'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).flatMap((line) => {
    try {
      return [JSON.parse(line) as AuditRecord];
    } catch {
      return [];
    }
  });
}

export const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** The certificates in a PEM file, each as its upper-case hex serial and DER. */
export async function certificatesIn(path: string): Promise<{ serial: string; der: Buffer }[]> {
  const text = await readFile(path, 'latin1').catch(() => '');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((pem) => {
    const cert = new X509Certificate(pem);
    return { serial: cert.serialNumber.toUpperCase(), der: cert.raw };
  });
}

/** check's findings of one kind (`REPAIR`, `BROKEN`). */
export function findings(check: Result, kind: 'REPAIR' | 'BROKEN'): string[] {
  return check.stdout.split('\n').filter((line) => line.startsWith(kind));
}
