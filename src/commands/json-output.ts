import { printableJson } from '../errors.js';

/**
 * `--json`: every command prints one JSON document on stdout and nothing else there (progress stays on
 * stderr). What a command would print as text is collected here instead, and written once at the end by
 * the CLI's one exit point, together with the error, if any.
 */
let enabled = false;
const documents: unknown[] = [];

export function setJsonOutput(on: boolean): void {
  enabled = on;
}

export function jsonOutput(): boolean {
  return enabled;
}

export function emitJson(document: unknown): void {
  documents.push(document);
}

/** "CRL number" → "crlNumber", "SHA-256" → "sha256": the text report's field names as JSON keys. */
export function jsonKey(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return words.map((word, i) => (i === 0 ? word.toLowerCase() : word[0]!.toUpperCase() + word.slice(1).toLowerCase())).join('');
}

/** The one document: what the command reported (one report as itself, several as a list), and the error. */
export function jsonDocument(error?: { code: number; message: string }): string {
  const output = documents.length === 1 ? documents[0] : documents;
  const document = error ? { error, ...(documents.length > 0 ? { output } : {}) } : output;
  return `${printableJson(document)}\n`;
}
