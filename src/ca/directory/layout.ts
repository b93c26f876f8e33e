import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError } from '../../errors.js';
import { SETTINGS_FILE, writeSettings, type Settings } from './settings.js';

/** Where everything lives, in the article's layout. */
export function caPaths(dir: string) {
  return {
    dir,
    settings: join(dir, SETTINGS_FILE),
    config: join(dir, 'config'),
    rootCert: join(dir, 'certs', 'root.crt'),
    rootDatabase: dir,
    intermediateDir: join(dir, 'intermediate'),
    intermediateCsr: join(dir, 'intermediate', 'csr', 'intermediate.csr'),
    intermediateCert: join(dir, 'intermediate', 'certs', 'intermediate.crt'),
    chain: join(dir, 'intermediate', 'certs', 'chain.crt'),
    csrArchive: join(dir, 'intermediate', 'csr'),
    // Each CRL is published twice: DER under the name the CRL Distribution Point's URL ends in (what
    // clients fetching a CDP expect, RFC 5280 §4.2.1.13), PEM beside it for people and `openssl crl`.
    rootCrl: join(dir, 'crl', 'root.crl.pem'),
    rootCrlDer: join(dir, 'crl', 'root.crl'),
    intermediateCrl: join(dir, 'intermediate', 'crl', 'intermediate.crl.pem'),
    intermediateCrlDer: join(dir, 'intermediate', 'crl', 'intermediate.crl'),
  };
}

export type CaPaths = ReturnType<typeof caPaths>;

/**
 * The CRL files of one generation of the intermediate's key (`intermediate --rekey` starts the next):
 * intermediate.crl for the first, intermediate-N.crl after, each with its PEM beside it.
 */
export function intermediateCrlFiles(paths: CaPaths, generation: number): { crlPath: string; crlDerPath: string } {
  if (generation === 1) return { crlPath: paths.intermediateCrl, crlDerPath: paths.intermediateCrlDer };
  const der = join(paths.intermediateDir, 'crl', `intermediate-${generation}.crl`);
  return { crlPath: `${der}.pem`, crlDerPath: der };
}

const DIRECTORIES = ['certs', 'config', 'crl', 'newcerts', 'intermediate', 'intermediate/certs', 'intermediate/crl', 'intermediate/csr', 'intermediate/newcerts'];
const DATABASES = ['', 'intermediate'];

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Creates the article's directory layout (`certs config crl newcerts intermediate/{certs,crl,csr,newcerts}`,
 * `index.txt`, `intermediate/index.txt`) plus `crlnumber` and `index.txt.attr` (unique_subject = no, which
 * is what lets a certificate be renewed with the same subject). No `serial` file: openssl draws every serial
 * at random (rand_serial in the configs). Refuses to touch an existing CA; on
 * failure removes what it created.
 */
export async function createLayout(dir: string, settings: Settings): Promise<void> {
  for (const marker of [SETTINGS_FILE, 'index.txt', 'certs/root.crt', 'intermediate/index.txt']) {
    if (await exists(join(dir, marker))) {
      throw new CaError(`${dir} already holds a CA (${marker} exists); refusing to overwrite it — choose another --dir`);
    }
  }
  const dirExisted = await exists(dir);
  const created: string[] = [];
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const sub of DIRECTORIES) {
      const path = join(dir, sub);
      if (!(await exists(path))) {
        await mkdir(path, { mode: 0o755 });
        created.push(path);
      }
    }
    for (const database of DATABASES) {
      await writeFile(join(dir, database, 'index.txt'), '', { flag: 'wx' });
      created.push(join(dir, database, 'index.txt'));
      await writeFile(join(dir, database, 'index.txt.attr'), 'unique_subject = no\n', { flag: 'wx' });
      created.push(join(dir, database, 'index.txt.attr'));
      await writeFile(join(dir, database, 'crlnumber'), '1000\n', { flag: 'wx' });
      created.push(join(dir, database, 'crlnumber'));
    }
    await writeSettings(dir, settings);
  } catch (error) {
    if (!dirExisted) await rm(dir, { recursive: true, force: true });
    else for (const path of created.reverse()) await rm(path, { recursive: true, force: true });
    throw error;
  }
}
