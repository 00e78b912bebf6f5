/**
 * Faults on a real PostgreSQL server while a fenced workload runs, each with a negative control:
 * a failover to a replica that lost the last commits (fencing tokens still rise), SIGKILL of the
 * postmaster and a restart (no acknowledged write lost, clients recover), and a process stopped
 * inside a transaction (the server ends it within idle_in_transaction_session_timeout).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FencedCounter } from '../../examples/fenced-counter.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { codeOf } from '../helpers/async.js';
import {
  PG_PASSWORD,
  PG_USER,
  PostgresServer,
  type PostgresServerOptions,
} from '../helpers/postgres-server.js';
import { startNode, type Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const worker = fileURLToPath(new URL('../fixtures/recipe-worker.mjs', import.meta.url));
const holdLock = fileURLToPath(new URL('./hold-lock.mjs', import.meta.url));
const servers: PostgresServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

async function server(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const s = await PostgresServer.start(options);
  servers.push(s);
  return s;
}

const open = (
  s: PostgresServer,
  database: string,
  extra: Partial<Parameters<typeof PostgresStore.open>[0]> = {},
) => PostgresStore.open({ port: s.port, user: PG_USER, password: PG_PASSWORD, database, ...extra });

/** Takes and releases the lock `n` times; returns the fencing tokens. */
async function lockTimes(store: PostgresStore, n: number): Promise<number[]> {
  const session = await Session.create(store, { ttlMs: 2000 });
  const tokens: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const lock = await new Mutex(session, 'resource').lock({ timeoutMs: 10_000 });
      tokens.push(lock.fencingToken);
      await lock.unlock();
    }
  } finally {
    await session.close().catch(() => undefined);
  }
  return tokens;
}

describe('failover to an asynchronous replica that lost the last commits', () => {
  /**
   * Primary and replica in sync; the replica stops (so it misses what follows); the primary
   * hands out more tokens, then dies; the replica comes back and is promoted (a new timeline).
   * `forgetIdentity` plays a tenure without the identity check: the new server's identity is
   * written into the store before its first write.
   */
  async function failover(forgetIdentity: boolean) {
    const primary = await server();
    const database = await primary.createDatabase('failover');
    const a = await open(primary, database);
    const before = await lockTimes(a, 3);
    const replica = await server({ replicaOf: primary });
    // The replica has replayed everything so far.
    const lsn = (await primary.sql<{ l: string }>(database, 'SELECT pg_current_wal_lsn()::text AS l'))[0]!.l;
    for (let i = 0; ; i++) {
      const rows = await replica.sql<{ ok: boolean }>(
        database,
        'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok',
        [lsn],
      );
      if (rows[0]!.ok) break;
      if (i > 200) throw new Error('the replica did not catch up');
      await new Promise((r) => setTimeout(r, 50));
    }
    await replica.kill('SIGKILL');
    const lost = await lockTimes(a, 5); // acknowledged by the primary, never seen by the replica
    await a.close();
    await primary.kill('SIGKILL');
    await replica.restart();
    await replica.promote();
    if (forgetIdentity) {
      const ident = await replica.sql<{ s: string; t: string }>(
        database,
        'SELECT system_id AS s, timeline AS t FROM tenure.server_identity()',
      );
      await replica.sql(database, 'UPDATE tenure.state SET system_id = $1, timeline = $2', [
        ident[0]!.s,
        ident[0]!.t,
      ]);
    }
    const b = await open(replica, database);
    const after = await lockTimes(b, 3);
    await b.close();
    return { before, lost, after };
  }

  it('the next fencing token is above every token the old primary handed out', async () => {
    const { before, lost, after } = await failover(false);
    const all = [...before, ...lost, ...after];
    expect(all).toEqual([...all].sort((x, y) => x - y));
    expect(new Set(all).size).toBe(all.length);
    expect(after[0]!).toBeGreaterThan(Math.max(...lost));
  });

  it('negative control: without the identity check, the promoted replica hands out the lost tokens again', async () => {
    const { lost, after } = await failover(true);
    expect(after[0]!).toBeLessThanOrEqual(Math.max(...lost));
    expect(lost).toContain(after[0]!);
  });
});

describe('SIGKILL of the postmaster while a fenced workload runs', () => {
  it('no acknowledged write is lost, tokens only rise, clients get typed errors and finish; negative control: an older copy of the data is caught', async () => {
    const pgServer = await server();
    const database = await pgServer.createDatabase('crash');
    const url = pgServer.url(database, 'requestTimeoutMs=2000&connectTimeoutMs=1000');
    const t = tempDir();
    const counterPath = join(t.dir, 'counter.db');
    new FencedCounter(counterPath).close();
    const acked: string[] = [];
    const store = await open(pgServer, database, { requestTimeoutMs: 2000, connectTimeoutMs: 1000 });
    const procs: Child[] = Array.from({ length: 3 }, (_, i) =>
      startNode(worker, [url, 'loop', `w${i}`, '1000', counterPath, '1', '25']),
    );
    try {
      await Promise.all(procs.map((p) => p.waitFor((l) => l.includes('"write"'))));
      for (let i = 0; i < 20; i++) {
        await store.put(`acked/${i}`, 'v');
        acked.push(`acked/${i}`);
      }
      const revisionBefore = await store.revision();
      await pgServer.kill('SIGKILL');
      const t0 = performance.now();
      expect(await codeOf(store.put('during', 'v'))).toBe('TENURE_UNAVAILABLE');
      expect(performance.now() - t0).toBeLessThan(3000);
      await new Promise((r) => setTimeout(r, 500));
      await pgServer.restart();
      expect(await Promise.all(procs.map((p) => p.exited)), procs.map((p) => p.stderr()).join('\n')).toEqual([
        0, 0, 0,
      ]);
      for (const key of acked) expect(await store.get(key), key).toBeDefined();
      expect(await store.revision()).toBeGreaterThanOrEqual(revisionBefore);
      const counter = new FencedCounter(counterPath);
      const writes = counter.writes().filter((w) => w.accepted);
      expect(counter.read()).toBe(writes.length); // no lost update
      expect(writes.length).toBe(75);
      const tokens = writes.map((w) => w.token);
      expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
      expect(new Set(tokens).size).toBe(tokens.length);
      counter.close();
      const errors = procs
        .flatMap((p) => p.lines.map((l) => JSON.parse(l) as { event: string; code?: string }))
        .filter((e) => e.event === 'error');
      for (const e of errors) expect(e.code).toMatch(/^TENURE_/);

      // Negative control: a copy of the data taken now, more acknowledged writes, then the copy
      // restored in place (same system identifier and timeline): the check finds the writes
      // gone, and the client that saw them is told its store went back.
      await pgServer.kill('SIGKILL');
      const copy = join(pgServer.dir, 'copy');
      execFileSync('cp', ['-a', pgServer.dataDir, copy]);
      await pgServer.restart();
      for (let i = 0; i < 5; i++)
        await store.put(`after-copy/${i}`, 'v').catch(() => store.put(`after-copy/${i}`, 'v'));
      await pgServer.kill('SIGKILL');
      execFileSync('rm', ['-rf', pgServer.dataDir]);
      execFileSync('mv', [copy, pgServer.dataDir]);
      await pgServer.restart();
      const check = await open(pgServer, database);
      expect(await check.get('after-copy/0')).toBeUndefined(); // the check would report this write lost
      await check.close();
      let code: string | undefined;
      for (let i = 0; i < 5 && code !== 'TENURE_STORE_REPLACED'; i++)
        code = await codeOf(store.get('acked/0'));
      expect(code).toBe('TENURE_STORE_REPLACED');
    } finally {
      for (const p of procs) p.proc.kill('SIGKILL');
      await store.close();
      t.cleanup();
    }
  });
});

describe('a process stopped inside a transaction', () => {
  async function stoppedHolder(idleMs: number) {
    const s = await server();
    const database = await s.createDatabase('frozen');
    const store = await open(s, database, { requestTimeoutMs: 3000 });
    await store.put('before', 'v');
    const holder = startNode(holdLock, [
      '127.0.0.1',
      String(s.port),
      PG_USER,
      PG_PASSWORD,
      database,
      String(idleMs),
    ]);
    try {
      await holder.waitFor((l) => l.includes('"locked"'));
      holder.proc.kill('SIGSTOP');
      const t0 = performance.now();
      let code: string | undefined;
      try {
        await store.put('during', 'v');
      } catch (err) {
        code = (err as { code?: string }).code;
      }
      return { waitedMs: performance.now() - t0, code };
    } finally {
      holder.proc.kill('SIGKILL');
      await store.close();
    }
  }

  it("with tenure's idle_in_transaction_session_timeout the server ends it, and the others go on within the timeout", async () => {
    const r = await stoppedHolder(1000);
    expect(r.code).toBeUndefined();
    expect(r.waitedMs).toBeGreaterThanOrEqual(500);
    expect(r.waitedMs).toBeLessThan(2500);
  });

  it('negative control: without the timeout the stopped process holds the store until the call gives up', async () => {
    const r = await stoppedHolder(0);
    expect(r.code).toBe('TENURE_UNAVAILABLE');
    expect(r.waitedMs).toBeGreaterThanOrEqual(2900);
  });
});
