/**
 * The demo's reads of the store: the leader (the first key of the demo's election) and the
 * settled slot table. Moved here as they were from the orchestrator; they are to read through
 * inspect/ rather than parse keys.
 */
import type { Store } from '../../store/types.js';
import { sleep } from '../../sleep.js';
import { DEMO_ELECTION } from './names.js';
import { readSlots, settledOver } from './slots.js';
import { describeElection, electionPrefix } from '../../recipes/coordination/election-layout.js';

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
      const { kvs } = await election.range(electionPrefix(DEMO_ELECTION));
      const { leader } = describeElection(DEMO_ELECTION, kvs);
      const id = leader?.owner;
      if (leader && id && workers.get(id)?.alive && leading.get(id) === leader.token)
        return [id, leader.token];
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
