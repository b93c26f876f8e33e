import { describe, expect, it } from '@jest/globals';
import { editHidden, parseAnswer, type HiddenLine } from '../../src/terminal.js';

/** Feeds keystrokes to the hidden prompt's line editor, as the terminal would deliver them. */
function typed(keys: string): HiddenLine {
  let line: HiddenLine = { typed: '' };
  for (const char of keys) {
    line = editHidden(line, char);
    if (line.ended) break;
  }
  return line;
}

describe('the hidden PIN prompt line editor', () => {
  it('Enter ends the line with what was typed', () => {
    expect(typed('123456\r')).toEqual({ typed: '123456', ended: 'enter' });
    expect(typed('123456\n')).toEqual({ typed: '123456', ended: 'enter' });
  });

  it('Backspace (DEL or ^H) deletes one character, also a multi-byte one', () => {
    expect(typed('1234\u007f5\r').typed).toBe('1235');
    expect(typed('12\b\b\b9\r').typed).toBe('9');
    expect(typed('pä\u007f\r').typed).toBe('p');
  });

  it('Ctrl-U and Ctrl-W clear the line', () => {
    expect(typed('wrong\u0015123456\r').typed).toBe('123456');
    expect(typed('wrong\u0017123456\r').typed).toBe('123456');
  });

  it('arrow, Home/End and function keys never reach the PIN', () => {
    for (const key of ['\u001b[A', '\u001b[D', '\u001b[1;5C', '\u001b[H', '\u001bOH', '\u001bOP', '\u001b[15~', '\u001b[3~']) {
      expect(typed(`12${key}34\r`).typed).toBe('1234');
    }
  });

  it('a lone ESC swallows only itself and the key after it', () => {
    expect(typed('12\u001bx34\r').typed).toBe('1234');
  });

  it('other control characters (tab, ^G, C1 controls) are dropped', () => {
    expect(typed('1\t2\u00073\u00854\r').typed).toBe('1234');
  });

  it('Ctrl-C and Ctrl-D cancel', () => {
    expect(typed('12\u0003').ended).toBe('cancel');
    expect(typed('\u0004').ended).toBe('cancel');
  });
});

describe('answers to a question', () => {
  it('takes y/yes and n/no in any case, with spaces around', () => {
    for (const yes of ['y', 'Y', 'yes', ' YES ']) expect(parseAnswer(yes)).toBe('yes');
    for (const no of ['n', 'N', 'no', 'No ']) expect(parseAnswer(no)).toBe('no');
  });

  it('anything else is unclear, never a no', () => {
    for (const unclear of ['', 'maybe', 'yy', 'ja', 'nope', 'y n']) expect(parseAnswer(unclear)).toBeUndefined();
  });
});
