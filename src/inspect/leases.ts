/**
 * What a reader of the store can know of other processes' leases: the time each has left, as the
 * store reported it at the reader's last look, and when it was last seen renewed. A reader cannot
 * see keepalives (they are not store changes), so it asks `timeToLive` on a slow timer and counts
 * down between looks with its own monotonic clock.
 */
import { systemClock } from '../clock.js';
import type { Store } from '../store/types.js';
import type { LeaseInfo } from './model.js';

interface Track {
  /** Largest remaining ttl seen: the lease's ttl, as far as this reader can tell. */
  maxRemaining: number;
  lastRemaining: number;
  /** Monotonic time of the last look that found the lease renewed. */
  renewedAt: number;
  /** Monotonic time of the last look that found the lease alive (`lastRemaining` then). */
  seenAt: number;
}

/** The leases of the keys a reader follows, looked up with `timeToLive`. */
export class LeaseTracker {
  readonly #tracks = new Map<string, Track>();
  /** Leases the store said were gone at the last look. */
  readonly #gone = new Set<string>();

  constructor(
    readonly store: Store,
    readonly now: () => number = () => systemClock.now(),
  ) {}

  /**
   * Asks the store for the time each of `leases` has left (one `timeToLive` each, concurrently),
   * forgets the leases not listed, and records renewals.
   * @throws what the store threw when it could not answer (nothing is changed then).
   */
  async look(leases: Iterable<string>, ask?: readonly string[]): Promise<void> {
    const wanted = [...new Set(leases)];
    // A lease the store does not have is gone (timeToLive resolves undefined); a store that
    // cannot answer is not evidence of anything: the look fails, and what was known stays.
    const results = await Promise.all(
      (ask ?? wanted).map(async (lease) => [lease, await this.store.timeToLive(lease)] as const),
    );
    const now = this.now();
    const granularityMs = this.store.capabilities.ttlGranularityMs;
    const keep = new Set(wanted);
    for (const lease of [...this.#tracks.keys()]) if (!keep.has(lease)) this.#tracks.delete(lease);
    if (ask === undefined) this.#gone.clear();
    for (const [lease, ms] of results) {
      if (ms === undefined) {
        // Its track stays as the last look left it (until the lease is no longer listed): the
        // key's deletion may reach the reader after this look, and it must still be told whether
        // the lease's time had run out (a crash) and when it was last renewed.
        this.#gone.add(lease);
        continue;
      }
      this.#gone.delete(lease);
      const t = this.#tracks.get(lease);
      if (!t) this.#tracks.set(lease, { maxRemaining: ms, lastRemaining: ms, renewedAt: now, seenAt: now });
      else {
        if (granularityMs <= 1) {
          // Exact times: more left than the last look's, counted down, means a renewal, made
          // when the lease last had its full ttl (as far as seen): now − (ttl − left). Between
          // slow looks this dates it far closer than "at this look".
          const counted = t.lastRemaining - (now - t.seenAt);
          const ttl = Math.max(t.maxRemaining, ms);
          if (ms > counted + 1) t.renewedAt = Math.max(t.renewedAt, Math.min(now, now - (ttl - ms)));
        } else if (ms > t.lastRemaining) {
          // A store that reports whole seconds (etcd): more time left than at the last look is a
          // renewal since. The same nonzero time left can be shown with or without a renewal,
          // but not for longer than its granularity without one: a renewal at most that long
          // ago. (Zero can last longer: the store revokes an expired lease a little late.)
          t.renewedAt = now;
        } else if (ms === t.lastRemaining && ms > 0) t.renewedAt = Math.max(t.renewedAt, now - granularityMs);
        t.seenAt = now;
        t.lastRemaining = ms;
        t.maxRemaining = Math.max(t.maxRemaining, ms);
      }
    }
  }

  /** Looks up only the leases of `leases` not looked up yet (a new session's), keeping the rest. */
  async lookNew(leases: Iterable<string>): Promise<void> {
    const fresh = [...new Set(leases)].filter((l) => !this.known(l));
    if (fresh.length === 0) return;
    await this.look([...this.#tracks.keys(), ...this.#gone, ...fresh], fresh);
  }

  /** Whether the lease has been looked up (alive or gone). */
  known(lease: string): boolean {
    return this.#tracks.has(lease) || this.#gone.has(lease);
  }

  /**
   * The lease's time left, counted down from the last look by this reader's clock (the store
   * expires it no earlier), and its ttl as far as seen; undefined for a lease not looked up.
   */
  info(lease: string): LeaseInfo | undefined {
    if (this.#gone.has(lease)) return { remainingMs: undefined, maxRemainingMs: undefined };
    const t = this.#tracks.get(lease);
    if (t === undefined) return undefined;
    return {
      remainingMs: Math.max(0, t.lastRemaining - (this.now() - t.seenAt)),
      maxRemainingMs: t.maxRemaining,
    };
  }

  /**
   * When the lease was last seen renewed (monotonic ms), for dating a fault; also for a lease the
   * last look found gone, as long as it is listed.
   */
  renewedAt(lease: string): number | undefined {
    return this.#tracks.get(lease)?.renewedAt;
  }

  /**
   * Whether, by the last look that found the lease alive, its time ran out before `at`: its holder
   * died or froze (whether or not a later look found it gone).
   */
  ranOutBy(lease: string, at: number): boolean {
    const t = this.#tracks.get(lease);
    return t !== undefined && at >= t.seenAt + t.lastRemaining;
  }

  /** Forgets a lease (its keys are gone). */
  forget(lease: string): void {
    this.#tracks.delete(lease);
    this.#gone.delete(lease);
  }
}
