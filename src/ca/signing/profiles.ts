import type { TemplateName } from '../../openssl-config.js';

/** What an end-entity certificate is for; one template per profile under templates/profiles/. */
export const PROFILES = {
  server: { section: 'server_cert', template: 'profiles/server.ini', extendedKeyUsage: ['serverAuth'] },
  client: { section: 'client_cert', template: 'profiles/client.ini', extendedKeyUsage: ['clientAuth'] },
  'server-client': { section: 'server_client_cert', template: 'profiles/server-client.ini', extendedKeyUsage: ['serverAuth', 'clientAuth'] },
} as const satisfies Record<string, { section: string; template: TemplateName; extendedKeyUsage: readonly string[] }>;

export type ProfileName = keyof typeof PROFILES;

export function isProfileName(value: string): value is ProfileName {
  return Object.hasOwn(PROFILES, value);
}

/** The profile a certificate was issued with, read back from its extended key usage (for renewal). */
export function profileFromExtendedKeyUsage(usages: { serverAuth?: boolean; clientAuth?: boolean }): ProfileName | undefined {
  if (usages.serverAuth && usages.clientAuth) return 'server-client';
  if (usages.serverAuth) return 'server';
  if (usages.clientAuth) return 'client';
  return undefined;
}
