/**
 * etcd benchmarks, on one 3-member loopback cluster started here, with the peer a Node user would
 * pick instead (the `etcd3` package) measured side by side in the same run:
 * - a raw put (ours and etcd3's),
 * - an uncontended lock + unlock cycle: etcd3's `lock().acquire()` + `release()` (it grants and
 *   revokes a lease per lock), a lock written directly on the Store contract under an existing
 *   lease (a put-if-absent transaction + a delete: the two-write floor), and the Mutex recipe,
 * - contended handoff (unlock to the next holder's wakeup) and election handover after resign,
 * - watch delivery latency (ours and etcd3's),
 * - 1,000 sessions kept alive by one process for a minute: keepalive messages and bytes (from the
 *   members' own metrics) and this process's CPU.
 */
import { Etcd3 } from 'etcd3';
import { Election } from '../src/recipes/coordination/election.js';
import { Mutex } from '../src/recipes/coordination/mutex.js';
import { Session } from '../src/recipes/coordination/session.js';
import { EtcdStore } from '../src/store/etcd/index.js';
import { EtcdCluster } from '../test/helpers/etcd-cluster.js';
import { percentile, table, writeResults } from './report.js';

const r2 = (x: number) => Number(x.toFixed(2));
const p50 = (xs: number[]) => r2(percentile(xs, 50));
const p99 = (xs: number[]) => r2(percentile(xs, 99));

/** Times two bodies in alternation (which goes first alternates too), so drift in load hits both alike. */
async function timeBoth(
  n: number,
  a: (i: number) => Promise<void>,
  b: (i: number) => Promise<void>,
): Promise<[number[], number[]]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const which of i % 2 === 0 ? ['a', 'b'] : ['b', 'a']) {
      const t0 = performance.now();
      await (which === 'a' ? a(i) : b(i));
      (which === 'a' ? ta : tb).push(performance.now() - t0);
    }
  }
  return [ta, tb];
}

/** Sums a counter of every member's metrics whose line matches `pattern`. */
async function counter(cluster: EtcdCluster, pattern: RegExp): Promise<number> {
  let sum = 0;
  for (let i = 0; i < cluster.size; i++) {
    const text = (await cluster.metrics(i)) ?? '';
    for (const line of text.split('\n')) if (pattern.test(line)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

async function watchLatency(
  put: (i: number) => Promise<unknown>,
  arm: (onEvent: () => void) => Promise<() => Promise<void>>,
  n: number,
): Promise<number[]> {
  const out: number[] = [];
  let resolve: (() => void) | undefined;
  const stop = await arm(() => resolve?.());
  for (let i = 0; i < n; i++) {
    const arrived = new Promise<void>((r) => (resolve = r));
    const t0 = performance.now();
    await Promise.all([put(i), arrived]);
    out.push(performance.now() - t0);
  }
  await stop();
  return out;
}

export async function run(): Promise<void> {
  const cluster = await EtcdCluster.start();
  const ours = new EtcdStore({ endpoints: cluster.endpoints });
  const watcherStore = new EtcdStore({ endpoints: cluster.endpoints });
  const peer = new Etcd3({ hosts: cluster.endpoints.map((e) => `http://${e}`) });
  try {
    // Warm both clients' connections.
    for (let i = 0; i < 50; i++) {
      await ours.put('warm', String(i));
      await peer.put('warm').value(String(i));
    }
    const N = 300;
    const [putOurs, putPeer] = await timeBoth(
      N,
      (i) => ours.put('bench/put', String(i)).then(() => undefined),
      (i) =>
        peer
          .put('bench/put-peer')
          .value(String(i))
          .then(() => undefined),
    );
    console.log(`put p50: ours ${p50(putOurs)} ms, etcd3 ${p50(putPeer)} ms`);

    const L = 150;
    const session = await Session.create(ours, { ttlMs: 10_000 });
    const [peerLock, contractLock] = await timeBoth(
      L,
      async () => {
        const lock = peer.lock('bench/peer-lock');
        await lock.acquire();
        await lock.release();
      },
      async () => {
        const res = await ours.txn({
          compare: [{ key: 'bench/raw-lock', target: 'createRevision', op: '=', value: 0 }],
          success: [{ type: 'put', key: 'bench/raw-lock', value: 'me', lease: session.lease }],
        });
        if (!res.succeeded) throw new Error('raw lock was taken');
        await ours.delete('bench/raw-lock');
      },
    );
    const mutex = new Mutex(session, 'bench-uncontended');
    // The Mutex recipe against etcd3's lock, alternated the same way.
    const [peerLock2, mutexLock] = await timeBoth(
      L,
      async () => {
        const lock = peer.lock('bench/peer-lock');
        await lock.acquire();
        await lock.release();
      },
      async () => {
        const lock = await mutex.lock();
        await lock.close();
      },
    );
    peerLock.push(...peerLock2);
    console.log(
      `lock+unlock p50: etcd3 ${p50(peerLock)} ms, contract txn ${p50(contractLock)} ms, Mutex ${p50(mutexLock)} ms`,
    );

    // Contended handoff: B waits while A holds; measure A's unlock start to B holding.
    const sessionB = await Session.create(ours, { ttlMs: 10_000 });
    const H = 60;
    const handoff: number[] = [];
    for (let i = 0; i < H; i++) {
      const a = await new Mutex(session, 'bench-handoff').lock();
      // Timed when B holds, not when A's unlock returns: the release reaches B before A's reply.
      const waiting = new Mutex(sessionB, 'bench-handoff')
        .lock()
        .then((lock) => ({ lock, at: performance.now() }));
      await new Promise((r) => setTimeout(r, 5));
      const t0 = performance.now();
      await a.close();
      const b = await waiting;
      handoff.push(b.at - t0);
      await b.lock.close();
    }
    // Election handover after a graceful resign.
    const handover: number[] = [];
    for (let i = 0; i < 40; i++) {
      const leader = await new Election(session, 'bench-election').campaign('a');
      const next = new Election(sessionB, 'bench-election')
        .campaign('b')
        .then((l) => ({ l, at: performance.now() }));
      await new Promise((r) => setTimeout(r, 5));
      const t0 = performance.now();
      await leader.close();
      const b = await next;
      handover.push(b.at - t0);
      await b.l.close();
    }
    console.log(`handoff p50 ${p50(handoff)} ms, election handover p50 ${p50(handover)} ms`);

    // Crash failover: the leader's process stops (its store closes without revoking, so its
    // heartbeats stop and the lease runs out); measured to the next candidate leading, over ttl.
    // 5 s, not etcd's 2 s minimum: etcd's lessor looks for expired leases every 500 ms, which is
    // up to 25% of a 2 s ttl but 10% of a 5 s one.
    const failoverTtlMs = 5000;
    const failover: number[] = [];
    for (let i = 0; i < 4; i++) {
      const crashing = new EtcdStore({ endpoints: cluster.endpoints });
      const doomed = await Session.create(crashing, { ttlMs: failoverTtlMs });
      await new Election(doomed, 'bench-failover').campaign('a');
      const next = new Election(sessionB, 'bench-failover').campaign('b');
      // Crash at a random point of the heartbeat interval.
      await new Promise((r) => setTimeout(r, 100 + Math.random() * (failoverTtlMs / 3)));
      const t0 = performance.now();
      await crashing.close();
      const b = await next;
      failover.push(performance.now() - t0);
      await b.close();
    }
    console.log(`crash failover p50 ${p50(failover)} ms (ttl ${failoverTtlMs} ms)`);

    const W = 200;
    const watchOurs = await watchLatency(
      (i) => ours.put('bench/watch', String(i)),
      async (onEvent) => {
        const ac = new AbortController();
        const it = watcherStore.watch('bench/watch', { signal: ac.signal });
        const loop = (async () => {
          try {
            for await (const _ of it) onEvent();
          } catch {
            /* aborted */
          }
        })();
        await new Promise((r) => setTimeout(r, 100));
        return async () => {
          ac.abort();
          await loop;
        };
      },
      W,
    );
    const watchPeer = await watchLatency(
      (i) => peer.put('bench/watch-peer').value(String(i)).exec(),
      async (onEvent) => {
        const watcher = await peer.watch().key('bench/watch-peer').create();
        watcher.on('put', onEvent);
        return () => watcher.cancel();
      },
      W,
    );
    console.log(`watch delivery p50: ours ${p50(watchOurs)} ms, etcd3 ${p50(watchPeer)} ms`);

    // 1,000 sessions for a minute.
    const S = 1000;
    const holdMs = 60_000;
    const ttlMs = 10_000;
    const sessions: Session[] = [];
    for (let i = 0; i < S; i += 50)
      sessions.push(
        ...(await Promise.all(Array.from({ length: 50 }, () => Session.create(ours, { ttlMs })))),
      );
    const kaPattern = /^grpc_server_msg_received_total\{.*grpc_method="LeaseKeepAlive"/;
    const rxPattern = /^etcd_network_client_grpc_received_bytes_total/;
    const txPattern = /^etcd_network_client_grpc_sent_bytes_total/;
    const counters = () =>
      Promise.all([counter(cluster, kaPattern), counter(cluster, rxPattern), counter(cluster, txPattern)]);
    const [ka0, rx0, tx0] = await counters();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, holdMs));
    const cpu = process.cpuUsage(cpu0);
    const elapsed = performance.now() - t0;
    const [ka1, rx1, tx1] = await counters();
    const alive = sessions.filter((s) => s.status === 'alive').length;
    for (const s of sessions) await s.close();
    const sessionsResult = {
      sessions: S,
      ttlMs,
      seconds: r2(elapsed / 1000),
      alive,
      keepAlivesPerSecond: r2(((ka1 - ka0) * 1000) / elapsed),
      bytesToEtcdPerSecond: r2(((rx1 - rx0) * 1000) / elapsed),
      bytesFromEtcdPerSecond: r2(((tx1 - tx0) * 1000) / elapsed),
      cpuPercentOfOneCore: r2(((cpu.user + cpu.system) / 1000 / elapsed) * 100),
    };
    console.log('1000 sessions:', sessionsResult);

    const twoPuts = 2 * p50(putOurs);
    const results = {
      putP50Ms: { ours: p50(putOurs), etcd3: p50(putPeer), ours_p99: p99(putOurs), etcd3_p99: p99(putPeer) },
      lockUnlockP50Ms: {
        etcd3: p50(peerLock),
        contractTxn: p50(contractLock),
        mutex: p50(mutexLock),
        twoRawPuts: r2(twoPuts),
        mutexVsTwoPuts: r2(p50(mutexLock) / twoPuts),
        contractVsTwoPuts: r2(p50(contractLock) / twoPuts),
        etcd3VsMutex: r2(p50(peerLock) / p50(mutexLock)),
        etcd3VsContract: r2(p50(peerLock) / p50(contractLock)),
      },
      handoffP50Ms: p50(handoff),
      handoffVsWatch: r2(p50(handoff) / p50(watchOurs)),
      electionHandoverP50Ms: p50(handover),
      crashFailover: {
        ttlMs: failoverTtlMs,
        samplesMs: failover.map(r2),
        maxVsTtl: r2(Math.max(...failover) / failoverTtlMs),
      },
      watchDeliveryP50Ms: { ours: p50(watchOurs), etcd3: p50(watchPeer) },
      sessions: sessionsResult,
    };
    const md = [
      '### etcd (3-member loopback cluster, etcd 3.4)',
      '',
      table(
        ['measure', 'tenure', 'etcd3 1.1.2', 'ratio'],
        [
          [
            'put p50 (ms)',
            p50(putOurs),
            p50(putPeer),
            `${r2(p50(putPeer) / p50(putOurs))}× (etcd3 / tenure)`,
          ],
          [
            'lock+unlock p50, Mutex recipe (ms)',
            p50(mutexLock),
            p50(peerLock),
            `${results.lockUnlockP50Ms.etcd3VsMutex}× faster; ${results.lockUnlockP50Ms.mutexVsTwoPuts}× two puts`,
          ],
          [
            'lock+unlock p50, contract txn under a session lease (ms)',
            p50(contractLock),
            p50(peerLock),
            `${results.lockUnlockP50Ms.etcd3VsContract}× faster; ${results.lockUnlockP50Ms.contractVsTwoPuts}× two puts`,
          ],
          [
            'watch delivery p50 (ms)',
            p50(watchOurs),
            p50(watchPeer),
            `${r2(p50(watchPeer) / p50(watchOurs))}× (etcd3 / tenure)`,
          ],
          ['contended handoff p50 (ms)', p50(handoff), '', `${results.handoffVsWatch}× one watch delivery`],
          ['election handover after resign p50 (ms)', p50(handover), '', ''],
          [
            `election crash failover, worst of ${failover.length} (ms)`,
            r2(Math.max(...failover)),
            '',
            `${r2(Math.max(...failover) / failoverTtlMs)}× the ${failoverTtlMs} ms ttl`,
          ],
        ],
      ),
      '',
      "Watch delivery runs from the start of a put by one client to the event reaching another client's watch (the put's commit included). " +
        "Contended handoff runs from the start of the holder's unlock to the waiter holding the lock: the delete's commit and its delivery; " +
        "the waiter next in line follows the queue's ordered watch stream, so it holds without a read. Election handover is the same, from the start of resign().",
      '',
      `1,000 sessions (ttl ${ttlMs / 1000} s) held by one process for ${sessionsResult.seconds} s: ${alive} alive at the end, ` +
        `${sessionsResult.keepAlivesPerSecond} keepalives/s, ${sessionsResult.bytesToEtcdPerSecond} B/s to etcd and ` +
        `${sessionsResult.bytesFromEtcdPerSecond} B/s back (all client gRPC traffic, from the members' metrics), ` +
        `${sessionsResult.cpuPercentOfOneCore}% of one core in this process.`,
    ].join('\n');
    writeResults('etcd', results, md);
    console.log(md);
  } finally {
    peer.close();
    await ours.close();
    await watcherStore.close();
    await cluster.stop();
  }
}
