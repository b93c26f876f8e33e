import { chmod, copyFile, mkdir, open, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tmp from 'tmp-promise';
import { CaError } from '../../errors.js';
import { appendPoint, type PlannedWrite } from './journal.js';

tmp.setGracefulCleanup();

/**
 * Runs `work` in a private temporary directory (0700) that is removed afterwards, whatever happens.
 * Everything a run produces is made here first; the CA directory is only written once all checks passed.
 */
export async function withWorkspace<T>(work: (dir: string) => Promise<T>): Promise<T> {
  // Under umask 077, whatever openssl writes here (staged database, CSR, certificate) is 0600 in a 0700 dir.
  const umask = process.umask(0o077);
  try {
    return await tmp.withDir(({ path }) => work(path), { unsafeCleanup: true, mode: 0o700, prefix: 'hsm-openssl-ca-' });
  } finally {
    process.umask(umask);
  }
}

/**
 * Writes a file inside a workspace: private to this user (0600), like everything else there. No fsync: the
 * workspace is thrown away after the run, and only what reaches the CA directory must survive a power loss
 * (a batch writes hundreds of files here; an fsync each cost more than the signing).
 */
export async function writeWorkspaceFile(path: string, data: string | Buffer): Promise<void> {
  await writeFile(path, data, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** No `serial`: serials are random (rand_serial in the configs), and an older CA's `serial` file stays unread. */
const DATABASE_FILES = ['index.txt', 'index.txt.attr'];
/** CRL numbers start here in a CA directory made before `crlnumber` existed. */
const FIRST_CRL_NUMBER = '1000\n';

/**
 * Copies an `openssl ca` database (index.txt, index.txt.attr, crlnumber) into the workspace with
 * an empty newcerts/, so `openssl ca` can run against the copy and a failure leaves the real one untouched.
 */
export async function stageDatabase(caDir: string, workspace: string, name = 'database'): Promise<string> {
  const staging = join(workspace, name);
  await mkdir(join(staging, 'newcerts'), { recursive: true });
  for (const file of DATABASE_FILES) {
    await copyFile(join(caDir, file), join(staging, file)).catch((error: NodeJS.ErrnoException) => {
      throw new CaError(`cannot read ${join(caDir, file)} (${error.code}); the CA directory is incomplete — was it created by \`hsm-openssl-ca init\`?`);
    });
    await chmod(join(staging, file), 0o600);
  }
  if (!(await endsWithNewlineOrEmpty(join(staging, 'index.txt')))) {
    throw new CaError(`${join(caDir, 'index.txt')} does not end with a line break, and openssl ca would drop its last record; nothing was changed — run \`hsm-openssl-ca check\``);
  }
  await copyFile(join(caDir, 'crlnumber'), join(staging, 'crlnumber')).catch(() => writeFile(join(staging, 'crlnumber'), FIRST_CRL_NUMBER));
  // copyFile keeps the CA directory's mode (0644 from init): private like everything else in the workspace.
  await chmod(join(staging, 'crlnumber'), 0o600);
  return staging;
}

/** Reads the last byte only: index.txt has 100,000 lines in a large CA. */
async function endsWithNewlineOrEmpty(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    await file.read(last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    await file.close();
  }
}

/**
 * What `openssl ca` changed in the staged database, as writes into the CA directory: the new certificate
 * first, then crlnumber and index.txt.attr, and index.txt last (files it did not change are left out). A
 * signing only adds lines to index.txt: that is written as an append, so its cost does not grow with the CA.
 */
export async function databaseWrites(staging: string, caDir: string): Promise<PlannedWrite[]> {
  const writes: PlannedWrite[] = [];
  for (const file of await readdir(join(staging, 'newcerts'))) {
    writes.push({ path: join(caDir, 'newcerts', file), data: await readFile(join(staging, 'newcerts', file)) });
  }
  for (const file of ['crlnumber', 'index.txt.attr', 'index.txt']) {
    const staged = await readFile(join(staging, file));
    const current = await readFile(join(caDir, file)).catch(() => undefined);
    if (current?.equals(staged)) continue;
    const appended = file === 'index.txt' && current !== undefined && staged.length > current.length && staged.subarray(0, current.length).equals(current);
    writes.push(appended ? { path: join(caDir, file), data: staged.subarray(current.length), append: appendPoint(current) } : { path: join(caDir, file), data: staged });
  }
  return writes;
}
