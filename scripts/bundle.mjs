// Bundles tsc's dist/cli.js into one file (plus the lazily imported chunks beside it), so that starting
// the CLI reads one file instead of ~160 (issue 11: `--help` paid ~150 ms for module loading). The other
// files tsc wrote stay for the scripts and tests that import single modules (bench, grow-ca, fs-atomic).
// Chunks live in dist/ itself: code that finds ../templates and ../package.json from import.meta.url
// then finds them from whichever file it was bundled into.
import { build } from 'esbuild';
import Handlebars from 'handlebars';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const templates = fileURLToPath(new URL('../templates/', import.meta.url));
// tsc has just written dist/: the options the CLI compiles with when a template is not precompiled.
const { COMPILE_OPTIONS } = await import(new URL('../dist/openssl-config.js', import.meta.url).href);

/**
 * dist/templates-precompiled.js with every templates/NAME.hbs precompiled under its name, with the options
 * src/openssl-config.ts compiles with; a run then needs only Handlebars' runtime.
 */
async function precompiledTemplates() {
  const files = (await readdir(templates, { recursive: true })).filter((file) => file.endsWith('.hbs')).sort();
  const entries = await Promise.all(files.map(async (file) => {
    const spec = Handlebars.precompile(await readFile(join(templates, file), 'utf8'), COMPILE_OPTIONS);
    return `  ${JSON.stringify(file.replace(/\.hbs$/, ''))}: ${spec}`;
  }));
  return `export const PRECOMPILED = {\n${entries.join(',\n')}\n};\n`;
}

const precompile = {
  name: 'precompiled-templates',
  setup(plugin) {
    plugin.onLoad({ filter: /[\\/]dist[\\/]templates-precompiled\.js$/ }, async () => ({ contents: await precompiledTemplates(), loader: 'js' }));
  },
};
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
  plugins: [precompile],
  // node-forge and Handlebars are CommonJS and call require(): give the ES module one.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
});
for (const file of await readdir(staging)) await rename(join(staging, file), join(dist, file));
await rm(staging, { recursive: true });
