/**
 * Maps `items` through `fn` with at most `limit` calls pending at once, so a
 * listing of many topics or groups does not open a request per item at
 * once. Answers in the order of `items`; the first rejection rejects.
 */
export async function mapLimit<T, R> (items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
