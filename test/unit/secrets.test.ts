import { describe, it, expect } from '@jest/globals';
import { redact } from '../../src/secrets.js';

describe('redact', () => {
  it('hides every occurrence of a secret', () => {
    expect(redact('pin=1234 again 1234', ['1234'])).toBe('pin=*** again ***');
  });

  it('hides a PIN that also occurs inside a path', () => {
    const out = redact("openssl: cannot open '/tmp/1234/x' with PIN 1234", ['1234']);
    expect(out).toBe("openssl: cannot open '/tmp/***/x' with PIN ***");
    expect(out).not.toContain('1234');
  });

  it('hides overlapping secrets completely, longest first', () => {
    const out = redact('user 123456 so 1234', ['1234', '123456']);
    expect(out).toBe('user *** so ***');
    expect(out).not.toMatch(/[0-9]/);
  });

  it('ignores empty secrets', () => {
    expect(redact('nothing secret here', ['', 'zzz'])).toBe('nothing secret here');
    expect(redact('abc', [''])).toBe('abc');
  });

  it('treats secrets literally, not as regular expressions', () => {
    expect(redact('pin a.b+c$ and axbbc', ['a.b+c$'])).toBe('pin *** and axbbc');
  });

  it('returns the text unchanged without secrets and does not reorder the array it got', () => {
    expect(redact('x', [])).toBe('x');
    const secrets = ['12', '1234'];
    redact('1234', secrets);
    expect(secrets).toEqual(['12', '1234']);
  });
});

describe('a tool output that cannot be parsed is shown with every PIN read so far hidden', () => {
  it('in the one-line message and in the multi-line detail', async () => {
    const { rememberSecret } = await import('../../src/secrets.js');
    const { ParseError } = await import('../../src/errors.js');
    rememberSecret('90210');
    const oneLine = new ParseError('a listing (unexpected line "pin 90210")', 'pin 90210');
    expect(oneLine.message).toBe('could not parse a listing (unexpected line "pin ***"); the tool printed "pin ***" — please report it with your OpenSC and GnuTLS versions');
    const lines = new ParseError('a listing', 'first\nsecond 90210\n');
    expect(lines.detail).toBe('first\nsecond ***');
    expect(lines.message).not.toContain('90210');
  });
});
