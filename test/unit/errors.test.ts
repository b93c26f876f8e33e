import { describe, expect, it } from '@jest/globals';
import { printable, printableJson, UNSAFE_CHARACTER } from '../../src/errors.js';

describe('printable and UNSAFE_CHARACTER: one rule for refusing and for escaping', () => {
  it.each([
    ['a\nb', 'a\\nb'],
    ['bell\x07', 'bell\\x07'],
    ['del\x7f', 'del\\x7f'],
    ['csi\u009b31m', 'csi\\x9b31m'],
    ['next line\u0085', 'next line\\x85'],
    ['rlo\u202egnp.exe', 'rlo\\u202egnp.exe'],
    ['isolate\u2066x\u2069', 'isolate\\u2066x\\u2069'],
    ['marks\u200e\u200f', 'marks\\u200e\\u200f'],
    ['zero\u200bwidth', 'zero\\u200bwidth'],
    ['line\u2028sep', 'line\\u2028sep'],
    ['tag\u{e0041}', 'tag\\u{e0041}'],
    ['lone\ud800', 'lone\\ud800'],
  ])('escapes %j', (raw, shown) => {
    expect(printable(raw)).toBe(shown);
    expect(UNSAFE_CHARACTER.test(raw)).toBe(true);
    expect(UNSAFE_CHARACTER.test(shown)).toBe(false);
  });

  it('leaves ordinary text, non-ASCII letters and emoji alone', () => {
    for (const text of ['Müller GmbH', 'Ωmega', '東京', 'a\\x1b', 'smile 😀']) {
      expect(printable(text)).toBe(text);
      expect(UNSAFE_CHARACTER.test(text)).toBe(false);
    }
  });

  it('printableJson escapes the same characters as JSON escapes, which parse back to the original', () => {
    const value = { subject: 'CN=a\u202eb\u009bc\x1b\u{e0041}', sans: ['DNS:x'] };
    const text = printableJson(value);
    expect(text).not.toMatch(/[\u0080-\u009f\u202e]|\u{e0041}/u);
    expect(text.split('\n')).toHaveLength(6);
    expect(JSON.parse(text)).toEqual(value);
  });
});
