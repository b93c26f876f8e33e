import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseBackendChoice, type BackendChoice } from '../../openssl/backend.js';
import type { Runner } from '../../tools/run.js';
import { caPaths, type CaPaths } from './layout.js';
import { readSettings, requireModulePath, requireTokenLabel, type Settings } from './settings.js';

/** What every command that uses the token gets from the command line. */
export interface TokenCommandOptions {
  readonly dir: string;
  readonly module?: string;
  readonly token?: string;
  readonly pinFile?: string;
  readonly rootModule?: string;
  readonly rootToken?: string;
  readonly rootPinFile?: string;
  /** `--backend`: overrides the settings file's choice for this run. */
  readonly backend?: string;
  readonly yes: boolean;
  /** How long to wait for another run's lock on the CA directory. */
  readonly lockTimeoutMs?: number;
  readonly run: Runner;
  /** Progress lines for the operator (stderr). */
  readonly say: (line: string) => void;
}

/** The token holding one CA's key, and where its PIN comes from. */
export interface TokenRole {
  readonly role: 'root' | 'intermediate';
  readonly module: string;
  readonly tokenLabel: string;
  /** HSM_CA_PIN, or HSM_CA_ROOT_PIN for a root on a token of its own. */
  readonly pinEnv: string;
  readonly pinFile: string | undefined;
  /** The option that names this token, for messages. */
  readonly tokenOption: '--token' | '--root-token';
  /** How openssl reaches this token's key: `--backend`, else the settings file, else auto. */
  readonly backend: BackendChoice;
}

export interface LoadedCa {
  readonly settings: Settings;
  readonly paths: CaPaths;
  readonly intermediateToken: TokenRole;
  readonly rootToken: TokenRole;
}

type TokenSelection = Pick<TokenCommandOptions, 'dir' | 'module' | 'token' | 'pinFile' | 'rootModule' | 'rootToken' | 'rootPinFile' | 'backend'>;

/**
 * Reads the CA's settings and works out which token each CA's key is on: `--module` / `--token` override
 * the intermediate's, `--root-module` / `--root-token` the root's (which default to the intermediate's).
 */
export async function loadCa(options: TokenSelection): Promise<LoadedCa> {
  if (options.module !== undefined) requireModulePath('--module', options.module);
  if (options.token !== undefined) requireTokenLabel('--token', options.token);
  if (options.rootModule !== undefined) requireModulePath('--root-module', options.rootModule);
  if (options.rootToken !== undefined) requireTokenLabel('--root-token', options.rootToken);
  const backendOverride = options.backend === undefined ? undefined : parseBackendChoice(options.backend);
  const dir = resolve(options.dir);
  const settings = await readSettings(dir);
  const module = options.module ?? settings.module;
  const tokenLabel = options.token ?? settings.token;
  const rootModule = options.rootModule ?? settings.rootModule ?? module;
  const rootLabel = options.rootToken ?? settings.rootToken ?? tokenLabel;
  const shared = rootModule === module && rootLabel === tokenLabel;
  const backend = backendOverride ?? settings.backend ?? 'auto';
  return {
    settings,
    paths: caPaths(dir),
    intermediateToken: { role: 'intermediate', module, tokenLabel, pinEnv: 'HSM_CA_PIN', pinFile: options.pinFile, tokenOption: '--token', backend },
    rootToken: shared
      ? { role: 'root', module, tokenLabel, pinEnv: 'HSM_CA_PIN', pinFile: options.pinFile, tokenOption: '--token', backend }
      : { role: 'root', module: rootModule, tokenLabel: rootLabel, pinEnv: 'HSM_CA_ROOT_PIN', pinFile: options.rootPinFile, tokenOption: '--root-token', backend },
  };
}

/** Whether two roles name the same token, so one PIN serves both. */
export function sameToken(a: TokenRole, b: TokenRole): boolean {
  return a.module === b.module && a.tokenLabel === b.tokenLabel;
}

export async function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
