import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type Handlebars from 'handlebars';
import { UNSAFE_CHARACTER, UsageError } from './errors.js';

const TEMPLATE_DIR = fileURLToPath(new URL('../templates/', import.meta.url));

/**
 * Escapes one value for an OpenSSL config file. OpenSSL expands `$var` and `${ENV::X}` (which put a PIN
 * into a certificate in our measurements), cuts values at `#`, strips quotes and joins lines at a trailing
 * backslash; a newline would start a new directive. Control characters and edge spaces cannot be
 * represented faithfully, so they are refused rather than altered.
 */
export function opensslConfigValue(value: unknown, field = 'a value'): string {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new UsageError(`${field} is missing; it must be text for the OpenSSL config`);
  }
  const text = String(value);
  if (UNSAFE_CHARACTER.test(text)) throw new UsageError(`${field} contains a control character or a bidi/format character (newline, tab, NUL, U+202E…); remove it`);
  if (text !== text.trim()) throw new UsageError(`${field} "${text}" starts or ends with a space; remove it`);
  return text.replace(/[\\$#"']/g, (c) => `\\${c}`);
}

/** How templates compile, here and when scripts/bundle.mjs precompiles them: a missing value fails, nothing is HTML-escaped. */
export const COMPILE_OPTIONS = { strict: true, noEscape: true } as const;

/** Handlebars' runtime (renders precompiled templates) and its full build (also compiles), each once loaded. */
const engines: { runtime?: typeof Handlebars; full?: typeof Handlebars } = {};

/**
 * Handlebars with the `cnf` helper, loaded on the first render: its 35 files are most of `--help`'s start-up
 * otherwise (issue 11). With precompiled templates only its runtime is needed, a fifth of the code. Each kind
 * is its own instance: the runtime cannot compile.
 */
async function engine(kind: 'runtime' | 'full'): Promise<typeof Handlebars> {
  // Stryker disable next-line ConditionalExpression: a fresh Handlebars instance each time renders the same
  if (!engines[kind]) {
    // Stryker disable next-line ConditionalExpression,StringLiteral,EqualityOperator: the sources have no precompiled templates; the bundle's run in every integration test
    const module = (kind === 'runtime' ? await import('handlebars/runtime') : await import('handlebars')) as { default: typeof Handlebars };
    const instance = module.default.create();
    instance.registerHelper('cnf', (value: unknown) => opensslConfigValue(value));
    engines[kind] = instance;
  }
  return engines[kind];
}

/** A template ready to render: precompiled into the bundle, else compiled from templates/NAME.hbs. */
async function compile(name: TemplateName): Promise<Handlebars.TemplateDelegate> {
  const spec = (await import('./templates-precompiled.js')).PRECOMPILED[name];
  // Stryker disable next-line ConditionalExpression,StringLiteral: the sources have no precompiled templates; the bundle's run in every integration test
  if (spec) return (await engine('runtime')).template(spec);
  const source = await readFile(`${TEMPLATE_DIR}${name}.hbs`, 'utf8');
  return (await engine('full')).compile(source, COMPILE_OPTIONS);
}

const compiled = new Map<string, Handlebars.TemplateDelegate>();

/** The names of the OpenSSL config templates under templates/. */
export type TemplateName =
  | 'create_root_cert.ini'
  | 'create_intermediate_csr.ini'
  | 'sign_intermediate_csr.ini'
  | 'sign_server_csrs.ini'
  | 'profiles/server.ini'
  | 'profiles/client.ini'
  | 'profiles/server-client.ini'
  | 'openssl_engine.cnf'
  | 'openssl_provider.cnf';

/** Renders templates/NAME.hbs. Templates pass every value through `{{cnf …}}`; a unit test enforces it. */
export async function renderTemplate(name: TemplateName, context: object): Promise<string> {
  let template = compiled.get(name);
  // Stryker disable next-line ConditionalExpression: compiling again each time renders the same
  if (!template) {
    template = await compile(name);
    compiled.set(name, template);
  }
  return template(context);
}

export const templateDirectory = TEMPLATE_DIR;

/** Renders several templates into one config file, in order (a CA config followed by a profile's extensions). */
export async function renderTemplates(names: readonly TemplateName[], context: object): Promise<string> {
  const parts = await Promise.all(names.map((name) => renderTemplate(name, context)));
  return parts.join('\n');
}
