/**
 * Leader election. Candidates queue by create revision under `election/<name>/`; the first is
 * the leader, and each other candidate watches only the one just ahead of it, so a leader
 * change wakes one candidate. The leader's create revision is its `term`: strictly increasing
 * across successive leaders, it is the fencing token to pass to whatever the leader writes to.
 *
 * Modelled on etcd's client/v3/concurrency election, with its reported bugs designed out:
 * a failed or cancelled campaign removes its key (etcd 21128), a candidate re-reads its own key
 * and checks its session before declaring itself leader, and resign keeps the leadership state
 * until the store confirms (etcd 22123).
 *
 * With `{ layout: 'etcd' }` the candidates are etcd's own (etcd-layout.ts): `<name>/<lease in
 * hex>` valued with the proclaimed value, so that tenure, `etcdctl elect` and Go's
 * `concurrency.Election` on one etcd elect one leader among them.
 */
import { TenureError, invalidArgument } from '../../errors.js';
import { ETCD_QUEUE_LAYOUT, checkLayout, type Layout } from './etcd-layout.js';
import type { KeyValue } from '../../store/types.js';
import { Holding } from './holding.js';
import { decodeText } from './queue-layout.js';
import {
  byCreateRevision,
  checkWaitOptions,
  QueueRecipe,
  exclusive,
  takeTurn,
  type Ticket,
  type WaitOptions,
} from './queue.js';
import type { Session } from './session.js';

/** Who leads an election. */
export interface LeaderInfo {
  /** The leader's proclaimed value (an address, a host name, ...). */
  readonly value: string;
  /** The leader's term (fencing token). */
  readonly term: number;
  /** The leader's candidate key. */
  readonly key: string;
  /** The leader's session lease. */
  readonly lease: string | null;
}

function toLeader(kv: KeyValue): LeaderInfo {
  return { value: decodeText(kv.value), term: kv.createRevision, key: kv.key, lease: kv.lease };
}

function checkValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw invalidArgument('value', `must be a string, got ${typeof value}`);
}

/** Options of {@link Election}. */
export interface ElectionOptions {
  /**
   * Whose key layout the election uses. `'tenure'`: `election/<name>/<unique key>`. `'etcd'`:
   * the layout of etcd's `concurrency.Election` and `etcdctl elect` (`<name>/<lease id in hex>`,
   * valued with the proclaimed value; see etcd-layout.ts), so that they and tenure elect one
   * leader among them on one etcd, and `etcdctl elect -l` shows tenure's leader. Open the store
   * at the namespace the other side uses: etcd URLs default to `tenure/`, and `etcdctl elect
   * NAME` writes at the root (`etcd://host:2379?namespace=`). Under the etcd layout the name may
   * contain `/`, and a session has one key per name: a second campaign in the same session while
   * the first leads or waits is refused with TENURE_INVALID_ARGUMENT (etcd's Campaign would take
   * the first one's key over).
   * @default 'tenure'
   */
  layout?: Layout;
}

/**
 * An election, seen through one session.
 *
 * @example
 * ```ts
 * const election = new Election(session, 'billing-cron');
 * const leadership = await election.campaign('host-a');
 * await runWhileLeader(leadership.term, leadership.signal);
 * await leadership.close();
 * ```
 */
export class Election extends QueueRecipe {
  /** @throws TENURE_INVALID_ARGUMENT for a bad name (see checkName; checkEtcdName under the etcd layout) or option. */
  constructor(session: Session, name: string, options: ElectionOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw invalidArgument('options', 'must be an object');
    const layout = checkLayout(options.layout);
    super(session, name, 'election', layout === 'etcd' ? ETCD_QUEUE_LAYOUT : undefined);
  }

  /**
   * Becomes a candidate and resolves once elected. If the wait is aborted, times out or fails,
   * the candidate key is removed before the promise rejects. A lost reply to the write that
   * queues the candidate is retried within the caller's time (see enqueue).
   *
   * @throws TENURE_INVALID_ARGUMENT when `value` is not a string.
   * @throws TENURE_TIMEOUT after `options.timeoutMs`, TENURE_ABORTED when `options.signal`
   * aborts (cause: its reason); TENURE_SESSION_EXPIRED or TENURE_CLOSED when the session ends
   * first (also when its deadline passed while the last step ran); TENURE_LOCK_LOST if its queue
   * key was deleted by someone else while it waited; TENURE_UNAVAILABLE only for a store error
   * that retrying cannot fix (transient ones, a lost reply included, are retried while time is
   * left); TENURE_CLOSED if the store was closed; TENURE_INVALID_ARGUMENT for bad options.
   * Whatever it throws, it has removed its queue key (or, with the store unreachable, removes it
   * in the background until the lease ends).
   */
  async campaign(value: string, options?: WaitOptions): Promise<Leadership> {
    checkValue(value);
    return takeTurn(
      this.session,
      `campaign for ${this.name}`,
      this.prefix,
      value,
      exclusive,
      options,
      (ticket, { revision }) => new Leadership(this, ticket, revision, value),
      this.entryKey(),
    );
  }

  /**
   * The current leader, or undefined when there is no candidate.
   * @throws TENURE_UNAVAILABLE when the store cannot answer (retryable), TENURE_CLOSED when the
   * store was closed.
   */
  async leader(): Promise<LeaderInfo | undefined> {
    const first = (await this.entries())[0];
    return first && toLeader(first);
  }

  /**
   * All candidates in queue order (the leader first).
   * @throws TENURE_UNAVAILABLE when the store cannot answer (retryable), TENURE_CLOSED when the
   * store was closed.
   */
  async candidates(): Promise<LeaderInfo[]> {
    return (await this.entries()).map(toLeader);
  }

  /**
   * Yields the current leader (or undefined), then each change of leader or of its value.
   *
   * It yields the latest state when the consumer asks for the next one: leaders that came and
   * went while the consumer was busy are skipped (their terms show the gap). It never blocks the
   * store or other consumers. It ends when `options.signal` aborts.
   * @throws TENURE_UNAVAILABLE when the store cannot answer (retryable), TENURE_CLOSED when the
   * store was closed.
   */
  async *observe(
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<LeaderInfo | undefined, void, undefined> {
    const { signal } = checkWaitOptions(options);
    const store = this.session.store;
    let last: LeaderInfo | undefined | null = null;
    for (;;) {
      const read = await store.range(this.prefix);
      const first = [...read.kvs].sort(byCreateRevision)[0];
      const current = first && toLeader(first);
      if (last === null || current?.term !== last?.term || current?.value !== last?.value) {
        last = current;
        yield current;
      }
      try {
        for await (const _batch of store.watch(this.prefix, {
          prefix: true,
          fromRevision: read.revision + 1,
          signal,
        }))
          break;
      } catch (err) {
        if (err instanceof TenureError && err.code === 'TENURE_COMPACTED') continue;
        throw err;
      }
    }
  }
}

/**
 * Leadership of an election, held until resigned or lost. Its `token` is the `term`.
 */
export class Leadership extends Holding {
  readonly election: Election;
  #value: string;

  /** @internal */
  constructor(election: Election, ticket: Ticket, readRevision: number, value: string) {
    super(election.session, ticket, readRevision, `leadership of ${election.name}`, 'TENURE_NOT_LEADER');
    this.election = election;
    this.#value = value;
  }

  /** The term: strictly increasing across successive leaders. Pass it to what you protect. */
  get term(): number {
    return this.token;
  }

  /** The proclaimed value. */
  get value(): string {
    return this.#value;
  }

  /**
   * Changes the leader's value without giving up leadership.
   * @throws TENURE_INVALID_ARGUMENT when `value` is not a string; TENURE_NOT_LEADER when
   * leadership was lost or resigned; TENURE_UNAVAILABLE when the store cannot answer (the value
   * may or may not have changed: proclaim again), TENURE_CLOSED when the store was closed.
   */
  async proclaim(value: string): Promise<void> {
    checkValue(value);
    if (this.status !== 'held') throw notLeader(this.election.name);
    const session = this.election.session;
    const res = await session.store.txn({
      compare: [{ key: this.key, target: 'createRevision', op: '=', value: this.term }],
      success: [{ type: 'put', key: this.key, value, lease: session.lease }],
    });
    if (!res.succeeded) throw notLeader(this.election.name);
    this.#value = value;
  }

  /**
   * Gives leadership up: the signal aborts at once, then the key is deleted so the next
   * candidate takes over within one watch delivery. Idempotent. Same as {@link Leadership.close}.
   * Never rejects: it retries while the session lives, and the lease's end removes the key after.
   * @deprecated Use `close()`, the one word that ends every held thing; `resign()` goes in the
   * next release.
   */
  resign(): Promise<void> {
    return this.close();
  }
}

function notLeader(name: string): TenureError {
  return new TenureError('TENURE_NOT_LEADER', `this process no longer leads ${name}; campaign again`);
}
