/**
 * What a fleet looks like from the store, for the dashboard: the read model of inspect/ (every
 * election, lock, member, slot map and session, read at one revision and kept current by one
 * watch), under the name the dashboard, `tenure status` and `tenure watch` have used.
 *
 * It only reads: it holds no session and writes nothing, so watching a fleet never changes it.
 */
import { FleetFollower, type FleetFollowerOptions } from '../inspect/follow.js';
import type { FleetSnapshot } from '../inspect/model.js';
import type { Store } from '../store/types.js';

export type {
  ElectionView,
  EntryView,
  FleetEvent,
  FleetSnapshot,
  LockView,
  MemberView,
  SessionView,
  SkippedKey,
  SlotMapView,
  TermView,
} from '../inspect/model.js';
export { SKIPPED_LIST_LIMIT } from '../inspect/model.js';

/** Options of {@link FleetView}: those of inspect/'s FleetFollower. */
export type FleetViewOptions = FleetFollowerOptions;

/**
 * A live view of a fleet: inspect/'s {@link FleetFollower}.
 *
 * @example
 * ```ts
 * const view = new FleetView(store);
 * view.on('event', (e) => console.log(e.text));
 * await view.start();
 * ```
 */
export class FleetView extends FleetFollower {
  /**
   * One read of the fleet, without watching (what `tenure status` prints).
   * @throws what the store's read threw.
   */
  static async read(store: Store): Promise<FleetSnapshot> {
    const view = new FleetView(store);
    view.on('error', () => undefined);
    await view.refresh();
    if (view.failure !== undefined) throw view.failure.error;
    return view.snapshot();
  }
}
