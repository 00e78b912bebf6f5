/**
 * Where members publish their heartbeat mesh's opinion of their peers, so that a dashboard, which
 * is not a member and so cannot join the mesh, can show it.
 *
 * Each member puts one key, `suspicion/<group>/<id>` (see suspicion-layout.ts), under its
 * session's lease, every `intervalMs`: a JSON object `{ "threshold": 8, "phi": { "<peer>": 0.4,
 * ... } }`. The key goes when the member's lease does, so a dead member's stale opinions vanish
 * with it. The dashboard shows, for each member, the highest phi any live peer reports for it:
 * one slow link is enough to show, and, like the mesh itself, it is advisory only.
 */
import type { Timer } from '../../clock.js';
import type { HeartbeatMesh } from './heartbeat-mesh.js';
import type { Session } from '../coordination/session.js';
import {
  DEFAULT_PHI_THRESHOLD,
  encodeSuspicion,
  suspicionKey,
  type PublishedSuspicion,
} from './suspicion-layout.js';

export { SUSPICION_PREFIX, type PublishedSuspicion } from './suspicion-layout.js';

/** Options of {@link publishSuspicion}. */
export interface PublishSuspicionOptions {
  /** The member's group. */
  group: string;
  /** The member's id. */
  id: string;
  /** The detector's threshold, published for the dashboard's scale. @default 8 (phi accrual's) */
  threshold?: number;
  /**
   * Time between puts.
   * @default 500 — a dashboard refreshes a few times a second; more often only adds store writes.
   */
  intervalMs?: number;
}

/**
 * Puts `mesh`'s view of its peers under the session's lease every `intervalMs` of the session's
 * clock, until the session ends or the returned function is called. Store errors are ignored:
 * the next put retries.
 */
export function publishSuspicion(
  session: Session,
  mesh: HeartbeatMesh,
  options: PublishSuspicionOptions,
): () => void {
  const key = suspicionKey(options.group, options.id);
  const threshold = options.threshold ?? DEFAULT_PHI_THRESHOLD;
  const clock = session.clock;
  let stopped = false;
  let timer: Timer | undefined;
  const put = async () => {
    if (stopped || !session.alive) return;
    const phi: Record<string, number> = {};
    for (const p of mesh.peers()) phi[p.id] = Math.round(p.suspicion * 100) / 100;
    const value: PublishedSuspicion = { threshold, phi };
    await session.store.put(key, encodeSuspicion(value), { lease: session.lease }).catch(() => undefined);
    if (!stopped) timer = clock.setTimeout(() => void put(), options.intervalMs ?? 500).unref();
  };
  void put();
  const stop = () => {
    stopped = true;
    if (timer !== undefined) clock.clearTimeout(timer);
  };
  session.signal.addEventListener('abort', stop, { once: true });
  return stop;
}
