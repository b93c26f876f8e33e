import { describe, expect, it } from '@jest/globals';
import { groupRuns, sharesRun, type Shareable } from '../../../src/ca/signing/batch/grouping.js';
import type { DecodedCsr } from '../../../src/x509/decode.js';

/** A decoded CSR as far as sharesRun reads it: subject and requested extensions. */
function request(options: { cn?: string; extra?: Array<{ shortName: string; value: string }>; sans?: Array<{ type: number; value: string }>; critical?: boolean; more?: boolean; keyUsage?: string[]; decidedSans?: string[] }): Shareable {
  const cn = options.cn ?? 'web.example.com';
  const sans = options.sans ?? [{ type: 2, value: cn }];
  const requestedExtensions = [
    { id: '2.5.29.17', name: 'subjectAltName', critical: options.critical ?? false, altNames: sans },
    ...(options.more ? [{ id: '2.5.29.19', name: 'basicConstraints', critical: true }] : []),
  ];
  const csr = { subject: [...(options.extra ?? []), { shortName: 'CN', value: cn }], requestedExtensions } as unknown as DecodedCsr;
  return { csr, subject: [{ shortName: 'CN', value: cn }], sans: options.decidedSans ?? [`DNS:${cn}`], keyUsage: options.keyUsage ?? ['digitalSignature'] };
}

describe('sharesRun: only a request whose copied SAN and own subject are exactly what the CA decided', () => {
  it('takes a CSR with one non-critical SAN, as validated, and the decided subject', () => {
    expect(sharesRun(request({}))).toBe(true);
    expect(sharesRun(request({ sans: [{ type: 2, value: 'web.example.com' }, { type: 7, value: '\x0a\x00\x00\x02' }], decidedSans: ['DNS:web.example.com', 'IP:10.0.0.2'] }))).toBe(true);
  });

  it('refuses another requested extension, a critical SAN, more subject than decided, and SANs that are not the validated text', () => {
    expect(sharesRun(request({ more: true }))).toBe(false);
    expect(sharesRun(request({ critical: true }))).toBe(false);
    expect(sharesRun(request({ extra: [{ shortName: 'O', value: 'Requester Picks' }] }))).toBe(false);
    // What copy_extensions would write ("WEB.example.com") is not the validated text the config would write.
    expect(sharesRun(request({ sans: [{ type: 2, value: 'WEB.example.com' }] }))).toBe(false);
    expect(sharesRun(request({ sans: [{ type: 2, value: 'web.example.com' }, { type: 2, value: 'www.example.com' }] }))).toBe(false);
  });

  it('refuses a CSR without any requested extension (its SAN comes from the CN: the CA writes it)', () => {
    const bare = request({});
    expect(sharesRun({ ...bare, csr: { ...bare.csr, requestedExtensions: [] } as DecodedCsr })).toBe(false);
  });
});

describe('groupRuns', () => {
  it('puts shareable requests of one key usage in one run, in order, and every other request in a run of its own', () => {
    const a = request({ cn: 'a.example.com' });
    const rsa = request({ cn: 'r.example.com', keyUsage: ['digitalSignature', 'keyEncipherment'] });
    const odd = request({ cn: 'o.example.com', critical: true });
    const b = request({ cn: 'b.example.com' });
    expect(groupRuns([a, rsa, odd, b])).toEqual([
      { shared: true, members: [a, b] },
      { shared: true, members: [rsa] },
      { shared: false, members: [odd] },
    ]);
  });

  it('splits a long shared run so its command line stays within the system\'s limit', () => {
    const many = Array.from({ length: 5 }, (_, i) => request({ cn: `h${i}.example.com` }));
    expect(groupRuns(many, 2).map((run) => run.members.length)).toEqual([2, 2, 1]);
    expect(groupRuns(many, 5).map((run) => run.members.length)).toEqual([5]);
  });
});
