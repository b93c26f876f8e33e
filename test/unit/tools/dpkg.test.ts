import { describe, expect, it } from '@jest/globals';
import { upstreamAtLeast } from '../../../src/tools/dpkg.js';

describe('upstreamAtLeast', () => {
  it.each([
    ['0.4.12-0.1', '0.4.13', false],
    ['0.4.13-1~bpo12+2', '0.4.13', true],
    ['0.4.17-1', '0.4.13', true],
    ['1:0.4.11-1', '0.4.13', false],
    ['0.5', '0.4.13', true],
  ])('%s ≥ %s is %s', (version, minimum, expected) => {
    expect(upstreamAtLeast(version, minimum)).toBe(expected);
  });
});
