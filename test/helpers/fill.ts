/** Writing many keys for a test, in transactions of 100 puts. */
import type { Store } from '../../src/store/types.js';

/** Puts `count` keys into `store`: entry i's key and value, 100 puts a transaction, in order. */
export async function putMany(
  store: Store,
  count: number,
  entry: (i: number) => { key: string; value: string },
): Promise<void> {
  for (let i = 0; i < count; i += 100)
    await store.txn({
      success: Array.from({ length: Math.min(100, count - i) }, (_, j) => ({
        type: 'put' as const,
        ...entry(i + j),
      })),
    });
}

/** Entry i of a queue-like prefix: key `prefix` + i in five digits, a value of 100 bytes. */
export const numbered = (prefix: string) => (i: number) => ({
  key: `${prefix}${String(i).padStart(5, '0')}`,
  value: 'x'.repeat(100),
});
