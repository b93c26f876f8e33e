import { describe, expect, it } from '@jest/globals';
import { describeRefusals } from '../../../src/ca/signing/batch/plan.js';

describe('describeRefusals', () => {
  it('puts each refused CSR with its reason on one line, in order, separated by "; "', () => {
    expect(describeRefusals([
      { csr: 'requests/mail.csr', reason: 'SAN email:ops@example.com does not belong in a TLS server certificate' },
      { csr: 'requests/garbage.csr', reason: 'requests/garbage.csr holds no PEM block' },
    ])).toBe('requests/mail.csr: SAN email:ops@example.com does not belong in a TLS server certificate; requests/garbage.csr: requests/garbage.csr holds no PEM block');
  });

  it('says nothing for no refusal', () => {
    expect(describeRefusals([])).toBe('');
  });
});
