// Bundles tsc's dist/cli.js into one file (plus the lazily imported chunks beside it), so that starting
// the CLI reads one file instead of ~160 (issue 11: `--help` paid ~150 ms for module loading). The other
// files tsc wrote stay for the scripts and tests that import single modules (bench, grow-ca, fs-atomic).
// Chunks live in dist/ itself: code that finds ../templates and ../package.json from import.meta.url
// then finds them from whichever file it was bundled into.
import { build } from 'esbuild';
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const staging = join(dist, '.bundle');

await rm(staging, { recursive: true, force: true });
await build({
  entryPoints: [join(dist, 'cli.js')],
  outdir: staging,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
  // node-forge and Handlebars are CommonJS and call require(): give the ES module one.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
});
for (const file of await readdir(staging)) await rename(join(staging, file), join(dist, file));
await rm(staging, { recursive: true });
