import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSummaryCache, summaryCachePath, type FileSummary } from '../../../src/ca/inventory/summary-cache.js';

const web: FileSummary = { subject: 'CN=web.example.test', sans: ['DNS:web.example.test'], profile: 'server', notAfter: new Date('2027-01-01T00:00:00Z') };
const other: FileSummary = { subject: 'CN=other.example.test', sans: [], notAfter: new Date('2027-02-01T00:00:00Z') };

describe('the list summary cache', () => {
  let dir: string;
  let cachePath: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'summary-cache-'));
    cachePath = join(dir, 'cache', 'hsm-openssl-ca', 'list.json');
    file = join(dir, 'AB.pem');
    writeFileSync(file, 'certificate one');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Lists `file` once through a fresh cache, counting the reads of the file. */
  function listOnce(summary: FileSummary): { got: FileSummary; reads: number } {
    const cache = openSummaryCache(cachePath);
    let reads = 0;
    const got = cache.summary('AB', file, () => {
      reads += 1;
      return summary;
    });
    cache.save();
    return { got, reads };
  }

  it('reads a file once, then answers from the cache with the same summary', () => {
    expect(listOnce(web)).toEqual({ got: web, reads: 1 });
    expect(listOnce(other)).toEqual({ got: web, reads: 0 });
  });

  it('reads a file again when it was replaced under the same name (restored from a backup, tampered with)', () => {
    listOnce(web);
    rmSync(file);
    writeFileSync(file, 'certificate two, longer');
    expect(listOnce(other)).toEqual({ got: other, reads: 1 });
    expect(listOnce(web)).toEqual({ got: other, reads: 0 });
  });

  it('counts a damaged cache file as empty', () => {
    mkdirSync(join(dir, 'cache', 'hsm-openssl-ca'), { recursive: true });
    for (const damage of ['{"AB": [', '[["AB", 1, 2]]', '{"AB": ["x"]}', 'null']) {
      writeFileSync(cachePath, damage);
      expect(listOnce(web)).toEqual({ got: web, reads: 1 });
    }
  });

  it('still answers when the cache cannot be written, and leaves no temporary file', () => {
    const parent = join(dir, 'cache');
    mkdirSync(parent);
    chmodSync(parent, 0o500);
    try {
      // root ignores the mode bits: make the cache directory a file instead, which nobody can write under.
      writeFileSync(join(parent, 'hsm-openssl-ca'), 'not a directory');
    } catch {
      // not root: the read-only parent does it
    }
    expect(listOnce(web)).toEqual({ got: web, reads: 1 });
    expect(listOnce(web)).toEqual({ got: web, reads: 1 });
    chmodSync(parent, 0o700);
    expect(readdirSync(parent).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('lives in $XDG_CACHE_HOME (else ~/.cache), one file per CA database, never inside the CA directory', () => {
    const a = summaryCachePath('/srv/ca/intermediate', { XDG_CACHE_HOME: '/home/op/.cache-x' });
    expect(a).toMatch(/^\/home\/op\/\.cache-x\/hsm-openssl-ca\/list-[0-9a-f]{24}\.json$/);
    expect(summaryCachePath('/srv/ca/root', { XDG_CACHE_HOME: '/home/op/.cache-x' })).not.toBe(a);
    expect(summaryCachePath('/srv/ca/intermediate', {})).toMatch(/\/\.cache\/hsm-openssl-ca\/list-[0-9a-f]{24}\.json$/);
  });
});
