import type { DecodedCsr } from '../../../x509/decode.js';
import { ipFromBytes } from '../../../x509/san.js';

/** What decides whether a request may share an `openssl ca -infiles` run, from its plan. */
export interface Shareable {
  readonly csr: DecodedCsr;
  /** The subject the CA decided, attribute by attribute. */
  readonly subject: ReadonlyArray<{ readonly shortName: string; readonly value: string }>;
  /** The validated SANs, "DNS:x" / "IP:y", as the config would write them. */
  readonly sans: readonly string[];
  /** Requests share a run only with the same key usage (EC or RSA keys). */
  readonly keyUsage: readonly string[];
}

/** The SANs exactly as the CSR encodes them (no normalising): what `copy_extensions = copy` would put in the certificate. */
function requestedSansAsEncoded(csr: DecodedCsr): string[] | undefined {
  const extension = csr.requestedExtensions[0];
  const altNames = (extension?.['altNames'] ?? []) as Array<{ type: number; value: string }>;
  const prefixes: Record<number, string> = { 1: 'email', 2: 'DNS', 6: 'URI' };
  const texts = altNames.map((entry) => {
    const raw = Buffer.from(entry.value ?? '', 'binary');
    if (entry.type === 7) return `IP:${ipFromBytes(raw)}`;
    return prefixes[entry.type] ? `${prefixes[entry.type]}:${raw.toString('utf8')}` : undefined;
  });
  return texts.every((text) => text !== undefined) ? (texts as string[]) : undefined;
}

/**
 * Whether `openssl ca -infiles` with `copy_extensions = copy` and no `-subj` gives this request exactly the
 * certificate a run of its own would: its one requested extension is a non-critical subjectAltName whose
 * names, as encoded, are the validated ones, and its subject is already the one the CA decided. Anything
 * else gets its own run, where the CA writes subject and SANs itself. (The shadow CA judges both kinds.)
 */
export function sharesRun(request: Shareable): boolean {
  const [only, ...more] = request.csr.requestedExtensions;
  if (more.length > 0 || only?.name !== 'subjectAltName' || only.critical) return false;
  const encoded = requestedSansAsEncoded(request.csr);
  if (encoded?.join('\n') !== request.sans.join('\n')) return false;
  const asked = request.csr.subject.map((a) => [a.shortName, a.value]);
  const decided = request.subject.map((a) => [a.shortName, a.value]);
  return JSON.stringify(asked) === JSON.stringify(decided);
}

/**
 * At most this many CSRs in one `-infiles` run: their paths (about 60 bytes each in the workspace) stay far
 * below Linux's 2 MiB for a command line.
 */
export const MAX_SHARED_RUN = 5000;

/** The batch as runs: the requests that may share one per key usage, in their order; each other request alone. */
export function groupRuns<T extends Shareable>(requests: readonly T[], maxShared = MAX_SHARED_RUN): Array<{ shared: boolean; members: T[] }> {
  const shared = new Map<string, T[]>();
  const alone: T[] = [];
  for (const request of requests) {
    if (!sharesRun(request)) alone.push(request);
    else {
      const group = shared.get(request.keyUsage.join(',')) ?? [];
      group.push(request);
      shared.set(request.keyUsage.join(','), group);
    }
  }
  const runs = [...shared.values()].flatMap((group) => Array.from({ length: Math.ceil(group.length / maxShared) }, (_, i) => ({ shared: true, members: group.slice(i * maxShared, (i + 1) * maxShared) })));
  return [...runs, ...alone.map((request) => ({ shared: false, members: [request] }))];
}
