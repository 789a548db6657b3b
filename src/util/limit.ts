// A bounded parallel map for file and blob work (hashing, copying, compressing): enough requests in flight to keep the
// disk and libuv's thread pool busy, few enough not to exhaust file descriptors or memory.

/**
 * Maps items with at most `limit` calls in flight; results keep input order. After the first
 * failure no new item starts, and the promise rejects only once the calls in flight have settled,
 * so nothing keeps writing after the caller has moved on (e.g. to clean up).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
