import type { TemplateName } from './openssl-config.js';

/**
 * The templates under templates/, precompiled: scripts/bundle.mjs fills this in for the bundle the package
 * ships, so a run loads Handlebars' small runtime and compiles nothing (issue 11: compiling took ~30 ms of
 * every signing). From the sources (unit tests) it is empty, and each template is compiled on first use.
 */
export const PRECOMPILED: Readonly<Partial<Record<TemplateName, TemplateSpecification>>> = {};
