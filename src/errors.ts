import { redactKnown } from './secrets.js';

/**
 * Errors a user sees. Each carries a one-line message that says what failed, why, and what to do next;
 * `cli.ts` is the only place that prints them and turns them into exit codes.
 */
export class CaError extends Error {
  /** Exit code for the process: 1 for failures, 2 for bad usage. */
  readonly exitCode: number = 1;
  /** Text worth showing as it is, line by line, before the one-line message (a tool's output). */
  readonly detail?: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The command line or its values are wrong; nothing was attempted. */
export class UsageError extends CaError {
  override readonly exitCode = 2;
}

/** An external program is not installed. */
export class ToolMissingError extends CaError {
  constructor(
    readonly tool: string,
    readonly debianPackage: string,
  ) {
    super(`${tool} not found on PATH; install it (Debian/Ubuntu: apt-get install ${debianPackage}) or run scripts/install-system-deps.sh`);
  }
}

/** An external program ran and failed. `stderr` is already redacted. */
export class ToolFailedError extends CaError {
  constructor(
    message: string,
    readonly tool: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** The token refused the PIN. Never retried: a SmartCard-HSM blocks its PIN after three failures. */
export class WrongPinError extends CaError {}

/**
 * Tool output did not have the shape we parse; the text is shown instead of guessing: in the message when it
 * is one line, else beside it as `detail`, which the CLI prints with its line breaks intact.
 */
export class ParseError extends CaError {
  override readonly detail: string | undefined;

  constructor(what: string, text: string) {
    // The text is a tool's output, parsed as it was printed; shown to a person, the PIN's digits are hidden.
    const shown = redactKnown(text.trimEnd());
    const oneLine = !shown.includes('\n');
    super(`could not parse ${redactKnown(what)}; ${oneLine ? `the tool printed "${shown}"` : "the tool's output is shown above"} — please report it with your OpenSC and GnuTLS versions`);
    this.detail = oneLine ? undefined : shown;
  }
}

/**
 * Characters no name may hold and no printed line shows as they are: C0 and C1 controls and DEL (a newline
 * splits a message, CSI \u009b drives a terminal), format characters such as the bidi overrides and isolates
 * U+202A–U+202E and U+2066–U+2069, the marks U+200E/U+200F and zero-width characters (they reorder or hide
 * what an operator reads), the line and paragraph separators, and lone surrogates.
 */
export const UNSAFE_CHARACTER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

const UNSAFE_CHARACTERS = new RegExp(UNSAFE_CHARACTER.source, 'gu');
const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeCharacter(c: string): string {
  const code = c.codePointAt(0)!;
  if (NAMED_ESCAPES[c]) return NAMED_ESCAPES[c];
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code < 0x10000 ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * Makes text safe for one line of a terminal: every UNSAFE_CHARACTER (a newline in a CSR's name, a bidi
 * override in a certificate's subject, an escape sequence in tool output) is shown as an escape, so no
 * input can split a message, forge a line of its own or make one name look like another. Every value a
 * command prints goes through here.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, escapeCharacter);
}

/**
 * JSON for a terminal or a script: printable's rule in JSON's own syntax. JSON.stringify escapes only C0,
 * so every other UNSAFE_CHARACTER becomes a \uXXXX escape, which a JSON parser reads back unchanged.
 */
export function printableJson(value: unknown): string {
  const units = (c: string): string => [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');
  // The only raw control characters JSON.stringify leaves are its own line breaks between members.
  return JSON.stringify(value, null, 2).replace(UNSAFE_CHARACTERS, (c) => (c === '\n' ? c : units(c)));
}
