import { join } from 'node:path';
import { resolveBackend } from '../../../openssl/backend.js';
import * as openssl from '../../../tools/openssl.js';
import { loadCa } from '../../directory/context.js';
import { withWorkspace } from '../../directory/workspace.js';
import type { DryRun } from '../../shadow/dry-run.js';
import { planBatch, requireSomethingToSign, type BatchOptions } from './plan.js';
import { rehearseBatch } from './rehearse.js';
import { tokenSignings } from './runs.js';

/**
 * A batch's --dry-run: every CSR checked and every run made and judged by the shadow CA, exactly as the real
 * batch starts; then the token's `openssl ca` runs it would make (CSR paths as given), their configs, and
 * what the shadow CA issued. No lock, no PIN, no login, nothing written.
 */
export async function dryRunBatch(options: BatchOptions): Promise<DryRun> {
  const ca = await loadCa(options);
  const { planned, refused } = await planBatch(options, ca);
  requireSomethingToSign(options, planned, refused);
  return withWorkspace(async (work) => {
    const batch = await rehearseBatch(options, ca, planned, refused, work);
    const role = ca.intermediateToken;
    const backend = await resolveBackend(options.run, role.backend, role.module, work, role.role);
    const kept = join(ca.paths.config, 'sign_server_csrs.ini');
    const csrOf = (request: (typeof batch.rehearsed)[number]['run']['requests'][number]) => batch.ownerOf.get(request)!.item;
    const commands = batch.rehearsed.flatMap((rehearsed) =>
      tokenSignings(rehearsed).map((signing, i) => {
        const item = csrOf(rehearsed.run.requests[i]!);
        return openssl.tokenCommandLine(backend, (keyArgs) => openssl.signWithCaArgs(keyArgs, { ...signing, config: kept, csr: item.csrPath, out: item.plan.out }));
      }),
    );
    const results: string[] = [];
    for (const { run, shadow } of batch.rehearsed) {
      for (const [i, issued] of shadow.entries()) results.push(`${csrOf(run.requests[i]!).plan.out} would hold:\n${issued.pem}`);
    }
    const refusals = batch.refused.map((r) => `; refused ${r.csr}: ${r.reason}`).join('');
    return {
      title: `${options.profile} --dry-run: ${results.length} certificates would be signed with the intermediate key in ${commands.length} openssl ca run(s)${refusals}`,
      commands,
      configs: batch.rehearsed.map(({ configText }) => ({ path: kept, text: configText })),
      results,
      checks: batch.rehearsed.flatMap(({ run, shadow }) => shadow.flatMap((issued, i) => issued.checks.map((check) => `${csrOf(run.requests[i]!).csrPath}: ${check}`))),
    };
  });
}
