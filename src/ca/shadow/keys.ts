import { generateKeyPair, type KeyObject, createPrivateKey } from 'node:crypto';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../../fs-atomic.js';
import { keyParameters } from '../../tools/openssl.js';
import type { KeyType } from '../directory/settings.js';

const generate = promisify(generateKeyPair);

/**
 * Software keys for the shadow CA are cached per user in the user's cache directory (XDG_CACHE_HOME, else
 * ~/.cache), never in the CA directory (`check` would call them unexpected) nor in the temp directory
 * (every run leaves that as it found it): an RSA-4096 key takes about a second to generate, and nothing
 * trusts what a shadow key signs, so reusing one across runs costs no security.
 */
function cacheDir(): string {
  return join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'hsm-openssl-ca', 'shadow-keys');
}

/** Whether the cache directory is ours alone (0700, owned by us, not a symlink); else keys are made per run. */
async function privateCacheDir(): Promise<string | undefined> {
  const dir = cacheDir();
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch(() => undefined);
  const info = await lstat(dir).catch(() => undefined);
  const ours = info?.isDirectory() === true && (process.getuid === undefined || info.uid === process.getuid()) && (info.mode & 0o077) === 0;
  return ours ? dir : undefined;
}

async function newKey(keyType: KeyType): Promise<KeyObject> {
  const key = keyParameters(keyType);
  const pair = 'curve' in key ? await generate('ec', { namedCurve: key.curve }) : await generate('rsa', { modulusLength: key.bits });
  return pair.privateKey;
}

/**
 * A software key of `keyType` for the shadow CA's `role`, as a PEM file in `work` (openssl's `-keyfile`).
 * Root and intermediate get different keys, so the shadow chain is a real two-tier chain.
 */
export async function shadowKey(keyType: KeyType, role: 'root' | 'intermediate', work: string): Promise<{ file: string; key: KeyObject }> {
  const name = `${role}-${keyType.replace(':', '-')}.key`;
  const dir = await privateCacheDir();
  const cached = dir ? await readFile(join(dir, name), 'utf8').catch(() => undefined) : undefined;
  const key = cached ? createPrivateKey(cached) : await newKey(keyType);
  const pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  if (dir && !cached) await writeFileAtomic(join(dir, name), pem, 0o600);
  const file = join(work, `shadow-${name}`);
  await writeFileAtomic(file, pem, 0o600);
  return { file, key };
}
