import { join } from 'node:path';
import { CaError, ToolMissingError } from '../../../errors.js';
import { FILE_OPERATIONS_AT_ONCE, mapLimited } from '../../../map-limited.js';
import type { LoadedCa } from '../../directory/context.js';
import { stageDatabase, writeWorkspaceFile } from '../../directory/workspace.js';
import { shadowAuthority, type ShadowAuthority } from '../../shadow/authority.js';
import { groupRuns } from './grouping.js';
import { describeRefusals, type BatchOptions, type BatchRefusal, type Planned } from './plan.js';
import { rehearseRun, type BatchRun, type RehearsedRun } from './runs.js';

type RunRequest = BatchRun['requests'][number];
/** Whose request a run's request is, and the request as a run of its own would make it. */
export type Owners = Map<RunRequest, { readonly item: Planned; readonly alone: RunRequest }>;

/** Each CSR's signing request in the workspace, grouped into runs (see groupRuns), and whose each request is. */
export async function batchRuns(planned: readonly Planned[], work: string, shadow: ShadowAuthority): Promise<{ runs: BatchRun[]; ownerOf: Owners }> {
  const ownerOf: Owners = new Map();
  const shareable = await mapLimited(planned, FILE_OPERATIONS_AT_ONCE, async (item, i) => {
    const csrCopy = join(work, `request-${i}.csr`);
    await writeWorkspaceFile(csrCopy, item.plan.csrPem);
    const alone = await item.plan.request(work, csrCopy, shadow);
    ownerOf.set(alone, { item, alone });
    return { alone, csr: item.plan.expect.csr, subject: item.plan.subject.attributes, sans: item.plan.sanText, keyUsage: item.plan.expect.keyUsage };
  });
  const runs = groupRuns(shareable).map((group, i): BatchRun => {
    if (!group.shared) return { name: `run-${i}`, shared: false, requests: [group.members[0]!.alone] };
    const requests = group.members.map((member) => sharedRequest(member.alone));
    for (const [m, request] of requests.entries()) ownerOf.set(request, ownerOf.get(group.members[m]!.alone)!);
    return { name: `run-${i}`, shared: true, requests };
  });
  return { runs, ownerOf };
}

/** A refusal by the shadow CA is the request's (say why, sign the others); a missing or broken tool stops the batch. */
function requestRefusal(error: unknown): string {
  if (error instanceof CaError && !(error instanceof ToolMissingError)) return error.message;
  throw error;
}

/**
 * The shadow CA makes and judges every run first, so nothing it refuses reaches the token; a shared run it
 * refuses is made again request by request, each as its own run would be, and only the bad ones are left out.
 */
export async function rehearseAll(runs: readonly BatchRun[], staging: string, refused: BatchRefusal[], ownerOf: Owners): Promise<RehearsedRun[]> {
  const rehearsed: RehearsedRun[] = [];
  for (const run of runs) {
    try {
      rehearsed.push(await rehearseRun(run, staging));
    } catch (error) {
      if (!run.shared) {
        refused.push({ csr: ownerOf.get(run.requests[0]!)!.item.csrPath, reason: requestRefusal(error) });
        continue;
      }
      const alone = run.requests.map((request, i): BatchRun => ({ name: `${run.name}-${i}`, requests: [ownerOf.get(request)!.alone], shared: false }));
      rehearsed.push(...(await rehearseAll(alone, staging, refused, ownerOf)));
    }
  }
  return rehearsed;
}

/** The same request in a shared run: no -subj and no SAN section; the config copies the CSR's validated SAN. */
function sharedRequest(request: RunRequest): RunRequest {
  const { subject: _decidedByPolicy, ...rest } = request;
  return { ...rest, context: { ...request.context, sans: [], copyExtensions: 'copy' } };
}

/**
 * Everything before the token: the database staged once, the runs, and the shadow CA's judged result of each.
 * Refused by the shadow: every CSR, or (--strict) any. The real run and the dry run both start here.
 */
export async function rehearseBatch(options: Pick<BatchOptions, 'run' | 'strict'>, ca: LoadedCa, planned: readonly Planned[], refused: readonly BatchRefusal[], work: string) {
  const staging = await stageDatabase(ca.paths.intermediateDir, work);
  const { runs, ownerOf } = await batchRuns(planned, work, await shadowAuthority(options.run, ca, 'intermediate', work));
  const allRefused = [...refused];
  const rehearsed = await rehearseAll(runs, staging, allRefused, ownerOf);
  const byShadow = describeRefusals(allRefused.slice(refused.length));
  if (rehearsed.length === 0) throw new CaError(`the shadow CA refused every CSR, so nothing was signed on the token: ${describeRefusals(allRefused)}`);
  if (options.strict && byShadow) throw new CaError(`--strict: the shadow CA refused ${byShadow}; nothing was signed on the token`);
  return { staging, rehearsed, ownerOf, refused: allRefused };
}
