import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { CaError, printable, UsageError } from './errors.js';

export const interactive = (): boolean => Boolean(process.stdin.isTTY && process.stderr.isTTY);

/** Reads a line from the terminal without echoing it. */
async function readHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  // Echo goes off before the question shows, so nothing typed in answer to it can ever be echoed.
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(question);
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: Buffer): void => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') {
            stdin.off('data', onData);
            return resolve(typed);
          }
          if (char === '\u0003' || char === '\u0004') {
            stdin.off('data', onData);
            return reject(new CaError('cancelled at the PIN prompt; nothing was changed'));
          }
          typed = char === '\u007f' || char === '\b' ? typed.slice(0, -1) : typed + char;
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
  return pin;
}

/** Shows what is about to be signed and asks, as the article's `Sign the certificate? [y/n]` does. */
export async function confirmSigning(summary: string, options: { yes: boolean }): Promise<void> {
  if (options.yes || !interactive()) return;
  process.stderr.write(`${summary.split('\n').map(printable).join('\n')}\n`);
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await readline.question('Sign the certificate? [y/n]: ');
    if (!/^y(es)?$/i.test(answer.trim())) throw new CaError('not signed (answered no); nothing was changed');
  } finally {
    readline.close();
  }
}
