/** Formatting shared by the command files: what was made, where, and what was verified. */
export function printReport(title: string, fields: Array<[string, string]>, checks: readonly string[]): void {
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = [title, ...fields.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)];
  if (checks.length > 0) lines.push('verified:', ...checks.map((check) => `  ok  ${check}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

export const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export const day = (date: Date): string => date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

/** The report of `root` and `intermediate`: what was created, its key on the token, and the next step. */
export function printCaReport(title: string, ca: { subject: string; keyUri: string; notAfter: Date; files: readonly string[]; checks: readonly string[] }, next: string): void {
  printReport(
    title,
    [
      ['subject', ca.subject],
      ['key', ca.keyUri],
      ['expires', day(ca.notAfter)],
      ['files', ca.files.join(', ')],
      ['next', next],
    ],
    ca.checks,
  );
}
