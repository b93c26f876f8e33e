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
    const shown = text.trimEnd();
    const oneLine = !shown.includes('\n');
    super(`could not parse ${what}; ${oneLine ? `the tool printed "${shown}"` : "the tool's output is shown above"} — please report it with your OpenSC and GnuTLS versions`);
    this.detail = oneLine ? undefined : shown;
  }
}

/**
 * Makes text safe for one line of a terminal: control characters (a newline in a CSR's name, a file name,
 * tool output) are shown as escapes, so no input can split a message or forge a line of its own.
 */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => ({ '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
