import { describe, expect, it } from '@jest/globals';
import { lines } from '../../src/text-lines.js';

describe('lines', () => {
  it('gives each line without its line break, empty lines included, and no empty line after a final break', () => {
    expect([...lines('a\n\nb\n')]).toEqual(['a', '', 'b']);
  });

  it('gives an unterminated last line, and nothing for empty text', () => {
    expect([...lines('a\nb')]).toEqual(['a', 'b']);
    expect([...lines('')]).toEqual([]);
    expect([...lines('\n')]).toEqual(['']);
  });

  it('starts at an offset, the start of a line', () => {
    expect([...lines('header\nx\ty\n', 7)]).toEqual(['x\ty']);
  });
});
