import { issueLeaf, type IssueOptions } from '../ca/signing/issue.js';
import { dryRunLeaf } from '../ca/shadow/dry-run.js';
import { printDryRun, printLeafReport } from './output.js';

export async function clientCommand(options: Omit<IssueOptions, 'profile'> & { dryRun?: boolean }): Promise<void> {
  if (options.dryRun) return printDryRun(await dryRunLeaf({ ...options, profile: 'client' }));
  printLeafReport('client certificate issued', await issueLeaf({ ...options, profile: 'client' }));
}
