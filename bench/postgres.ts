/**
 * PostgreSQL benchmarks, on one PostgreSQL 15 server started here (loopback, fsync off), with the
 * peers a Node user would pick instead measured side by side in the same run:
 * - the driver choice: a single-row UPDATE round trip (autocommit, and BEGIN/UPDATE/COMMIT)
 *   through `pg` (node-postgres) and `postgres` (postgres.js);
 * - the floor (a single-row UPDATE through pg), a Mutex lock + unlock on an existing session,
 *   two tenure puts, the `advisory-lock` package's lock + unlock, and two raw UPDATEs;
 * - watch delivery (a put by one store to the watch of another);
 * - contended handoff with 100 waiters: latency, and watch reads per release (the server's own
 *   count of calls of the change-log function);
 * - crash failover: a leader process SIGKILLed, to the next leader;
 * - 1,000 sessions held by one process: keepalives, server CPU, connections.
 */
import advisoryLock from 'advisory-lock';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import postgres from 'postgres';
import { Election } from '../src/recipes/coordination/election.js';
import { Mutex } from '../src/recipes/coordination/mutex.js';
import { Session } from '../src/recipes/coordination/session.js';
import { PostgresStore } from '../src/store/postgres/index.js';
import { PG_PASSWORD, PG_USER, PostgresServer } from '../test/helpers/postgres-server.js';
import { startNode } from '../test/helpers/processes.js';
import { percentile, table, writeResults } from './report.js';

const r2 = (x: number) => Number(x.toFixed(3));
const p50 = (xs: number[]) => r2(percentile(xs, 50));
const p99 = (xs: number[]) => r2(percentile(xs, 99));

/** Times several bodies in rotation, so drift in load hits all alike. */
async function timeAll(n: number, bodies: ((i: number) => Promise<unknown>)[]): Promise<number[][]> {
  const out = bodies.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < bodies.length; k++) {
      const j = (i + k) % bodies.length;
      const t0 = performance.now();
      await bodies[j]!(i);
      out[j]!.push(performance.now() - t0);
    }
  }
  return out;
}

/** CPU ticks (user + system) of the server's processes: the postmaster and its children. */
function serverTicks(postmaster: number): number {
  let sum = 0;
  const pids = [postmaster];
  try {
    const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim();
    if (children !== '') pids.push(...children.split(/\s+/).map(Number));
  } catch {
    // not Linux: counted as zero
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      sum += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }
  return sum;
}

export async function run(): Promise<void> {
  const server = await PostgresServer.start({ settings: { track_functions: 'pl' } });
  try {
    const database = await server.createDatabase('bench');
    const config = server.config(database);
    const open = (extra = {}) =>
      PostgresStore.open({ port: server.port, user: PG_USER, password: PG_PASSWORD, database, ...extra });

    // Driver choice and floor.
    const client = new pg.Client(config);
    await client.connect();
    await client.query('CREATE TABLE floor (id int PRIMARY KEY, n bigint NOT NULL)');
    await client.query('INSERT INTO floor VALUES (1, 0), (2, 0)');
    const sql = postgres({
      host: '127.0.0.1',
      port: server.port,
      username: PG_USER,
      password: PG_PASSWORD,
      database,
      max: 1,
    });
    const update = { name: 'floor', text: 'UPDATE floor SET n = n + 1 WHERE id = $1', values: [1] };
    const N = 2000;
    const [pgAuto, pgTxn, jsAuto, jsTxn] = await timeAll(N, [
      () => client.query(update),
      async () => {
        await client.query('BEGIN');
        await client.query(update);
        await client.query('COMMIT');
      },
      () => sql`UPDATE floor SET n = n + 1 WHERE id = ${1}`,
      () => sql.begin((t) => t`UPDATE floor SET n = n + 1 WHERE id = ${1}`),
    ]);
    console.log(
      `driver: pg ${p50(pgAuto!)} / ${p50(pgTxn!)} ms, postgres.js ${p50(jsAuto!)} / ${p50(jsTxn!)} ms`,
    );

    // Lock + unlock against two puts, advisory-lock, two raw UPDATEs.
    const store = await open();
    const session = await Session.create(store, { ttlMs: 10_000 });
    const mutex = new Mutex(session, 'bench-uncontended');
    // A CommonJS module: its default export is `module.exports.default`.
    const advisory = advisoryLock.default(server.url(database))('bench-advisory');
    const M = 1000;
    const [lockUnlock, twoPuts, advisoryCycle, twoUpdates] = await timeAll(M, [
      async () => {
        const lock = await mutex.lock();
        await lock.unlock();
      },
      async (i) => {
        await store.put('bench/put', String(i));
        await store.put('bench/put', String(i + 1));
      },
      async () => {
        const release = await advisory.lock();
        await release();
      },
      async () => {
        await client.query(update);
        await client.query({ ...update, values: [2] });
      },
    ]);
    const lockVsPuts = r2(p50(lockUnlock!) / p50(twoPuts!));
    console.log(
      `lock+unlock ${p50(lockUnlock!)} ms, two puts ${p50(twoPuts!)} ms (${lockVsPuts}×), advisory-lock ${p50(advisoryCycle!)} ms, two UPDATEs ${p50(twoUpdates!)} ms`,
    );

    // Watch delivery: a put by one store, seen by the watch of another.
    const watcher = await open();
    const watchMs: number[] = [];
    {
      const abort = new AbortController();
      const it = watcher.watch('bench/watch', { signal: abort.signal })[Symbol.asyncIterator]();
      const first = it.next();
      await new Promise((r) => setTimeout(r, 200)); // the listener is up
      let pending = first;
      for (let i = 0; i < 300; i++) {
        const t0 = performance.now();
        await store.put('bench/watch', String(i));
        await pending;
        watchMs.push(performance.now() - t0);
        pending = it.next();
        await new Promise((r) => setTimeout(r, 2));
      }
      abort.abort();
      await pending.catch(() => undefined);
    }
    console.log(
      `watch delivery p50 ${p50(watchMs)} ms (put and delivery; a put alone ${p50(twoPuts!) / 2} ms)`,
    );

    // Contended handoff, 100 waiters, one process: latency per release, watch reads per release.
    const waiters = 100;
    const sessions = await Promise.all(
      Array.from({ length: waiters }, () => Session.create(store, { ttlMs: 10_000 })),
    );
    const first = await new Mutex(session, 'bench-queue').lock();
    const held: number[] = [];
    let release = first;
    const queued = sessions.map((s) =>
      new Mutex(s, 'bench-queue').lock().then((lock) => {
        held.push(performance.now());
        return lock;
      }),
    );
    await new Promise((r) => setTimeout(r, 1500)); // every waiter queued and watching
    const calls = async () =>
      Number(
        (
          await client.query<{ n: string }>(
            "SELECT coalesce(sum(calls), 0) AS n FROM pg_stat_user_functions WHERE funcname = 'changes'",
          )
        ).rows[0]!.n,
      );
    await client.query('SELECT pg_stat_clear_snapshot()');
    const readsBefore = await calls();
    const handoffMs: number[] = [];
    const byOrder = [...queued];
    for (let i = 0; i < waiters; i++) {
      const t0 = performance.now();
      await release.unlock();
      const next = await Promise.race(byOrder.map((p, k) => p.then((l) => [l, k] as const)));
      handoffMs.push(held[held.length - 1]! - t0);
      byOrder.splice(next[1], 1);
      release = next[0];
    }
    await release.unlock();
    await new Promise((r) => setTimeout(r, 1500)); // a backend reports its statistics at most once a second
    await client.query('SELECT pg_stat_clear_snapshot()');
    const readsPerRelease = r2(((await calls()) - readsBefore) / waiters);
    console.log(`100-waiter handoff p50 ${p50(handoffMs)} ms, watch reads per release ${readsPerRelease}`);
    for (const s of sessions) await s.close();

    // Crash failover: a leader process SIGKILLed; the next leader here.
    const ttlMs = 1000;
    const reapIntervalMs = 100;
    const failoverMs: number[] = [];
    const url = server.url(database);
    const workerPath = fileURLToPath(new URL('../../test/fixtures/recipe-worker.mjs', import.meta.url));
    for (let round = 0; round < 3; round++) {
      const leader = startNode(workerPath, [url, 'elect', `crash-${round}`, String(ttlMs), '/dev/null']);
      await leader.waitFor((l) => l.includes('"leader"'));
      const follower = await Session.create(store, { ttlMs });
      const campaign = new Election(follower, 'fleet').campaign(`follower-${round}`);
      await new Promise((r) => setTimeout(r, 300));
      const killedAt = performance.now();
      leader.proc.kill('SIGKILL');
      const leadership = await campaign;
      failoverMs.push(performance.now() - killedAt);
      await leadership.resign();
      await follower.close();
    }
    const failoverBound = 1.1 * ttlMs + reapIntervalMs;
    console.log(`crash failover p50 ${p50(failoverMs)} ms (bound ${failoverBound} ms)`);

    // 1,000 sessions in one process.
    const many = await open();
    const t0 = performance.now();
    const held1000 = await Promise.all(
      Array.from({ length: 1000 }, () => Session.create(many, { ttlMs: 10_000 })),
    );
    const createMs = performance.now() - t0;
    const stats = async () =>
      (
        await client.query<{ upd: string }>(
          "SELECT n_tup_upd AS upd FROM pg_stat_user_tables WHERE relname = 'lease' AND schemaname = 'tenure'",
        )
      ).rows[0]!.upd;
    await new Promise((r) => setTimeout(r, 1500)); // statistics reported
    await client.query('SELECT pg_stat_clear_snapshot()');
    const upd0 = Number(await stats());
    const ticks0 = serverTicks(server.pid!);
    const cpu0 = process.cpuUsage();
    const windowMs = 20_000;
    await new Promise((r) => setTimeout(r, windowMs));
    const cpu = process.cpuUsage(cpu0);
    const ticks = serverTicks(server.pid!) - ticks0;
    await new Promise((r) => setTimeout(r, 1500)); // statistics reported
    await client.query('SELECT pg_stat_clear_snapshot()');
    const keepalivesPerSec = r2((Number(await stats()) - upd0) / (windowMs / 1000));
    const connections = Number(
      (
        await client.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'tenure'",
        )
      ).rows[0]!.n,
    );
    const serverCpuPct = r2((ticks / 100 / (windowMs / 1000)) * 100);
    const clientCpuPct = r2(((cpu.user + cpu.system) / 1000 / windowMs) * 100);
    console.log(
      `1,000 sessions: ${keepalivesPerSec} keepalives/s, server CPU ${serverCpuPct}%, this process ${clientCpuPct}%, ${connections} connections`,
    );
    for (const s of held1000) await s.close();
    await many.close();

    await session.close();
    await store.close();
    await watcher.close();
    await client.end();
    await sql.end();

    const results = {
      driver: {
        pgAutocommitP50Ms: p50(pgAuto!),
        pgTransactionP50Ms: p50(pgTxn!),
        postgresJsAutocommitP50Ms: p50(jsAuto!),
        postgresJsTransactionP50Ms: p50(jsTxn!),
      },
      floorUpdateP50Ms: p50(pgAuto!),
      lockUnlock: { p50Ms: p50(lockUnlock!), p99Ms: p99(lockUnlock!) },
      twoPuts: { p50Ms: p50(twoPuts!), p99Ms: p99(twoPuts!) },
      advisoryLock: { p50Ms: p50(advisoryCycle!), p99Ms: p99(advisoryCycle!) },
      twoUpdates: { p50Ms: p50(twoUpdates!), p99Ms: p99(twoUpdates!) },
      lockVsTwoPuts: lockVsPuts,
      watchDelivery: { p50Ms: p50(watchMs), p99Ms: p99(watchMs) },
      handoff100: { p50Ms: p50(handoffMs), p99Ms: p99(handoffMs), watchReadsPerRelease: readsPerRelease },
      crashFailover: { ttlMs, reapIntervalMs, samplesMs: failoverMs.map(r2), boundMs: failoverBound },
      sessions1000: { createMs: r2(createMs), keepalivesPerSec, serverCpuPct, clientCpuPct, connections },
    };
    const markdown = [
      '## PostgreSQL',
      '',
      'One PostgreSQL 15 server on loopback (fsync off), started by the benchmark; every row measured in the same run, in rotation. `npm run bench postgres`.',
      '',
      table(
        ['measure', 'p50 (ms)', 'p99 (ms)', 'note'],
        [
          [
            'floor: single-row UPDATE, pg (node-postgres)',
            p50(pgAuto!),
            p99(pgAuto!),
            'the same driver tenure uses',
          ],
          ['single-row UPDATE, postgres.js', p50(jsAuto!), p99(jsAuto!), 'the other maintained driver'],
          ['BEGIN/UPDATE/COMMIT, pg', p50(pgTxn!), p99(pgTxn!), ''],
          ['BEGIN/UPDATE/COMMIT, postgres.js', p50(jsTxn!), p99(jsTxn!), ''],
          [
            'Mutex lock + unlock (existing session)',
            p50(lockUnlock!),
            p99(lockUnlock!),
            `${lockVsPuts}× two tenure puts (target ≤ 1.3×)`,
          ],
          ['two tenure puts', p50(twoPuts!), p99(twoPuts!), ''],
          [
            '`advisory-lock` lock + unlock',
            p50(advisoryCycle!),
            p99(advisoryCycle!),
            'no fencing token, tied to one connection',
          ],
          ['two raw UPDATEs', p50(twoUpdates!), p99(twoUpdates!), ''],
          [
            'watch delivery (put to another store’s watch)',
            p50(watchMs),
            p99(watchMs),
            'includes the put (target p50 ≤ 2 ms)',
          ],
          [
            'contended handoff, 100 waiters',
            p50(handoffMs),
            p99(handoffMs),
            `${readsPerRelease} watch reads per release`,
          ],
        ],
      ),
      '',
      table(
        ['crash failover (ttl 1 s, reaper 100 ms)', 'value'],
        [
          ['leader SIGKILLed to next leader (ms)', failoverMs.map((x) => Math.round(x)).join(', ')],
          ['bound 1.1 × ttl + reaper interval (ms)', failoverBound],
        ],
      ),
      '',
      table(
        ['1,000 sessions (ttl 10 s) in one process', 'value'],
        [
          ['created in (ms)', Math.round(createMs)],
          ['keepalives per second (lease row updates)', keepalivesPerSec],
          ['server CPU (% of one core)', serverCpuPct],
          ['this process CPU (% of one core)', clientCpuPct],
          ['server connections used', connections],
        ],
      ),
    ].join('\n');
    writeResults('postgres', results, markdown);
  } finally {
    await server.stop();
  }
}
