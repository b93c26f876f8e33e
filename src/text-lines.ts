/**
 * The lines of `text` (without their line breaks), one at a time, empty lines included; a final line break
 * ends the last line rather than starting an empty one. A generator, not `text.split('\n')`: at 100,000 lines
 * the array of all of them, held while they are parsed, was megabytes of a command's peak memory.
 */
export function* lines(text: string, from = 0): Generator<string> {
  for (let start = from; start < text.length; ) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline;
    yield text.slice(start, end);
    start = end + 1;
  }
}
