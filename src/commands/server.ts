import { issueLeaf, type IssueOptions } from '../ca/signing/issue.js';
import { printLeafReport } from './output.js';

export async function serverCommand(options: IssueOptions): Promise<void> {
  printLeafReport(`${options.profile} certificate issued`, await issueLeaf(options));
}
