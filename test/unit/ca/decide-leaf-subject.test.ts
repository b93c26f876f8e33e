/** decideLeafSubject: the CSR's CN (wherever it stands) under the settings' attributes, never a CA's own subject. */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import forge from 'node-forge';
import type { LoadedCa } from '../../../src/ca/directory/context.js';
import { caPaths } from '../../../src/ca/directory/layout.js';
import type { Settings } from '../../../src/ca/directory/settings.js';
import { decideLeafSubject } from '../../../src/ca/signing/leaf-subject.js';
import type { DecodedCsr } from '../../../src/x509/decode.js';
import { makeCa, makeCsr, throwawayKey } from '../x509/factory.js';

const root = makeCa({ commonName: 'Edge Root CA', key: throwawayKey() });
const intermediate = makeCa({ commonName: 'Edge Intermediate CA', key: throwawayKey(), issuer: root });
const dir = mkdtempSync(join(tmpdir(), 'decide-leaf-subject-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const paths = caPaths(dir);
mkdirSync(dirname(paths.rootCert), { recursive: true });
writeFileSync(paths.rootCert, forge.pki.certificateToPem(root.cert));
const settings = { subject: { organization: 'Edge' }, keyType: 'EC:secp256r1', rootKey: { uri: 'pkcs11:token=Edge;id=%01;object=root' } } as unknown as Settings;
const ca = { settings, paths } as unknown as LoadedCa;
const leafKey = throwawayKey();

/** A CSR whose subject is `attributes`, in that order. */
const csrWith = (attributes: Array<{ shortName: string; value: string }>): DecodedCsr => ({ ...makeCsr(leafKey), subject: attributes }) as unknown as DecodedCsr;
const decide = (csr: DecodedCsr, sans = [{ type: 'DNS' as const, value: 'www.example.com' }]) => decideLeafSubject(ca, { csr, sans, profile: 'server', intermediate: intermediate.decoded });

describe('decideLeafSubject', () => {
  it('takes the CN from among the CSR subject\'s other attributes, and nothing else of it', async () => {
    const subject = await decide(csrWith([{ shortName: 'O', value: 'Requested Org' }, { shortName: 'CN', value: 'www.example.com' }, { shortName: 'OU', value: 'x' }]));
    expect(subject.attributes).toEqual([{ shortName: 'CN', value: 'www.example.com' }]);
    expect(subject.commonName).toBe('www.example.com');
  });

  it.each([
    ['intermediate', 'Edge Intermediate CA'],
    ['root', 'Edge Root CA'],
  ])('refuses a subject equal to the %s CA\'s own, naming it', async (name, commonName) => {
    await expect(decide(csrWith([{ shortName: 'CN', value: commonName }]), [])).rejects.toThrow(`would equal the ${name} CA's own subject`);
  });
});
