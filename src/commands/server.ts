import { issueLeaf, type IssueOptions } from '../ca/signing/issue.js';
import { dryRunLeaf } from '../ca/shadow/dry-run.js';
import { printDryRun, printLeafReport } from './output.js';

export async function serverCommand(options: IssueOptions & { dryRun?: boolean }): Promise<void> {
  if (options.dryRun) return printDryRun(await dryRunLeaf(options));
  printLeafReport(`${options.profile} certificate issued`, await issueLeaf(options));
}
