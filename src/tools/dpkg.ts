import type { Runner } from './run.js';

/** The installed version of a Debian package, or undefined where dpkg is absent or the package is not installed. */
export async function installedVersion(run: Runner, pkg: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('dpkg-query', ['-W', '-f=${Version}', pkg]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Compares Debian-style upstream versions numerically ("0.4.12-0.1" < "0.4.13-1~bpo12+2"). */
export function upstreamAtLeast(version: string, minimum: string): boolean {
  const numbers = (v: string): number[] => (v.replace(/^\d+:/, '').split(/[-~+]/)[0] ?? '').split('.').map((n) => Number.parseInt(n, 10) || 0);
  const [a, b] = [numbers(version), numbers(minimum)];
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}
