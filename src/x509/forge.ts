import { createRequire } from 'node:module';
import type Forge from 'node-forge';

const require = createRequire(import.meta.url);
let loaded: typeof Forge | undefined;

/**
 * node-forge, loaded on first use: importing it costs every run its 44 files, `--help` and commands that decode
 * nothing included (issue 11). Cached here rather than require()d per call, which list pays 100,000 times.
 */
export function nodeForge(): typeof Forge {
  loaded ??= require('node-forge') as typeof Forge;
  return loaded;
}
