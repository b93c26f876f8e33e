import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { CaError, printable, UsageError } from './errors.js';
import { rememberSecret } from './secrets.js';

export const interactive = (): boolean => Boolean(process.stdin.isTTY && process.stderr.isTTY);

/** What the hidden prompt has after some keystrokes: the PIN so far, and whether Enter or Ctrl-C/D ended it. */
export interface HiddenLine {
  readonly typed: string;
  readonly ended?: 'enter' | 'cancel';
  /** Inside an escape sequence (an arrow or function key): its bytes never reach the PIN. */
  readonly escape?: 'start' | 'csi';
}

/**
 * Line editing for the hidden PIN prompt, one character at a time: Backspace deletes one character,
 * Ctrl-U (and Ctrl-W: a PIN has no words) clears the line, escape sequences (arrows, Home, F-keys, ESC
 * itself) and other control characters are dropped. Without this an arrow key typed in the dark became
 * three characters of the PIN, a failed login, and a SmartCard-HSM locks after 3.
 */
export function editHidden(line: HiddenLine, char: string): HiddenLine {
  const code = char.codePointAt(0)!;
  if (line.escape === 'start') return char === '[' || char === 'O' ? { typed: line.typed, escape: 'csi' } : { typed: line.typed };
  if (line.escape === 'csi') return code >= 0x40 && code <= 0x7e ? { typed: line.typed } : line;
  if (char === '\r' || char === '\n') return { typed: line.typed, ended: 'enter' };
  if (char === '\u0003' || char === '\u0004') return { typed: line.typed, ended: 'cancel' };
  if (char === '\u001b') return { typed: line.typed, escape: 'start' };
  if (char === '\u007f' || char === '\b') return { typed: [...line.typed].slice(0, -1).join('') };
  if (char === '\u0015' || char === '\u0017') return { typed: '' };
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return line;
  return { typed: line.typed + char };
}

/** Reads a line from the terminal without echoing it, with the line editing of `editHidden`. */
async function readHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  // Echo goes off before the question shows, so nothing typed in answer to it can ever be echoed.
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(question);
  try {
    return await new Promise<string>((resolve, reject) => {
      let line: HiddenLine = { typed: '' };
      const onData = (chunk: Buffer): void => {
        for (const char of chunk.toString('utf8')) {
          line = editHidden(line, char);
          if (line.ended === undefined) continue;
          stdin.off('data', onData);
          return line.ended === 'enter' ? resolve(line.typed) : reject(new CaError('cancelled at the PIN prompt; nothing was changed'));
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

/**
 * A token's PIN, from its environment variable (HSM_CA_PIN, or HSM_CA_ROOT_PIN for a root on a token of
 * its own), a PIN file, or a hidden prompt on a terminal — in that order. A file's single trailing newline
 * is dropped (`\r\n` too): libp11 0.4.12 would otherwise send it as part of the PIN and burn one of the
 * token's three tries.
 */
/** Where `readPin` takes this token's PIN from, for messages: the variable, the file, or the prompt. */
export function describePinSource(source: { pinEnv: string; pinFile: string | undefined }): string {
  const fromEnv = process.env[source.pinEnv];
  if (fromEnv !== undefined && fromEnv !== '') return `the PIN from ${source.pinEnv}`;
  if (source.pinFile) return `the PIN from ${source.pinEnv === 'HSM_CA_PIN' ? '--pin-file' : '--root-pin-file'} ${source.pinFile}`;
  return 'the PIN typed at the prompt';
}

export async function readPin(source: { pinEnv: string; pinFile: string | undefined; tokenLabel: string; role: string }): Promise<string> {
  const fromEnv = process.env[source.pinEnv];
  const fileOption = source.pinEnv === 'HSM_CA_PIN' ? '--pin-file' : '--root-pin-file';
  let pin: string | undefined;
  // The same order as describePinSource.
  if (fromEnv !== undefined && fromEnv !== '') pin = fromEnv;
  else if (source.pinFile) {
    const text = await readFile(source.pinFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${fileOption} ${source.pinFile} (${error.code ?? error.message})`);
    });
    pin = text.replace(/\r?\n$/, '');
  } else if (interactive()) pin = await readHidden(`PIN for token '${source.tokenLabel}' (${source.role} key): `);
  else throw new UsageError(`no PIN for token '${source.tokenLabel}' (${source.role} key): set ${source.pinEnv}, pass ${fileOption} PATH, or run on a terminal to be asked`);
  if (pin.length === 0) throw new UsageError('the PIN is empty; nothing was sent to the token');
  if (/[\r\n\0]/.test(pin)) throw new UsageError('the PIN contains a line break or NUL; nothing was sent to the token');
  rememberSecret(pin);
  return pin;
}

/** How many unclear answers a question takes before it counts as no. */
const MAX_ASKS = 3;

/** y/yes or n/no, any case; anything else is unclear and asked again. */
export function parseAnswer(answer: string): 'yes' | 'no' | undefined {
  const word = answer.trim().toLowerCase();
  return word === 'y' || word === 'yes' ? 'yes' : word === 'n' || word === 'no' ? 'no' : undefined;
}

/**
 * Shows what is about to happen and asks, before anything slow or irreversible. An unclear answer is asked
 * again; only y/yes goes on. Without a terminal, or with --yes, nothing is asked.
 */
export async function confirm(summary: string, question: string, refusal: string, options: { yes: boolean }): Promise<void> {
  if (options.yes || !interactive()) return;
  process.stderr.write(`${summary.split('\n').map(printable).join('\n')}\n`);
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    for (let ask = 1; ask <= MAX_ASKS; ask += 1) {
      const answer = parseAnswer(await readline.question(ask === 1 ? `${question} [y/n]: ` : 'Please answer y or n: '));
      if (answer === 'yes') return;
      if (answer === 'no') throw new CaError(`${refusal} (answered no); nothing was changed`);
    }
    throw new CaError(`${refusal}: no clear answer after ${MAX_ASKS} questions; nothing was changed`);
  } finally {
    readline.close();
  }
}

/** Shows what is about to be signed and asks, as the article's `Sign the certificate? [y/n]` does. */
export function confirmSigning(summary: string, options: { yes: boolean }): Promise<void> {
  return confirm(summary, 'Sign the certificate?', 'not signed', options);
}
