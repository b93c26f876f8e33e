import { ParseError } from '../../errors.js';

export interface P11toolToken {
  readonly url: string;
  readonly label: string;
  readonly serial: string | undefined;
  readonly flags: readonly string[];
}

export interface P11toolObject {
  readonly url: string;
  /** e.g. "Private key (EC/ECDSA-SECP384R1)", "Public key (RSA-4096)". */
  readonly type: string;
  readonly label: string | undefined;
  /** Lower-case hex without colons (p11tool prints `e0:16:1c…`). */
  readonly idHex: string | undefined;
}

function parseBlocks(text: string, heading: RegExp, what: string): Array<Record<string, string>> {
  const blocks: Array<Record<string, string>> = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (heading.test(line)) {
      blocks.push({});
      continue;
    }
    const field = /^\s+([A-Za-z][A-Za-z ]*?):\s?(.*?)\s*$/.exec(line);
    const last = blocks.at(-1);
    if (field && last) {
      last[field[1]!] = field[2]!;
      continue;
    }
    throw new ParseError(`${what} (unexpected line "${line}")`, text);
  }
  return blocks;
}

function required(block: Record<string, string>, name: string, what: string, text: string): string {
  const value = block[name];
  if (value === undefined) throw new ParseError(`${what} (an entry has no ${name}:)`, text);
  return value;
}

/** Parses `p11tool --list-tokens`. */
export function parseTokens(text: string): P11toolToken[] {
  const what = 'p11tool --list-tokens output';
  return parseBlocks(text, /^Token \d+:$/, what).map((block) => ({
    url: required(block, 'URL', what, text),
    label: required(block, 'Label', what, text),
    serial: block['Serial'],
    flags: (block['Flags'] ?? '').split(',').map((f) => f.trim()).filter(Boolean),
  }));
}

/** Parses `p11tool --list-all` / `--list-all-privkeys` (without --only-urls). */
export function parseObjects(text: string): P11toolObject[] {
  const what = 'p11tool object list';
  if (/^No matching objects found\s*$/m.test(text)) return [];
  return parseBlocks(text, /^Object \d+:$/, what).map((block) => ({
    url: required(block, 'URL', what, text),
    type: required(block, 'Type', what, text),
    label: block['Label'],
    idHex: block['ID']?.replace(/:/g, '').toLowerCase() || undefined,
  }));
}

/** Parses `--only-urls` output: one `pkcs11:` URL per line. */
export function parseUrls(text: string): string[] {
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  if (lines.length === 1 && /^No matching objects found$/.test(lines[0]!)) return [];
  const stray = lines.find((line) => !line.startsWith('pkcs11:'));
  if (stray !== undefined) throw new ParseError(`p11tool --only-urls output (unexpected line "${stray}")`, text);
  return lines;
}
