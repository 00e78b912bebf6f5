/**
 * What each simulated process does with each recipe, and which checker judges it: the workloads
 * of {@link simulate}. A process records what it did and believed (acquisitions, the checks it
 * made before acting, the losses it observed, writes to a fenced register) in the vocabulary of
 * recipes.ts; the simulation's observer adds `session.expired` when the store ends a lease.
 *
 * Every holder checks its holding synchronously (`throwIfLost()`, `session.alive`) before it acts
 * on it, as the recipes' documentation asks: the checkers end a holding at its last check.
 * @internal
 */
import type { Clock } from '../clock.js';
import {
  Election,
  Membership,
  Mutex,
  RWLock,
  Semaphore,
  Session,
  ShardManager,
  type Member,
} from '../recipes/index.js';
import type { LeaseId, Store } from '../store/types.js';
import type { History, HistoryEvent } from './history.js';
import {
  checkElections,
  checkLocks,
  checkRWLocks,
  checkSemaphores,
  checkSessions,
  checkShards,
  type RecipeCheckResult,
} from './recipes.js';
import { NoDeadlineSession, UncomparedElection, slotsFromView } from './sim-doubles.js';
import type { SimulationRecipe, SimulationVariant } from './simulation.js';

/** One simulated process: its name, its clock (drifted, paused with it) and its link to the store. */
export interface SimProcess {
  readonly name: string;
  readonly index: number;
  readonly clock: Clock;
  readonly store: Store;
}

/** What the simulation gives a scenario. */
export interface SimContext {
  readonly rnd: () => number;
  readonly ttlMs: number;
  readonly variant: SimulationVariant;
  /** Aborts at the end of the simulated time. */
  readonly stop: AbortSignal;
  emit(e: Omit<HistoryEvent, 'time'>): void;
  sleep(clock: Clock, ms: number): Promise<void>;
  /** Asks the observer to record `session.expired` if the store ends this lease. */
  watchLease(id: LeaseId): void;
  /** Records `fn` as one operation (`fail` if it throws, then rethrows). */
  step<T>(
    p: string,
    op: string,
    args: Record<string, unknown>,
    fn: () => Promise<T>,
    result: (v: T) => unknown,
  ): Promise<T>;
  /** Records an instantaneous operation (a check, an observed loss). */
  observe(p: string, op: string, args: Record<string, unknown>): void;
  /** The fenced register: the highest token it accepted, per resource. */
  readonly fence: Map<string, number>;
}

/** A recipe's workload and checker. */
export interface Scenario {
  run(ctx: SimContext, proc: SimProcess): Promise<void>;
  check(history: History, ttlMs: number): RecipeCheckResult;
}

/** A Session for the process, replaced when it is lost. */
function sessions(ctx: SimContext, proc: SimProcess) {
  let session: Session | undefined;
  return {
    async live(): Promise<Session> {
      if (session?.alive) return session;
      await session?.close().catch(() => undefined);
      session = await Session.create(proc.store, { ttlMs: ctx.ttlMs, clock: proc.clock });
      return session;
    },
    async close(): Promise<void> {
      await session?.close().catch(() => undefined);
    },
  };
}

/** A write to the fenced register, which answers after a delay (the write may be overtaken). */
async function fencedWrite(ctx: SimContext, proc: SimProcess, p: string, name: string, token: number) {
  ctx.emit({ type: 'invoke', process: p, op: 'lock.write', args: { name, token } });
  await ctx.sleep(proc.clock, ctx.rnd() * 10);
  const accepted = token >= (ctx.fence.get(name) ?? 0);
  if (accepted) ctx.fence.set(name, token);
  ctx.emit({ type: 'ok', process: p, op: 'lock.write', result: { accepted } });
}

interface Held {
  readonly fencingToken: number;
  throwIfLost(): void;
  close(): Promise<void>;
}

/**
 * The loop every queue recipe shares: acquire, then a few rounds of (check, act, wait), then
 * release; `lost` is recorded when a check fails.
 */
async function holdLoop(
  ctx: SimContext,
  proc: SimProcess,
  prefix: string,
  acquire: (session: Session) => { op: string; args: Record<string, unknown>; take: () => Promise<Held> },
  act?: (p: string, held: Held) => Promise<void>,
  checks = true,
  releaseOp = `${prefix}.release`,
): Promise<void> {
  const p = `${proc.name}/${prefix}`;
  const own = sessions(ctx, proc);
  while (!ctx.stop.aborted) {
    try {
      const { op, args, take } = acquire(await own.live());
      const name = args.name;
      const held = await ctx.step(p, op, args, take, (h) => ({ token: h.fencingToken }));
      let lost = false;
      // Mostly short holdings (more handovers), some longer than a ttl (a holder cut off from
      // the store while it acts).
      const rounds = ctx.rnd() < 0.7 ? 2 : 4 + Math.floor(ctx.rnd() * 8);
      for (let i = 0; i < rounds && !lost; i++) {
        if (checks) {
          try {
            held.throwIfLost();
            ctx.observe(p, `${prefix}.check`, { name });
          } catch {
            ctx.observe(p, `${prefix}.lost`, { name });
            lost = true;
            break;
          }
        }
        if (act) await act(p, held);
        await ctx.sleep(proc.clock, ctx.rnd() * (rounds > 2 ? ctx.ttlMs / 5 : 50));
      }
      if (!lost)
        await ctx
          .step(
            p,
            releaseOp,
            { name },
            () => held.close(),
            () => undefined,
          )
          .catch(() => undefined);
      else await held.close().catch(() => undefined);
    } catch {
      await ctx.sleep(proc.clock, 10);
    }
  }
  await own.close();
}

const mutex: Scenario = {
  run: (ctx, proc) =>
    holdLoop(
      ctx,
      proc,
      'lock',
      (session) => ({
        op: 'lock.acquire',
        args: { name: 'm' },
        take: () => new Mutex(session, 'm').lock({ signal: ctx.stop }),
      }),
      (p, held) => fencedWrite(ctx, proc, p, 'm', held.fencingToken),
      ctx.variant !== 'unchecked-client',
    ),
  check: (h, ttlMs) => checkLocks(h, { ttlMs }),
};

const semaphore: Scenario = {
  run: (ctx, proc) =>
    holdLoop(ctx, proc, 'semaphore', (session) => ({
      op: 'semaphore.acquire',
      args: { name: 's', permits: 2 },
      take: () => new Semaphore(session, 's', 2).acquire({ signal: ctx.stop }),
    })),
  check: (h, ttlMs) => checkSemaphores(h, { ttlMs }),
};

const rwlock: Scenario = {
  run: (ctx, proc) =>
    holdLoop(ctx, proc, 'rwlock', (session) => {
      const rw = new RWLock(session, 'rw');
      return ctx.rnd() < 0.6
        ? { op: 'rwlock.read', args: { name: 'rw' }, take: () => rw.readLock({ signal: ctx.stop }) }
        : { op: 'rwlock.write', args: { name: 'rw' }, take: () => rw.writeLock({ signal: ctx.stop }) };
    }),
  check: (h, ttlMs) => checkRWLocks(h, { ttlMs }),
};

const election: Scenario = {
  run: (ctx, proc) =>
    ctx.variant === 'uncompared-election'
      ? uncomparedElection(ctx, proc)
      : holdLoop(
          ctx,
          proc,
          'election',
          (session) => ({
            op: 'election.campaign',
            args: { name: 'e' },
            take: async () => {
              const l = await new Election(session, 'e').campaign(proc.name, { signal: ctx.stop });
              return { fencingToken: l.term, throwIfLost: () => l.throwIfLost(), close: () => l.close() };
            },
          }),
          undefined,
          true,
          'election.resign',
        ),
  check: (h, ttlMs) => checkElections(h, { ttlMs }),
};

/** The `uncompared-election` double in the same loop: its leadership lasts while its session does. */
function uncomparedElection(ctx: SimContext, proc: SimProcess): Promise<void> {
  return holdLoop(
    ctx,
    proc,
    'election',
    (session) => ({
      op: 'election.campaign',
      args: { name: 'e' },
      take: async () => {
        const e = new UncomparedElection(session.store, 'e');
        const term = await e.campaign(proc.name, session.lease, proc.clock, ctx.stop);
        return {
          fencingToken: term,
          throwIfLost: () => session.throwIfDead(),
          close: () => e.resign(proc.name),
        };
      },
    }),
    undefined,
    true,
    'election.resign',
  );
}

/** Records a session's life: `session.open` → {lease}, and `session.lost` when its signal fires. */
function track(ctx: SimContext, p: string, lease: LeaseId, signal: AbortSignal) {
  ctx.watchLease(lease);
  const lost = () => ctx.observe(p, 'session.lost', { lease });
  if (signal.aborted) lost();
  else signal.addEventListener('abort', lost, { once: true });
}

const session: Scenario = {
  async run(ctx, proc) {
    const p = `${proc.name}/session`;
    while (!ctx.stop.aborted) {
      try {
        const s =
          ctx.variant === 'no-deadline-session'
            ? await ctx.step(
                p,
                'session.open',
                {},
                () => NoDeadlineSession.create(proc.store, ctx.ttlMs, proc.clock),
                (v) => ({ lease: v.lease }),
              )
            : await ctx.step(
                p,
                'session.open',
                {},
                () => Session.create(proc.store, { ttlMs: ctx.ttlMs, clock: proc.clock }),
                (v) => ({ lease: v.lease }),
              );
        track(ctx, p, s.lease, s.signal);
        // Hold it for up to three ttls, or until it is lost; then close it.
        const until = proc.clock.now() + ctx.rnd() * 3 * ctx.ttlMs;
        while (!s.signal.aborted && !ctx.stop.aborted && proc.clock.now() < until)
          await ctx.sleep(proc.clock, 20 + ctx.rnd() * 40);
        await s.close().catch(() => undefined);
      } catch {
        await ctx.sleep(proc.clock, 10);
      }
    }
  },
  check: (h, ttlMs) => checkSessions(h, { ttlMs }),
};

/** Opens the process's view of the group, retrying while the store is unreachable. */
async function openMembership(ctx: SimContext, proc: SimProcess): Promise<Membership | undefined> {
  while (!ctx.stop.aborted) {
    try {
      return await Membership.open(proc.store, 'g', { clock: proc.clock });
    } catch {
      await ctx.sleep(proc.clock, 10);
    }
  }
  return undefined;
}

/** Joins the group with a fresh session: `session.open` {id} → {lease}, tracked until lost. */
async function join(ctx: SimContext, proc: SimProcess, membership: Membership, p: string) {
  const s = await Session.create(proc.store, { ttlMs: ctx.ttlMs, clock: proc.clock });
  try {
    const member = await ctx.step(
      p,
      'session.open',
      { id: proc.name },
      () => membership.join(s, { id: proc.name }),
      () => ({ lease: s.lease }),
    );
    track(ctx, p, s.lease, member.signal);
    return { session: s, member };
  } catch (err) {
    await s.close().catch(() => undefined);
    throw err;
  }
}

async function leave(s: { session: Session; member: Member } | undefined) {
  await s?.member.close().catch(() => undefined);
  await s?.session.close().catch(() => undefined);
}

const membership: Scenario = {
  // The group's property: a member's signal fires before the store drops it from the group.
  async run(ctx, proc) {
    const p = `${proc.name}/member`;
    const group = await openMembership(ctx, proc);
    while (group !== undefined && !ctx.stop.aborted) {
      let joined: Awaited<ReturnType<typeof join>> | undefined;
      try {
        joined = await join(ctx, proc, group, p);
        const until = proc.clock.now() + ctx.rnd() * 3 * ctx.ttlMs;
        while (!joined.member.signal.aborted && !ctx.stop.aborted && proc.clock.now() < until)
          await ctx.sleep(proc.clock, 20 + ctx.rnd() * 40);
      } catch {
        await ctx.sleep(proc.clock, 10);
      }
      await leave(joined);
    }
    await group?.close().catch(() => undefined);
  },
  check: (h, ttlMs) => checkSessions(h, { ttlMs }),
};

const SLOTS = 8;

const shards: Scenario = {
  async run(ctx, proc) {
    const p = `${proc.name}/shards`;
    const group = await openMembership(ctx, proc);
    while (group !== undefined && !ctx.stop.aborted) {
      let joined: Awaited<ReturnType<typeof join>> | undefined;
      let manager: ShardManager | undefined;
      try {
        joined = await join(ctx, proc, group, `${proc.name}/member`);
        const s = joined.session;
        const held = new Set<number>();
        const lose = (slot: number) => {
          if (held.delete(slot)) ctx.observe(p, 'shard.lost', { slot });
        };
        if (ctx.variant !== 'table-from-view')
          manager = await ShardManager.start(group, joined.member, {
            slotCount: SLOTS,
            settleMs: 20,
            maxSettleMs: 100,
            drainTimeoutMs: 20,
            acquired: (slot, token, signal) => {
              ctx.emit({ type: 'invoke', process: p, op: 'shard.acquire', args: { slot } });
              ctx.emit({ type: 'ok', process: p, op: 'shard.acquire', result: { token } });
              held.add(slot);
              signal.addEventListener('abort', () => lose(slot), { once: true });
            },
          });
        // Check the slots before acting on them, every few tens of milliseconds, for up to four ttls.
        const until = proc.clock.now() + ctx.rnd() * 4 * ctx.ttlMs;
        while (!ctx.stop.aborted && proc.clock.now() < until && s.alive) {
          if (manager === undefined) {
            // The double: own what this member's own table says, no claim, no previous table.
            const mine = new Set(slotsFromView(group, proc.name, SLOTS));
            for (const slot of held) if (!mine.has(slot)) ctx.observe(p, 'shard.release', { slot });
            for (const slot of [...held]) if (!mine.has(slot)) held.delete(slot);
            for (const slot of mine)
              if (!held.has(slot)) {
                held.add(slot);
                ctx.emit({ type: 'invoke', process: p, op: 'shard.acquire', args: { slot } });
                ctx.emit({ type: 'ok', process: p, op: 'shard.acquire', result: { token: group.revision } });
              }
          }
          for (const slot of held) {
            const signal = manager?.signalOf(slot);
            if (s.alive && (manager === undefined || (signal !== undefined && !signal.aborted)))
              ctx.observe(p, 'shard.check', { slot });
            else lose(slot);
          }
          await ctx.sleep(proc.clock, 10 + ctx.rnd() * 20);
        }
        for (const slot of [...held]) lose(slot);
      } catch {
        await ctx.sleep(proc.clock, 10);
      }
      await manager?.close().catch(() => undefined);
      await leave(joined);
    }
    await group?.close().catch(() => undefined);
  },
  check: (h, ttlMs) => checkShards(h, { ttlMs }),
};

/** The scenario of each recipe. */
export const SCENARIOS: Readonly<Record<SimulationRecipe, Scenario>> = Object.freeze({
  mutex,
  election,
  semaphore,
  rwlock,
  session,
  membership,
  shards,
});
