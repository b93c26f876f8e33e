import { describe, expect, it } from '@jest/globals';
import { mapLimited } from '../../src/map-limited.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('mapLimited', () => {
  it('returns the results in the order of the items, whatever order they finish in', async () => {
    const results = await mapLimited([5, 1, 3, 0], 4, async (ms, i) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return `${i}:${ms}`;
    });
    expect(results).toEqual(['0:5', '1:1', '2:3', '3:0']);
  });

  it('keeps at most `limit` items in flight, and uses all of them', async () => {
    let running = 0;
    let most = 0;
    await mapLimited(Array.from({ length: 20 }, (_, i) => i), 3, async () => {
      running += 1;
      most = Math.max(most, running);
      await tick();
      running -= 1;
    });
    expect(most).toBe(3);
  });

  it('starts nothing after a failure, waits for what was started, and throws the lowest-index failure', async () => {
    const started: number[] = [];
    let finished = 0;
    const run = mapLimited(Array.from({ length: 10 }, (_, i) => i), 3, async (i) => {
      started.push(i);
      await tick();
      if (i !== 2) await tick(); // item 2 fails first, item 1 later: a loop would have met item 1's failure
      finished += 1;
      if (i === 1 || i === 2) throw new Error(`item ${i}`);
    });
    await expect(run).rejects.toThrow('item 1');
    expect(started).toEqual([0, 1, 2]);
    expect(finished).toBe(3);
  });

  it('returns an empty array for no items, calling nothing', async () => {
    await expect(mapLimited([], 8, () => Promise.reject(new Error('called')))).resolves.toEqual([]);
  });
});
