import type { IssueOptions } from '../ca/signing/issue.js';
import { leafCommand, type LeafSource } from './server.js';

export function clientCommand(options: Omit<IssueOptions, 'csrPath' | 'profile'> & LeafSource & { dryRun?: boolean }): Promise<void> {
  return leafCommand('client certificate issued', { ...options, profile: 'client' });
}
