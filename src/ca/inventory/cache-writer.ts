import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Lines per write: one string of 100,000 lines would be another 17 MB, and lines waiting for a write of 1,000
 * lived long enough to be promoted to V8's old space, where they stayed as garbage until a full collection
 * (measured: a first `list` of 100,000 certificates peaked ~25 MiB higher than with 100 per write).
 */
const LINES_PER_WRITE = 100;

/**
 * A cache file written line by line into a temporary beside it and renamed into place when finished.
 * Best effort: a cache that cannot be written (read-only home, full disk) only costs the next `list` its
 * time, so the first failure removes the temporary and every later line is dropped; nothing here throws.
 */
export class CacheWriter {
  private chunk: string[];

  private constructor(
    private fd: number | undefined,
    private readonly path: string,
    private readonly temp: string,
    header: string,
  ) {
    this.chunk = [header];
  }

  /** A writer of the file at `path`, its first line `header`; undefined when the temporary cannot be made. */
  static open(path: string, header: string): CacheWriter | undefined {
    const temp = `${path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      return new CacheWriter(openSync(temp, 'w', 0o600), path, temp, header);
    } catch {
      removeQuietly(temp);
      return undefined;
    }
  }

  add(line: string): void {
    if (this.fd === undefined) return;
    this.chunk.push(line);
    if (this.chunk.length === LINES_PER_WRITE) this.flush();
  }

  /** Writes what is left and renames the file into place; whether it is there. */
  finish(): boolean {
    this.flush();
    if (this.fd === undefined) return false;
    try {
      closeSync(this.fd);
      this.fd = undefined;
      renameSync(this.temp, this.path);
      return true;
    } catch {
      this.abandon();
      return false;
    }
  }

  /** Removes the temporary; later lines are dropped. */
  abandon(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // closing failed: the descriptor is gone either way
      }
    }
    this.fd = undefined;
    removeQuietly(this.temp);
  }

  private flush(): void {
    if (this.fd === undefined || this.chunk.length === 0) return;
    try {
      writeSync(this.fd, `${this.chunk.join('\n')}\n`);
    } catch {
      this.abandon();
    }
    this.chunk = [];
  }
}

export function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // its directory is not there or not a directory: nothing was left behind
  }
}
