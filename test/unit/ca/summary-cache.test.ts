import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    cachePath = join(dir, 'cache', 'hsm-openssl-ca', 'list.txt');
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

  it('counts a damaged cache file, or a damaged line of it, as not holding the file', () => {
    mkdirSync(join(dir, 'cache', 'hsm-openssl-ca'), { recursive: true });
    const identityLine = () => readFileSync(cachePath, 'utf8').split('\n')[1]!.split('\t').slice(0, 2).join('\t');
    listOnce(web);
    const kept = identityLine();
    const header = 'hsm-openssl-ca list cache 2\n';
    for (const damage of ['[["AB", 1, 2]]', `${kept}\t["CN=x", [], null, 1]\n`, `${header}${kept}\t["CN=x", [], null]\n`, `${header}${kept}\t["CN=x", [1], null, 1]\n`, `${header}${kept}\t["CN=x", [], 5, 1]\n`, `${header}${kept}\t{"CN": 1`, `${header}${kept}\n`, `${header}\t${kept}\t["CN=x", [], null, 1]\n`]) {
      writeFileSync(cachePath, damage);
      expect(listOnce(other)).toEqual({ got: other, reads: 1 });
    }
  });

  it('keeps every line a later list needs, each summary read back exactly, in a file of lines under its header', () => {
    const cache = openSummaryCache(cachePath);
    const files = ['AB', 'CD', 'EF'].map((serial) => {
      const path = join(dir, `${serial}.pem`);
      writeFileSync(path, serial);
      return { serial, path };
    });
    const tricky: FileSummary = { subject: 'CN=tab\there,O=new\nline', sans: ['DNS:a.example', 'IP:::1'], notAfter: new Date(1_800_000_000_123) };
    for (const [i, { serial, path }] of files.entries()) cache.summary(serial, path, () => [web, other, tricky][i]!);
    cache.save();
    const text = readFileSync(cachePath, 'utf8');
    expect(text.split('\n').map((line) => line.split('\t')[0])).toEqual(['hsm-openssl-ca list cache 2', 'AB', 'CD', 'EF', '']);
    const again = openSummaryCache(cachePath);
    const never = (): FileSummary => {
      throw new Error('read although cached');
    };
    expect(files.map(({ serial, path }) => again.summary(serial, path, never))).toEqual([web, other, tricky]);
  });

  it('writes every line of a cache larger than one write (100 lines each)', () => {
    const serials = Array.from({ length: 2001 }, (_, i) => i.toString(16).toUpperCase().padStart(4, '0'));
    const cache = openSummaryCache(cachePath);
    for (const serial of serials) cache.summary(serial, file, () => web);
    cache.save();
    expect(readFileSync(cachePath, 'utf8').split('\n')).toHaveLength(serials.length + 2);
    const again = openSummaryCache(cachePath);
    let reads = 0;
    for (const serial of serials) again.summary(serial, file, () => ((reads += 1), web));
    expect(reads).toBe(0);
  });

  it('answers from the cache when certificates are asked for in another order than it was written (lines added or removed since)', () => {
    const serials = ['01', '02', '03', '04'];
    const cache = openSummaryCache(cachePath);
    for (const serial of serials) cache.summary(serial, file, () => web);
    cache.save();
    const again = openSummaryCache(cachePath);
    let reads = 0;
    for (const serial of ['01', '03', '05', '02', '04']) again.summary(serial, file, () => ((reads += 1), web));
    expect(reads).toBe(1);
    again.save();
    expect(readFileSync(cachePath, 'utf8').split('\n').map((line) => line.split('\t')[0])).toEqual(['hsm-openssl-ca list cache 2', '01', '03', '05', '02', '04', '']);
  });

  it('leaves the cache as it was, and no temporary file, when the listing fails part-way (discard)', () => {
    listOnce(web);
    const before = readFileSync(cachePath, 'utf8');
    const cache = openSummaryCache(cachePath);
    const second = join(dir, 'CD.pem');
    writeFileSync(second, 'certificate two');
    cache.summary('CD', second, () => other);
    cache.discard();
    expect(readFileSync(cachePath, 'utf8')).toBe(before);
    expect(readdirSync(join(dir, 'cache', 'hsm-openssl-ca'))).toEqual(['list.txt']);
  });

  it('removes the single-JSON cache of earlier versions when it writes its own', () => {
    mkdirSync(join(dir, 'cache', 'hsm-openssl-ca'), { recursive: true });
    const legacy = cachePath.replace(/\.txt$/, '.json');
    writeFileSync(legacy, '[]');
    listOnce(web);
    expect(existsSync(legacy)).toBe(false);
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
    expect(a).toMatch(/^\/home\/op\/\.cache-x\/hsm-openssl-ca\/list-[0-9a-f]{24}\.txt$/);
    expect(summaryCachePath('/srv/ca/root', { XDG_CACHE_HOME: '/home/op/.cache-x' })).not.toBe(a);
    expect(summaryCachePath('/srv/ca/intermediate', {})).toMatch(/\/\.cache\/hsm-openssl-ca\/list-[0-9a-f]{24}\.txt$/);
  });
});
