/** openssl exiting 0 without writing what it was asked to: a CaError naming what openssl printed. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaError } from '../../../src/errors.js';
import { signStaged } from '../../../src/ca/signing/sign.js';
import { readOpensslOutput } from '../../../src/tools/openssl-output.js';
import type { Runner } from '../../../src/tools/run.js';

const REFUSAL = 'Using configuration from /ws/openssl-ca.ini\nThe organizationName field is different between\nCA certificate (Example Org) and the request (Other Org)\n';

let caDir: string;
let workspace: string;
beforeEach(async () => {
  caDir = await mkdtemp(join(tmpdir(), 'hsm-openssl-ca-sign-db-'));
  workspace = await mkdtemp(join(tmpdir(), 'hsm-openssl-ca-sign-ws-'));
  for (const [file, text] of [['index.txt', ''], ['index.txt.attr', 'unique_subject = no\n'], ['crlnumber', '1000\n']] as const) await writeFile(join(caDir, file), text);
});
afterEach(async () => {
  await rm(caDir, { recursive: true, force: true });
  await rm(workspace, { recursive: true, force: true });
});

/** A runner on which openssl exits 0, prints `stderr` and writes nothing. */
const silentOpenssl = (stderr: string): Runner => async () => ({ stdout: '', stderr });

describe('signStaged when openssl ca exits 0 without a certificate', () => {
  it('throws a CaError naming what openssl printed, not an internal ENOENT (the shadow CA\'s run comes first)', async () => {
    const judge = async (): Promise<string[]> => {
      throw new Error('never judged: nothing was written');
    };
    const signing = signStaged({
      shadow: { key: { run: silentOpenssl(REFUSAL), keyFile: join(workspace, 'shadow.key'), certificate: join(workspace, 'shadow.crt') }, judge },
      signer: { run: silentOpenssl(REFUSAL), pin: '648213', backend: 'engine', config: '/ws/openssl.cnf' },
      workspace,
      caDir,
      templates: ['create_intermediate_csr.ini'],
      context: { digest: 'sha256', subject: { country: 'US', state: 'CA', organization: 'Example Org', organizationalUnit: 'PKI' }, commonName: 'X' },
      extensions: 'server_cert',
      days: 30,
      digest: 'sha256',
      csr: join(workspace, 'request.csr'),
    });
    await expect(signing).rejects.toThrow(CaError);
    await expect(signing).rejects.toThrow(`the shadow CA refused the certificate, so nothing was signed on the token and nothing was changed: openssl ca (shadow CA) exited 0 but wrote nothing to ${join(workspace, 'shadow-issued.crt')}; it printed: CA certificate (Example Org) and the request (Other Org);`);
  });
});

describe('readOpensslOutput', () => {
  it('returns the file openssl wrote', async () => {
    await writeFile(join(workspace, 'crl.pem'), 'PEM');
    expect(await readOpensslOutput(join(workspace, 'crl.pem'), 'openssl ca -gencrl', { stdout: '', stderr: '' })).toBe('PEM');
  });

  it('says openssl printed nothing when its stderr was empty', async () => {
    await expect(readOpensslOutput(join(workspace, 'crl.pem'), 'openssl ca -gencrl', { stdout: '', stderr: '' })).rejects.toThrow(
      /^openssl ca -gencrl exited 0 but wrote nothing to .*crl\.pem; it printed: \(no error output\); nothing was changed — fix what openssl names and run the command again/,
    );
  });

  it('passes on errors other than a missing file', async () => {
    await expect(readOpensslOutput(workspace, 'openssl req -x509', { stdout: '', stderr: '' })).rejects.toThrow(/EISDIR/);
  });
});
