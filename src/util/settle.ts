// Work started side by side whose failure must not leave the rest running unseen: wait for all of
// it, then report the first failure in argument order (so the error a user sees does not depend on
// which finished first), or every value.

/** The values of `promises` once all have settled; otherwise the first rejection in argument order. */
export async function settleAll<T extends readonly unknown[]>(promises: { readonly [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises as readonly Promise<unknown>[]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
