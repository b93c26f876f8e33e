/**
 * `fn` over every item, at most `limit` at a time, the results in the items' order. Made for a batch's
 * thousands of small file operations, which one after another spend most of their time waiting (each fsync
 * alone costs about a millisecond) and side by side overlap in the thread pool and the file system's journal.
 *
 * After a failure no further item is started; those already started are waited for, so nothing is still
 * running when the caller hears of it. The error thrown is the failing item's with the lowest index — the one
 * a loop doing the items one by one would have met first, since every item before it was started too.
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const failures = new Map<number, unknown>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && failures.size === 0) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failures.set(index, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.size > 0) throw failures.get(Math.min(...failures.keys()));
  return results;
}

/** How many file operations a batch keeps in flight: enough to keep node's four file-system threads busy. */
export const FILE_OPERATIONS_AT_ONCE = 8;
