import { CaError, ToolFailedError, ToolMissingError, WrongPinError } from '../errors.js';
import { redactKnown } from '../secrets.js';

/** Environment variables that carry a PIN or password: never inherited by a child unless a call passes them as a secret. */
export const PIN_ENV_NAMES = ['HSM_CA_PIN', 'HSM_CA_ROOT_PIN', 'GNUTLS_PIN', 'GNUTLS_SO_PIN', 'PKCS11_PIN', 'HSM_CA_P12_PASSWORD'] as const;

const DEBIAN_PACKAGE: Record<string, string> = {
  openssl: 'openssl',
  'pkcs11-tool': 'opensc',
  p11tool: 'gnutls-bin',
  'softhsm2-util': 'softhsm2',
};

export interface RunOptions {
  /** Extra environment for this child only. */
  env?: Record<string, string>;
  /** Environment variables whose values are secret: set for this child only and redacted from every message. */
  secrets?: Record<string, string>;
  /** Text for the child's stdin; without it stdin is closed so a tool can never sit at a prompt. */
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** The signature every tool module takes, so unit tests can pass a fake and integration tests the real one. */
export type Runner = (tool: string, args: readonly string[], options?: RunOptions) => Promise<RunResult>;

function childEnv(options: RunOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !(PIN_ENV_NAMES as readonly string[]).includes(name)) env[name] = value;
  }
  return { ...env, LC_ALL: 'C', ...options.env, ...options.secrets };
}

/** The last lines of stderr that say something, for a one-line summary. */
export function lastMeaningfulLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !/^Engine "pkcs11" set\.$|^Aborting\.$|^Using configuration from /.test(line));
  return lines.at(-1) ?? '(no error output)';
}

/** A failed login is final: recognised in any tool's output so that no caller can retry it by accident. */
export function pinFailure(output: string): CaError | undefined {
  if (/CKR_PIN_LOCKED|PIN is locked|PIN locked/i.test(output)) {
    return new WrongPinError(
      'the token PIN is locked after too many wrong attempts; unblock it with the SO PIN (pkcs11-tool --login --login-type so --init-pin, also for a SmartCard-HSM), then run again',
    );
  }
  if (/CKR_PIN_INCORRECT|PIN incorrect|wrong password|Wrong PIN/i.test(output)) {
    return new WrongPinError(
      'the token rejected the PIN (one failed login counted; not retried, since a SmartCard-HSM locks after 3); check HSM_CA_PIN or --pin-file and run again',
    );
  }
  return undefined;
}

/**
 * The one boundary for child processes: argv arrays (never a shell), an explicit environment without
 * inherited PINs, secrets redacted from every message (not from stdout, which is data), and failures turned into typed errors.
 */
export const run: Runner = async (tool, args, options = {}) => {
  const secrets = Object.values(options.secrets ?? {});
  // Loaded on first use: execa is most of the start-up time of commands that never spawn (--help, init).
  const { execa } = await import('execa');
  const result = await execa(tool, args, {
    env: childEnv(options),
    extendEnv: false,
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 300_000,
    reject: false,
    stripFinalNewline: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
  });
  // stdout is data (listings, keys, certificates) and is returned as it is; stderr is messages.
  const stdout = String(result.stdout ?? '');
  const stderr = redactKnown(String(result.stderr ?? ''), secrets);
  if (!result.failed) return { stdout, stderr };

  if ((result as { code?: string }).code === 'ENOENT') {
    throw new ToolMissingError(tool, DEBIAN_PACKAGE[tool] ?? tool);
  }
  const pinError = pinFailure(`${stderr}\n${stdout}`);
  if (pinError) throw pinError;
  if (result.timedOut) {
    throw new ToolFailedError(`${tool} ${args[0] ?? ''} did not finish in time; is the token waiting for a touch or a PIN pad?`, tool, stderr);
  }
  if (result.signal === 'SIGSEGV') {
    throw new ToolFailedError(
      `${tool} was killed by SIGSEGV (${lastMeaningfulLine(stderr)}); nothing it wrote is used. libp11 0.4.12 crashes like this on every key-load failure (install libengine-pkcs11-openssl >= 0.4.13), and pkcs11-provider without its no-deinit quirk at exit; run \`hsm-openssl-ca doctor\`, or try the other --backend`,
      tool,
      stderr,
    );
  }
  if (result.signal) throw new ToolFailedError(`${tool} was killed by ${result.signal} (${lastMeaningfulLine(stderr)})`, tool, stderr);
  throw new ToolFailedError(`${tool} failed (exit ${result.exitCode}): ${lastMeaningfulLine(stderr || redactKnown(stdout, secrets))}`, tool, stderr);
};

/** A command as a person would type it in a POSIX shell: words quoted only where they need it. */
export function commandLine(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
