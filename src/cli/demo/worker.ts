/**
 * One worker of `tenure demo`, a real OS process. It joins the fleet (a member key under its
 * session), campaigns for leadership (the leader keeps the slot map), and loops: take the lock,
 * read the fenced counter, work a little, write the counter plus one, unlock.
 *
 * It does not check that it still holds the lock before writing: such a check is always too
 * late for a pause that falls just after it. The fenced counter alone must keep the count exact.
 *
 * It reports what it does as JSON lines on stdout, for the orchestrator. SIGTERM ends it
 * gracefully: closing the session releases its leadership, lock and membership at once.
 */
import { isTenureError } from '../../errors.js';
import { Election } from '../../recipes/election.js';
import { Mutex } from '../../recipes/mutex.js';
import { PREFIX } from '../../recipes/names.js';
import { Session } from '../../recipes/session.js';
import { openStore } from '../../store/open.js';
import type { Store } from '../../store/types.js';
import { SLOT_MAP_PREFIX } from '../../dashboard/fleet-view.js';
import { FencedCounter } from './fenced-counter.js';
import { DEMO_ELECTION, DEMO_GROUP, DEMO_LOCK } from './names.js';
import { DEMO_SLOT_COUNT, idealMoves, moduloMoves, reassign, type StoredSlotMap } from './slots.js';

/** The worker's configuration, passed as JSON in argv[2]. */
export interface WorkerConfig {
  readonly id: string;
  readonly store: string;
  readonly counterPath: string;
  readonly ttlMs: number;
  /** Time between reading and writing the counter while holding the lock. */
  readonly holdMs: number;
}

export const SLOT_MAP_KEY = `${SLOT_MAP_PREFIX}${DEMO_GROUP}`;
const MEMBERS = `${PREFIX.members}${DEMO_GROUP}/`;

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const report = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ worker: config.id, t: performance.now(), ...event })}\n`);
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

const stopping = new AbortController();
let current: Session | undefined;
process.once('SIGTERM', () => {
  stopping.abort();
  void current?.close();
});

const counter = new FencedCounter(config.counterPath);
const store = await openStore(config.store);

async function lockLoop(session: Session): Promise<void> {
  const mutex = new Mutex(session, DEMO_LOCK, { owner: config.id });
  while (!session.signal.aborted) {
    const lock = await mutex.lock({ signal: session.signal });
    const token = lock.fencingToken;
    report({ ev: 'lock', token });
    const read = counter.read(token);
    report({ ev: 'read', token, value: read.value, accepted: read.accepted });
    if (read.accepted) {
      await sleep(config.holdMs);
      const write = counter.write(token, read.value + 1, config.id);
      report({ ev: 'write', token, value: read.value + 1, accepted: write.accepted, highest: write.highest });
    }
    await lock.unlock();
    await sleep(10 + Math.random() * 40, session.signal);
  }
}

async function leadLoop(session: Session): Promise<void> {
  const election = new Election(session, DEMO_ELECTION);
  while (!session.signal.aborted) {
    const leadership = await election.campaign(config.id, { signal: session.signal });
    report({ ev: 'leader', term: leadership.term });
    const signal = leadership.signal;
    // Keep the slot map current while leading: reassign on every change of membership.
    while (!signal.aborted) {
      const read = await store.range(MEMBERS);
      const members = read.kvs.map((kv) => kv.key.slice(MEMBERS.length));
      await publishSlots(session.store, leadership.key, leadership.term, members);
      try {
        for await (const _ of store.watch(MEMBERS, { prefix: true, fromRevision: read.revision + 1, signal }))
          break;
      } catch (err) {
        if (!signal.aborted && !isTenureError(err, 'TENURE_COMPACTED')) throw err;
      }
    }
    report({ ev: 'leader-end', term: leadership.term, status: leadership.status });
    await leadership.resign();
  }
}

async function publishSlots(store: Store, leaderKey: string, term: number, members: string[]): Promise<void> {
  if (members.length === 0) return;
  const kv = await store.get(SLOT_MAP_KEY);
  const previous = kv ? (JSON.parse(Buffer.from(kv.value).toString()) as StoredSlotMap) : undefined;
  const owners = reassign(members, previous);
  const before = previous?.owners ?? [];
  if (before.length === owners.length && before.every((o, i) => o === owners[i])) return;
  // Fenced by the term: only a leader whose candidate key still stands can publish.
  const res = await store.txn({
    compare: [{ key: leaderKey, target: 'createRevision', op: '=', value: term }],
    success: [{ type: 'put', key: SLOT_MAP_KEY, value: JSON.stringify({ epoch: term, owners }) }],
  });
  if (!res.succeeded || before.length !== DEMO_SLOT_COUNT) return;
  report({
    ev: 'slots',
    term,
    members: [...members].sort(),
    moved: owners.filter((o, i) => o !== before[i]).length,
    ideal: idealMoves(before, members),
    modulo: moduloMoves([...new Set(before)], members, DEMO_SLOT_COUNT),
  });
}

while (!stopping.signal.aborted) {
  let session: Session;
  try {
    session = current = await Session.create(store, { ttlMs: config.ttlMs });
  } catch (err) {
    report({ ev: 'error', message: String(err) });
    await sleep(200);
    continue;
  }
  report({ ev: 'session', lease: session.lease });
  try {
    await store.put(`${MEMBERS}${config.id}`, JSON.stringify({ pid: process.pid }), { lease: session.lease });
    // When one loop fails for another reason than the session's end, end the session: the
    // other loop then stops, and the worker starts over with a new session.
    await Promise.all(
      [lockLoop(session), leadLoop(session)].map((loop) =>
        loop.catch((err: unknown) => {
          if (!session.signal.aborted) report({ ev: 'error', message: String(err) });
          void session.close();
        }),
      ),
    );
  } catch (err) {
    if (!session.signal.aborted) report({ ev: 'error', message: String(err) });
  }
  await session.close();
  if (!stopping.signal.aborted) report({ ev: 'session-lost', lease: session.lease });
}
report({ ev: 'stopped' });
counter.close();
await store.close();
process.exit(0);
