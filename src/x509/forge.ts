import { createRequire } from 'node:module';
import type Forge from 'node-forge';

const require = createRequire(import.meta.url);
let loaded: typeof Forge | undefined;

/**
 * node-forge, loaded on first use: importing it costs every run its 44 files, `--help` and commands that decode
 * nothing included (issue 11). Cached here rather than require()d per call, which list pays 100,000 times.
 * Only its x509 module and what that needs (asn1, util, oids and the pki namespace: 23 files) — what we use
 * of it — not the package's index, which also loads TLS, SSH, PKCS#7 and PKCS#12.
 */
export function nodeForge(): typeof Forge {
  loaded ??= loadX509();
  return loaded;
}

/** The x509 module fills in the namespace object node-forge's modules share; that object is what we use. */
function loadX509(): typeof Forge {
  require('node-forge/lib/x509');
  return require('node-forge/lib/forge') as typeof Forge;
}
