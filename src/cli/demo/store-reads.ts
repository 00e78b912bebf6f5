/**
 * The demo's reads of the store: the leader (the first key of the demo's election) and the
 * settled slot table. Moved here as they were from the orchestrator; they are to read through
 * inspect/ rather than parse keys.
 */
import type { Store } from '../../store/types.js';
import { sleep } from '../../sleep.js';
import { DEMO_ELECTION } from './names.js';
import { readSlots, settledOver } from './slots.js';

/**
 * Waits (up to 100 reads, 50 ms apart) for the leader according to the store (not to the
 * workers' reports, which can lag behind a leadership change), so that a fault hits the real
 * leader: a running worker whose own report names the same term.
 */
export function leaderReader(
  election: Store,
  workers: ReadonlyMap<string, { readonly alive: boolean }>,
  leading: ReadonlyMap<string, number>,
): () => Promise<[string, number] | undefined> {
  return async (): Promise<[string, number] | undefined> => {
    for (let i = 0; i < 100; i++) {
      const { kvs } = await election.range(`election/${DEMO_ELECTION}/`);
      const first = [...kvs].sort((a, b) => a.createRevision - b.createRevision)[0];
      const id = first && Buffer.from(first.value).toString();
      if (first && id && workers.get(id)?.alive && leading.get(id) === first.createRevision)
        return [id, first.createRevision];
      await sleep(50);
    }
    return undefined;
  };
}

/**
 * Polls the store (every 20 ms) until the table is over `members` and every slot is held by its
 * planned owner; `at` undefined when that did not happen within `timeoutMs`.
 */
export function settledWaiter(store: Store) {
  return async (members: readonly string[], timeoutMs: number) => {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const state = await readSlots(store);
      if (settledOver(state, members)) return { state, at: performance.now() };
      if (performance.now() > until) return { state, at: undefined };
      await sleep(20);
    }
  };
}
