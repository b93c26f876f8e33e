import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Runner } from '../tools/run.js';
import { caPaths, type CaPaths } from './layout.js';
import { readSettings, requireModulePath, requireTokenLabel, type Settings } from './settings.js';

/** What every command that uses the token gets from the command line. */
export interface TokenCommandOptions {
  readonly dir: string;
  readonly module?: string;
  readonly token?: string;
  readonly pinFile?: string;
  readonly yes: boolean;
  readonly run: Runner;
  /** Progress lines for the operator (stderr). */
  readonly say: (line: string) => void;
}

export interface LoadedCa {
  readonly settings: Settings;
  readonly paths: CaPaths;
  readonly module: string;
  readonly tokenLabel: string;
}

/** Reads the CA's settings; `--module` / `--token` override what init recorded. */
export async function loadCa(options: TokenCommandOptions): Promise<LoadedCa> {
  if (options.module !== undefined) requireModulePath('--module', options.module);
  if (options.token !== undefined) requireTokenLabel('--token', options.token);
  const dir = resolve(options.dir);
  const settings = await readSettings(dir);
  return { settings, paths: caPaths(dir), module: options.module ?? settings.module, tokenLabel: options.token ?? settings.token };
}

export async function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
