/**
 * Models against measurement: the failover model (tenure/models) beside real failovers, and the
 * placement model beside tenure's hashing implementations.
 * - SQLite: leader processes on one file (test/fixtures/recipe-worker.mjs), the leader killed with
 *   SIGKILL at random points of its keepalive cycle, or stopped with SIGTERM (it closes its
 *   session: a graceful stop). Failover runs from the signal to the next leader's campaign
 *   resolving, as that process reports it (host clock).
 * - etcd (3-member loopback cluster): the leader's store closes without revoking (its keepalives
 *   stop and the lease runs out), in process, like bench/etcd.ts.
 * - placement: peak/average load of 100,000 keys and keys moved by one added member, measured on
 *   each algorithm and predicted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  BoundedLoadRing,
  HashRing,
  JumpHash,
  KetamaRing,
  Maglev,
  MementoHash,
  Rendezvous,
  SlotTable,
  type ConsistentHash,
} from '../src/hashing/index.js';
import {
  failoverTime,
  placementModel,
  type FailoverInput,
  type PlacementAlgorithm,
} from '../src/models/index.js';
import { Election } from '../src/recipes/coordination/election.js';
import { Session } from '../src/recipes/coordination/session.js';
import { EtcdStore } from '../src/store/etcd/index.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import { EtcdCluster } from '../test/helpers/etcd-cluster.js';
import { benchDir, percentile, table, writeResults } from './report.js';

const r1 = (x: number) => Number(x.toFixed(1));
const r3 = (x: number) => Number(x.toFixed(3));
const now = () => performance.timeOrigin + performance.now();
const worker = join(benchDir, '..', 'test', 'fixtures', 'recipe-worker.mjs');

interface Worker {
  proc: ChildProcess;
  lines: string[];
}

function startWorker(args: string[], env: Record<string, string>): Worker {
  const proc = spawn(process.execPath, [worker, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
  return { proc, lines };
}

async function until(
  check: () => boolean,
  workers: readonly Worker[] = [],
  timeoutMs = 60_000,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) {
      const exits = workers.map((w) => w.proc.exitCode ?? w.proc.signalCode ?? 'running').join(', ');
      throw new Error(`failover workers did not answer within ${timeoutMs} ms (workers: ${exits})`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Candidates kept alive during the SQLite runs (a stopped or dead one is replaced). */
const SQLITE_CANDIDATES = 3;

/**
 * SQLite failovers across processes: SQLITE_CANDIDATES candidates at a time, a fresh one started
 * for each that is stopped (or that dies: on a loaded machine a starved candidate can lose its
 * session), so that the fleet stays small and its own polling does not load the machine.
 */
async function sqliteFailovers(dir: string, signal: 'SIGKILL' | 'SIGTERM', ttlMs: number, rounds: number) {
  const path = join(dir, `${signal}.db`);
  new SqliteStore({ path }).close();
  const env: Record<string, string> = signal === 'SIGTERM' ? { TENURE_TEST_GRACEFUL: '1' } : {};
  // A graceful stop does not wait for the ttl, so its candidates get a long one: a short ttl can
  // expire a starved candidate's session, which is not what is measured.
  const workerTtlMs = signal === 'SIGTERM' ? 5 * ttlMs : ttlMs;
  const workers: Worker[] = [];
  const alive = () => workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
  const topUp = async () => {
    while (alive().length < SQLITE_CANDIDATES)
      workers.push(
        startWorker(
          [`sqlite://${path}`, 'elect', `w${workers.length}`, String(workerTtlMs), join(dir, 'unused.db')],
          env,
        ),
      );
    await until(() => alive().every((w) => w.lines.some((l) => l.includes('"session"'))), workers);
  };
  type Line = { event: string; at: number; term?: number };
  const leaderLines = () =>
    workers.flatMap((w) =>
      w.lines
        .map((l) => JSON.parse(l) as Line)
        .filter((e) => e.event === 'leader')
        .map((e) => ({ w, ...e })),
    );
  const out: number[] = [];
  /** Graceful stops: from the signal to the stopped leader's revoke committing (its 'closed'). */
  const revokes: number[] = [];
  try {
    await topUp();
    await until(() => leaderLines().length > 0, workers);
    while (out.length < rounds) {
      await topUp();
      const current = leaderLines().sort((a, b) => b.term! - a.term!)[0]!;
      await new Promise((r) => setTimeout(r, ttlMs / 2 + Math.random() * (ttlMs / 3)));
      // A leader replaced without our doing (its session starved) is not measured: next round.
      if (leaderLines().some((e) => e.term! > current.term!) || alive().length < SQLITE_CANDIDATES) continue;
      const stoppedAt = now();
      current.w.proc.kill(signal);
      await until(() => leaderLines().some((e) => e.term! > current.term!), workers);
      const next = leaderLines()
        .filter((e) => e.term! > current.term!)
        .sort((a, b) => a.term! - b.term!)[0]!;
      out.push(next.at - stoppedAt);
      if (signal === 'SIGTERM') {
        await until(() => current.w.lines.some((l) => l.includes('"closed"')), workers);
        const closed = JSON.parse(current.w.lines.find((l) => l.includes('"closed"'))!) as Line;
        revokes.push(closed.at - stoppedAt);
      }
    }
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL');
  }
  // The stopped leader's lease is reaped by the candidates left: every open store checks on its tick.
  return { samples: out, revokes, processes: SQLITE_CANDIDATES - 1, started: workers.length };
}

/** etcd: the leader's store closes without revoking; the candidate waits in this process. */
async function etcdFailovers(ttlMs: number, rounds: number): Promise<number[]> {
  const cluster = await EtcdCluster.start();
  const out: number[] = [];
  try {
    const candidateStore = new EtcdStore({ endpoints: cluster.endpoints });
    const candidate = await Session.create(candidateStore, { ttlMs });
    for (let i = 0; i < rounds; i++) {
      const crashing = new EtcdStore({ endpoints: cluster.endpoints });
      const doomed = await Session.create(crashing, { ttlMs });
      await new Election(doomed, 'models-failover').campaign('a');
      const next = new Election(candidate, 'models-failover').campaign('b');
      await new Promise((r) => setTimeout(r, ttlMs / 2 + Math.random() * (ttlMs / 3)));
      const t0 = performance.now();
      await crashing.close();
      const lead = await next;
      out.push(performance.now() - t0);
      await lead.resign();
    }
    await candidate.close();
    await candidateStore.close();
  } finally {
    await cluster.stop();
  }
  return out;
}

function predictedRow(label: string, input: FailoverInput, measured: number[]) {
  const p = failoverTime(input);
  const m50 = percentile(measured, 50);
  const m99 = percentile(measured, 99);
  const inside = (x: number) => x >= p.minMs && x <= p.maxMs;
  return {
    label,
    runs: measured.length,
    measuredMeanMs: r1(measured.reduce((a, b) => a + b, 0) / measured.length),
    predictedMeanMs: r1(p.meanMs),
    measuredP50Ms: r1(m50),
    measuredP99Ms: r1(m99),
    predictedMinMs: r1(p.minMs),
    predictedP50Ms: r1(p.p50Ms),
    predictedP99Ms: r1(p.p99Ms),
    predictedMaxMs: r1(p.maxMs),
    inside: inside(m50) && inside(m99),
    input: p.input,
  };
}

function build(algorithm: PlacementAlgorithm, nodes: string[]): ConsistentHash {
  switch (algorithm) {
    case 'ring':
      return new HashRing(nodes);
    case 'ketama':
      return new KetamaRing(nodes);
    case 'bounded':
      return new BoundedLoadRing(nodes);
    case 'rendezvous':
      return new Rendezvous(nodes);
    case 'jump':
      return new JumpHash(nodes);
    case 'memento':
      return new MementoHash(nodes);
    case 'maglev':
      return new Maglev(nodes);
    case 'slots':
      return new SlotTable(nodes);
  }
}

function placement(members: number, keys: number, trials: number) {
  const rows = [];
  for (const algorithm of ['ring', 'ketama', 'rendezvous', 'jump', 'memento', 'maglev', 'slots'] as const) {
    let peak = 0;
    let moved = 0;
    for (let t = 0; t < trials; t++) {
      const nodes = Array.from({ length: members }, (_, i) => `bench-${t}-node-${i}`);
      const h = build(algorithm, nodes);
      const ks = Array.from({ length: keys }, (_, i) => `bench:${t}:${i}`);
      const owners = ks.map((k) => h.lookup(k));
      const load = new Map<string, number>();
      for (const o of owners) load.set(o, (load.get(o) ?? 0) + 1);
      let max = 0;
      for (const v of load.values()) max = Math.max(max, v);
      peak += max / (keys / members) / trials;
      h.add(`bench-${t}-added`);
      moved += ks.filter((k, i) => h.lookup(k) !== owners[i]).length / keys / trials;
    }
    const p = placementModel({ algorithm, members, keys });
    rows.push({
      algorithm,
      members,
      measuredPeakToAverage: r3(peak),
      predictedPeakToAverage: r3(p.peakToAverage),
      measuredMovedOnAdd: r3(moved),
      predictedMovedOnAdd: r3(p.movedOnAdd),
      movementIsLowerBound: p.movementIsLowerBound,
    });
  }
  return rows;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tenure-bench-models-'));
  const loadAtStart = loadavg()[0]!;
  try {
    const ttlMs = 1000;
    const kill = await sqliteFailovers(dir, 'SIGKILL', ttlMs, 20);
    console.log('sqlite SIGKILL', kill.samples.map(r1).join(' '));
    const term = await sqliteFailovers(dir, 'SIGTERM', ttlMs, 40);
    console.log('sqlite SIGTERM', term.samples.map(r1).join(' '));
    console.log('sqlite SIGTERM revoke', term.revokes.map(r1).join(' '));
    const revoke = { min: Math.min(...term.revokes), max: Math.max(...term.revokes) };
    const etcdTtlMs = 2000;
    let etcd: number[] = [];
    try {
      etcd = await etcdFailovers(etcdTtlMs, 10);
      console.log('etcd close without revoke', etcd.map(r1).join(' '));
    } catch (err) {
      console.log(`etcd failovers skipped: ${(err as Error).message}`);
    }
    const failovers = [
      predictedRow(
        'SQLite, SIGKILL, ttl 1 s (one expiry checker)',
        { stop: 'sigkill', store: 'sqlite', ttlMs },
        kill.samples,
      ),
      predictedRow(
        `SQLite, SIGKILL, ttl 1 s (${kill.processes} processes checking)`,
        { stop: 'sigkill', store: 'sqlite', ttlMs, expiryCheckers: kill.processes },
        kill.samples,
      ),
      predictedRow(
        `SQLite, SIGTERM (graceful), revoke ${r1(revoke.min)}–${r1(revoke.max)} ms (measured)`,
        { stop: 'graceful', store: 'sqlite', ttlMs, revokeMs: revoke.min, revokeMaxMs: revoke.max },
        term.samples,
      ),
      ...(etcd.length > 0
        ? [
            predictedRow(
              'etcd 3 members, crash, ttl 2 s',
              { stop: 'sigkill', store: 'etcd', ttlMs: etcdTtlMs },
              etcd,
            ),
          ]
        : []),
    ];
    const places = [...placement(10, 100_000, 5), ...placement(100, 100_000, 3)];
    const load = { start: r1(loadAtStart), end: r1(loadavg()[0]!) };
    const results = {
      loadAverage: load,
      failovers: failovers.map((f) => ({ ...f, samplesMs: undefined })),
      samplesMs: {
        sqliteSigkill: kill.samples.map(r1),
        sqliteSigterm: term.samples.map(r1),
        sqliteSigtermRevoke: term.revokes.map(r1),
        etcdCrash: etcd.map(r1),
      },
      placement: places,
    };
    console.log(JSON.stringify(results, null, 2));
    writeResults(
      'models',
      results,
      `## Models\n\n\`node dist/bench/run.js models\`, on a shared 2-core machine (1-minute load average ${load.start} at the start, ${load.end} at the end: failover times include the scheduling delays of a loaded machine). Each model of \`tenure/models\` (docs/models.md) beside what it predicts, measured in the same run. Failover runs from the stop (the signal sent, or the store closed) to the next leader's campaign resolving; SQLite candidates are separate processes (host clock), ${SQLITE_CANDIDATES} at a time, one started for each stopped (${kill.started} started for the SIGKILL runs: those that lost their session on their own were replaced and not measured); etcd's candidate is in this process. "inside" means the measured p50 and p99 both lie in the model's [min, max]. The model with one expiry checker is the conservative bound; every open SQLite store reaps expired leases on its own tick, so with ${kill.processes} processes the expiry comes sooner. A graceful stop's model counts the revoke, the watch delivery and the settle only; its revoke time is measured in the same runs (the stopping process reports when its revoke committed) and the row takes it between the shortest and the longest seen. Its watch delivery is the SQLite profile's 0–25 ms (the poll bound); a WAL notification usually arrives within a few ms, so measured failovers sit in the lower part of the range. Its earlier tail beyond the range (p99 63 ms on a quiet machine) was a missed change notification: a candidate that looked at the WAL file's write before the commit showed in \`data_version\` waited for the next 100 ms check; SQLite stores now look again 1 ms later (docs/models.md). The time a loaded machine takes to schedule the candidate is not in the model. Graceful stop before that fix: 5.5 / 63.1 ms (p50 / p99, 10 runs, load 0.4); after it, with a constant 5 ms revoke assumed, 4.6 / 28.1 ms (40 runs, load 1.5–3.5): the p50 fell 0.4 ms below that model's 5 ms minimum, since the revoke took 2–6 ms, hence the measured revoke now.\n\n` +
        table(
          [
            'failover',
            'runs',
            'measured mean / predicted',
            'measured p50 / p99',
            'predicted p50 / p99',
            'predicted range',
            'inside',
          ],
          failovers.map((f) => [
            f.label,
            f.runs,
            `${f.measuredMeanMs} / ${f.predictedMeanMs} ms`,
            `${f.measuredP50Ms} / ${f.measuredP99Ms} ms`,
            `${f.predictedP50Ms} / ${f.predictedP99Ms} ms`,
            `${f.predictedMinMs} .. ${f.predictedMaxMs} ms`,
            f.inside ? 'yes' : 'no',
          ]),
        ) +
        `\n\nPlacement: 100,000 keys, equal weights, mean over independent member sets (5 at 10 members, 3 at 100); moved = keys whose owner changed when one member was added (Maglev: the model gives the minimum).\n\n` +
        table(
          [
            'algorithm',
            'members',
            'peak/average measured',
            'predicted',
            'moved on add measured',
            'predicted',
          ],
          places.map((p) => [
            p.algorithm,
            p.members,
            p.measuredPeakToAverage,
            p.predictedPeakToAverage,
            p.measuredMovedOnAdd,
            `${p.movementIsLowerBound ? '≥ ' : ''}${p.predictedMovedOnAdd}`,
          ]),
        ) +
        `\n\nThe availability, detection and contention models are checked in test/models/ (against Monte Carlo, tenure's own detectors, and Mutex waits on a ManualClock), not timed here.`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
