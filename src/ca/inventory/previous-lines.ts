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
  private next: number;
  private bySerial: Map<string, string> | undefined;

  /** The lines of `text` from offset `start` on. */
  constructor(
    private readonly text: string,
    private readonly start: number,
  ) {
    this.next = start;
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

  /** The next line that holds a serial, and the offset moved past it. */
  private takeNext(): string | undefined {
    while (this.next < this.text.length) {
      const newline = this.text.indexOf('\n', this.next);
      const end = newline === -1 ? this.text.length : newline;
      const line = this.text.slice(this.next, end);
      this.next = end + 1;
      if (line.indexOf('\t') > 0) return line;
    }
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
