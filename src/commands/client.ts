import { issueLeaf, type IssueOptions } from '../ca/signing/issue.js';
import { printLeafReport } from './output.js';

export async function clientCommand(options: Omit<IssueOptions, 'profile'>): Promise<void> {
  printLeafReport('client certificate issued', await issueLeaf({ ...options, profile: 'client' }));
}
