/**
 * One worker of `tenure demo`, a real OS process. Under one session it:
 * - joins the Membership of the demo's group (id = its name, metadata: its heartbeat address on
 *   127.0.0.1 and weight 1), runs a HeartbeatMesh with the other members and publishes the mesh's
 *   phi per peer for the dashboard;
 * - runs a ShardManager over the demo's slots: it takes each slot it is given at the per-slot
 *   fenced resource with the slot's token, and writes every owned slot every 100 ms;
 * - campaigns for leadership (the leader, a member like the others, is what the first fault kills);
 * - loops on the lock: take it, read the fenced counter, work a little, write it plus one, unlock.
 *
 * It does not check that it still holds the lock before writing the counter: such a check is
 * always too late for a pause that falls just after it. The fenced counter alone must keep the
 * count exact. Slot writes do check the slot's signal and the session's deadline first (as a real
 * owner would), and the resource still refuses a write that a pause made stale.
 *
 * It reports what it does as JSON lines on stdout, for the orchestrator: the typed events of
 * protocol.ts, which the orchestrator validates on receipt. The `stop` command (SIGTERM) ends it
 * gracefully: the ShardManager hands its slots over and leaves, then the session closes, which
 * releases leadership and the lock at once.
 */
import { createSocket } from 'node:dgram';
import { publishSuspicion } from '../../recipes/fleet/suspicion.js';
import { PhiAccrualDetector } from '../../detect/phi-accrual.js';
import { isTenureError } from '../../errors.js';
import { Election } from '../../recipes/coordination/election.js';
import { HeartbeatMesh } from '../../recipes/fleet/heartbeat-mesh.js';
import { Membership, type Member } from '../../recipes/fleet/membership.js';
import { Mutex } from '../../recipes/coordination/mutex.js';
import { Session } from '../../recipes/coordination/session.js';
import { ShardManager } from '../../recipes/fleet/shards.js';
import { openStore } from '../../store/open.js';
import { unlessBusy, WORKER_BUSY_TIMEOUT_MS } from './busy.js';
import { FencedCounter } from './fenced-counter.js';
import { FencedSlots, type SlotWrite } from './fenced-slots.js';
import { DEMO_ELECTION, DEMO_GROUP, DEMO_LOCK } from './names.js';
import { COMMAND_SIGNALS, formatWorkerMessage, parseWorkerConfig, type WorkerEvent } from './protocol.js';
import { DEMO_SLOT_COUNT } from './slots.js';
import { sleep } from '../../sleep.js';

/** How often an owner writes each of its slots to the fenced resource. */
const SLOT_WRITE_MS = 100;

const config = parseWorkerConfig(process.argv[2]);
const report = (event: WorkerEvent) =>
  process.stdout.write(formatWorkerMessage(config.id, performance.now(), event));

const stopping = new AbortController();
let current: { session: Session; shards?: ShardManager } | undefined;
process.once(COMMAND_SIGNALS.stop, () => {
  stopping.abort();
  // Slots first, so the others take them over within a plan; then the session (leadership, lock).
  void (async () => {
    await current?.shards?.close().catch(() => undefined);
    await current?.session.close();
  })();
});

const counter = new FencedCounter(config.counterPath, { busyTimeoutMs: WORKER_BUSY_TIMEOUT_MS });
const slots = new FencedSlots(config.slotsPath, { busyTimeoutMs: WORKER_BUSY_TIMEOUT_MS });
// Set by main() before anything uses them (the published build is CommonJS: no top-level await).
let membership: Membership;
let heartbeatPort: number;

/** A UDP port free on 127.0.0.1 now, kept for this process's life (reused after a rejoin). */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function lockLoop(session: Session): Promise<void> {
  const mutex = new Mutex(session, DEMO_LOCK, { owner: config.id });
  while (!session.signal.aborted) {
    const lock = await mutex.lock({ signal: session.signal });
    const token = lock.fencingToken;
    report({ ev: 'lock', token });
    const read = unlessBusy(() => counter.read(token));
    if (read !== undefined) report({ ev: 'read', token, value: read.value, accepted: read.accepted });
    if (read?.accepted) {
      await sleep(config.holdMs);
      // Retried while the counter is busy, whatever became of the lock meanwhile: fencing
      // alone decides whether a late write counts.
      let write = unlessBusy(() => counter.write(token, read.value + 1, config.id));
      for (let i = 0; write === undefined && i < 100; i++) {
        await sleep(20);
        write = unlessBusy(() => counter.write(token, read.value + 1, config.id));
      }
      if (write !== undefined)
        report({
          ev: 'write',
          token,
          value: read.value + 1,
          accepted: write.accepted,
          highest: write.highest,
        });
    }
    await lock.close();
    await sleep(10 + Math.random() * 40, { signal: session.signal });
  }
}

async function leadLoop(session: Session): Promise<void> {
  const election = new Election(session, DEMO_ELECTION);
  while (!session.signal.aborted) {
    const leadership = await election.campaign(config.id, { signal: session.signal });
    report({ ev: 'leader', term: leadership.term });
    await new Promise<void>((resolve) =>
      leadership.signal.aborted
        ? resolve()
        : leadership.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    report({ ev: 'leader-end', term: leadership.term, status: leadership.status });
    await leadership.close();
  }
}

/** Joins the group, retrying while this id's previous key awaits its lease's expiry. */
async function join(session: Session): Promise<Member> {
  for (;;) {
    try {
      return await membership.join(session, {
        id: config.id,
        address: `127.0.0.1:${heartbeatPort}`,
        weight: 1,
      });
    } catch (err) {
      if (!isTenureError(err, 'TENURE_MEMBER_EXISTS') || session.signal.aborted) throw err;
      await sleep(100, { signal: session.signal });
    }
  }
}

/** Owns slots under `member` until its session ends: fenced takes, then periodic fenced writes. */
async function startShards(member: Member): Promise<ShardManager> {
  const session = member.session;
  // taken: the resource has recorded this owner's take (retried on each tick while it is busy);
  // a slot is written only after its take.
  const owned = new Map<number, { token: number; signal: AbortSignal; taken: boolean }>();
  const take = (slot: number, o: { token: number; taken: boolean }): boolean => {
    const result = unlessBusy(() => slots.take(slot, o.token, config.id));
    if (result === undefined) return false;
    if (!result.accepted) report({ ev: 'slot-take-refused', slot, token: o.token, highest: result.highest });
    o.taken = true;
    return true;
  };
  const shards = await ShardManager.start(membership, member, {
    slotCount: DEMO_SLOT_COUNT,
    acquired: (slot, token, signal) => {
      const o = { token, signal, taken: false };
      owned.set(slot, o);
      take(slot, o);
    },
    released: (slot) => {
      owned.delete(slot);
    },
  });
  shards.on('storeError', () => undefined);
  shards.on('callbackError', (err, slot) => report({ ev: 'error', message: `slot ${slot}: ${String(err)}` }));
  const stillOwner = (slot: number) => {
    const o = owned.get(slot);
    return o !== undefined && !o.signal.aborted && session.alive;
  };
  const timer = setInterval(() => {
    // Check, then write, with no await in between: a release aborts the slot's signal
    // synchronously, and session.alive reads the lease deadline on the monotonic clock.
    const batch: SlotWrite[] = [];
    for (const [slot, o] of owned) {
      if (o.signal.aborted || !session.alive) continue;
      if (!o.taken && !take(slot, o)) return; // the resource is busy: try again next tick
      batch.push({ slot, token: o.token });
    }
    if (batch.length === 0) return;
    const results = unlessBusy(() => slots.write(batch, config.id, stillOwner));
    const accepted = results?.filter((r) => r.accepted).length ?? 0;
    if (accepted > 0) report({ ev: 'slot-writes', count: accepted });
    results?.forEach((r, i) => {
      if (!r.accepted)
        report({
          ev: 'slot-write',
          slot: batch[i]!.slot,
          token: batch[i]!.token,
          accepted: false,
          highest: r.highest,
        });
    });
  }, SLOT_WRITE_MS);
  shards.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  return shards;
}

/** Opens the store and the group, then runs one session after another until `stop`. */
async function main(): Promise<void> {
  const store = await openStore(config.store);
  membership = await Membership.open(store, DEMO_GROUP);
  membership.on('watchError', () => undefined);
  heartbeatPort = await freeUdpPort();
  while (!stopping.signal.aborted) {
    let session: Session;
    try {
      session = await Session.create(store, { ttlMs: config.ttlMs });
      current = { session };
    } catch (err) {
      report({ ev: 'error', message: String(err) });
      await sleep(200);
      continue;
    }
    report({ ev: 'session', lease: session.lease });
    session.on('keepalive', (ms) => report({ ev: 'keepalive', ms: Math.round(ms * 1000) / 1000 }));
    let mesh: HeartbeatMesh | undefined;
    try {
      const member = await join(session);
      report({ ev: 'member', address: member.info.address ?? '' });
      mesh = await HeartbeatMesh.start(membership, member, {
        intervalMs: config.heartbeatMs,
        // Tuned to suspect a silent peer within the demo's one-second ttl: 3 heartbeats of
        // acceptable pause and half Akka's minimum deviation, so phi passes 8 about 0.6 s after the
        // last heartbeat. Advisory only: ownership still moves on lease expiry.
        detector: () =>
          new PhiAccrualDetector({
            firstHeartbeatEstimateMs: config.heartbeatMs,
            acceptableHeartbeatPauseMs: 3 * config.heartbeatMs,
            minStdDeviationMs: 50,
          }),
      });
      mesh.on('socketError', () => undefined);
      mesh.on('suspect', (peer, phi) => report({ ev: 'suspect', peer, phi }));
      mesh.on('recover', (peer, phi) => report({ ev: 'recover', peer, phi }));
      // Four times a ttl: the dashboard sees phi rise in the second before a lease expires.
      publishSuspicion(session, mesh, { group: DEMO_GROUP, id: config.id, intervalMs: 250 });
      current.shards = await startShards(member);
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
    await current.shards?.close().catch(() => undefined);
    await mesh?.close();
    await session.close();
    if (!stopping.signal.aborted) report({ ev: 'session-lost', lease: session.lease });
  }
  report({ ev: 'stopped' });
  await membership.close();
  counter.close();
  slots.close();
  await store.close();
  process.exit(0);
}

void main();
