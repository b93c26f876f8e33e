import { lines } from '../../text-lines.js';

/**
 * The lines of a cache file read back, found by serial (the text before a line's first tab; a line without
 * one is damaged and ignored). `list` writes them in index.txt's order and asks for them in that order, so
 * they are taken in turn from the one text read: a map of 100,000 serials and lines beside the text was
 * 20 MiB of a cached `list`'s peak. The map is made only when a serial is asked for out of turn
 * (certificates added or removed since, a damaged line); as before, it holds the last line of a serial.
 */
export class PreviousLines {
  /** How many lines hold a serial. */
  readonly size: number;
  /** The lines not handed out yet, in the file's order. */
  private readonly rest: Generator<string>;
  private bySerial: Map<string, string> | undefined;

  /** The lines of `text` from offset `start` on. */
  constructor(
    private readonly text: string,
    private readonly start: number,
  ) {
    this.rest = lines(text, start);
    let size = 0;
    for (const line of lines(text, start)) if (line.indexOf('\t') > 0) size += 1;
    this.size = size;
  }

  get(serial: string): string | undefined {
    if (this.bySerial === undefined) {
      const line = this.takeNext();
      if (line?.startsWith(`${serial}\t`)) return line;
      this.bySerial = this.map();
    }
    return this.bySerial.get(serial);
  }

  /** The next line that holds a serial. next(), not for…of: leaving a for…of early would close the generator. */
  private takeNext(): string | undefined {
    for (let next = this.rest.next(); !next.done; next = this.rest.next()) if (next.value.indexOf('\t') > 0) return next.value;
    return undefined;
  }

  private map(): Map<string, string> {
    const bySerial = new Map<string, string>();
    for (const line of lines(this.text, this.start)) {
      const tab = line.indexOf('\t');
      if (tab > 0) bySerial.set(line.slice(0, tab), line);
    }
    return bySerial;
  }
}
