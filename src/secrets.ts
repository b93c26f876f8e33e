/**
 * Every PIN and password this process has read. Messages are redacted against all of them, not only against
 * the secrets a child was given: a run without the PIN (the shadow CA's openssl, a verify) can still print the
 * PIN's digits — in a path, say — and its message must not show them either. Data a tool prints (a key's EC
 * point, a listing) is not redacted: the PIN's digits can occur in it by chance, and redacting would corrupt it.
 */
const knownSecrets = new Set<string>();

export function rememberSecret(secret: string): void {
  if (secret.length > 0) knownSecrets.add(secret);
}

/** Replaces every occurrence of each secret in `text`, longest first so overlapping secrets are both hidden. */
export function redact(text: string, secrets: readonly string[]): string {
  return [...secrets]
    .filter((secret) => secret.length > 0)
    .sort((a, b) => b.length - a.length)
    .reduce((out, secret) => out.split(secret).join('***'), text);
}

/** `text` with every secret this process has read hidden, and `extra` ones (a child's own secrets) too. */
export function redactKnown(text: string, extra: readonly string[] = []): string {
  return redact(text, [...extra, ...knownSecrets]);
}
