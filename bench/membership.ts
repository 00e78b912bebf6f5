/**
 * Membership, shards and the heartbeat mesh with real processes:
 * - a 20-member fleet with 1024 slots, one member SIGKILLed, on SQLite and on a 3-member etcd
 *   cluster: time to full reassignment, slots moved against the ideal (the victim's share), store
 *   writes (revisions) per moved slot;
 * - heartbeat-mesh detection time p50/p99 at 100 ms heartbeats (SIGKILL of a peer → each
 *   survivor's `suspect` event, phi ≥ 8);
 * - false suspicions per member-hour with no load and under `stress-ng --cpu` load, measured over
 *   a short window and extrapolated linearly (stated in the table).
 *
 * - the etcd start-up storm alone, before and after in turn: 20 members started 150 ms apart on
 *   one cluster until every slot is claimed, then 5 s more; sessions the members lost meanwhile.
 *   `TENURE_BENCH_BASELINE=/path/to/another/checkout` (built; its test/fixtures/shard-member.mjs
 *   runs its members) storms in turn with this code, named by `TENURE_BENCH_BASELINE_NAME`;
 *   without it the previous baseline rows are kept. `TENURE_BENCH_STORMS` storms each (default 3),
 *   of `TENURE_BENCH_STORM_MEMBERS` members (default 20).
 *
 * `TENURE_BENCH_MEMBERSHIP=fleet,storm npm run bench -- membership` measures only the parts named
 * (fleet, storm, mesh); the others keep their rows from the previous results file, dated.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  describe as describeMembers,
  groupPrefix as membersPrefix,
} from '../src/recipes/fleet/membership-layout.js';
import {
  describe as describeShards,
  groupPrefix as shardsPrefix,
} from '../src/recipes/fleet/shard-layout.js';
import { openStore } from '../src/store/open.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import type { Store } from '../src/store/types.js';
import { EtcdCluster } from '../test/helpers/etcd-cluster.js';
import { benchDir, percentile, table, writeResults } from './report.js';

const fixtures = join(benchDir, '..', 'test', 'fixtures');
const r1 = (x: number) => Number(x.toFixed(1));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wallNow = () => performance.timeOrigin + performance.now();

interface Proc {
  proc: ChildProcess;
  lines: string[];
}
function start(script: string, args: string[]): Proc {
  const proc = spawn(process.execPath, [script.includes('/') ? script : join(fixtures, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
  return { proc, lines };
}
const events = (p: Proc, type: string) =>
  p.lines.filter((l) => l.includes(`"${type}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
async function waitStarted(ps: Proc[]): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!ps.every((p) => p.lines.some((l) => l.includes('"started"')))) {
    if (performance.now() > deadline) throw new Error('members did not start');
    await sleep(20);
  }
}
async function stopAll(ps: Proc[]): Promise<void> {
  for (const p of ps) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await Promise.all(
    ps.map((p) =>
      p.proc.exitCode === null && p.proc.signalCode === null
        ? new Promise((r) => p.proc.once('exit', r))
        : null,
    ),
  );
}

async function fleetState(store: Store, slots: number) {
  const read = await store.range(shardsPrefix('fleet'));
  const d = describeShards(read.kvs, { group: 'fleet', slotCount: slots });
  const holders = d.slots.map((s) => s.holder);
  const owners = d.table === undefined ? [] : d.slots.map((s) => s.planned);
  const tableMembers: readonly string[] = d.table?.nodes ?? [];
  const members = describeMembers((await store.range(membersPrefix('fleet'))).kvs)
    .members.map((m) => m.id)
    .sort();
  return { holders, owners, tableMembers, members, revision: read.revision };
}

/**
 * Polls the fleet's state until every member is in the table and holds its planned slots.
 * `pollMs`: the pause between reads; each read fetches every slot key, which on etcd costs the
 * cluster and this process CPU the members compete for.
 */
async function untilConverged(store: Store, slots: number, ids: string[], timeoutMs: number, pollMs = 5) {
  const want = [...ids].sort().join();
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = await fleetState(store, slots);
    if (
      s.members.join() === want &&
      s.tableMembers.join() === want &&
      s.holders.every((h, i) => h !== undefined && h === s.owners[i])
    )
      return { state: s, at: performance.now() };
    if (performance.now() > deadline) throw new Error(`no convergence on ${want} in ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

/** Where the fleet keeps its state: a URL (or SQLite path) for the members, a store to read it. */
interface Backend {
  name: string;
  url: string;
  store: Store;
}

async function shardFailover(members: number, slots: number, ttlMs: number, backend?: Backend) {
  const dir = mkdtempSync(join(tmpdir(), 'tenure-bench-shards-'));
  const storePath = backend?.url ?? join(dir, 'store.db');
  const store = backend?.store ?? new SqliteStore({ path: storePath });
  const ids = Array.from({ length: members }, (_, i) => `m${String(i).padStart(2, '0')}`);
  const ps = new Map<string, Proc>();
  try {
    // Started in a staggered stream: twenty Node start-ups at once on two cores would stall
    // event loops past the ttl.
    for (const id of ids) {
      await sleep(150);
      ps.set(
        id,
        start('shard-member.mjs', [
          storePath,
          join(dir, 'fence.db'),
          id,
          String(ttlMs),
          String(slots),
          'safe',
          '1',
          '200',
        ]),
      );
    }
    await waitStarted([...ps.values()]);
    const startedAt = performance.now();
    const { state: before } = await untilConverged(store, slots, ids, 60_000);
    const initialMs = performance.now() - startedAt;
    await sleep(500);
    const victim = ids[7]!;
    const share = before.holders.filter((h) => h === victim).length;
    const rev0 = await store.revision();
    const killedAt = performance.now();
    const killedAtWall = wallNow();
    ps.get(victim)!.proc.kill('SIGKILL');
    const survivors = ids.filter((i) => i !== victim);
    const { state: after, at } = await untilConverged(store, slots, survivors, ttlMs + 30_000);
    const rev1 = await store.revision();
    const moved = after.holders.filter((h, i) => h !== before.holders[i]).length;
    await sleep(300);
    const stale = [...ps.values()].reduce((s, p) => s + events(p, 'stale-write').length, 0);
    // Sessions that members lost (and rejoined with) before the kill, and after it.
    const lost = [...ps.values()].flatMap((p) => events(p, 'expired').map((e) => e.at as number));
    const lostAfterKill = lost.filter((at) => at >= killedAtWall).length;
    return {
      store: backend?.name ?? 'sqlite',
      members,
      slots,
      ttlMs,
      initialConvergenceMs: r1(initialMs),
      reassignmentMs: r1(at - killedAt),
      movedSlots: moved,
      idealMovedSlots: share,
      storeWrites: rev1 - rev0,
      writesPerMovedSlot: Number(((rev1 - rev0) / Math.max(1, moved)).toFixed(3)),
      staleWrites: stale,
      sessionsLostBeforeKill: lost.length - lostAfterKill,
      sessionsLostAfterKill: lostAfterKill,
    };
  } finally {
    await stopAll([...ps.values()]);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One code's start-up storms: sessions lost and time to every slot claimed, per storm. */
interface StormResult {
  code: string;
  members: number;
  ttlMs: number;
  sessionsLost: number[];
  /** null: not every slot claimed within 60 s. */
  convergenceMs: (number | null)[];
  /** The machine's 1-minute load average at the start of each storm (2 cores). */
  loadAverage?: number[];
  /**
   * Per storm, the median over lost sessions of the member's longest event-loop stall so far
   * when it reported the loss (ms; null when none was lost).
   */
  stallP50Ms?: (number | null)[];
  measured: string;
}

/**
 * Starts `members` members of `fixture` 150 ms apart on `url` (a namespace of its own), waits
 * until every slot is claimed, watches 5 s more, and counts the sessions they lost.
 */
async function storm(fixture: string, url: string, members: number, slots: number, ttlMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tenure-bench-storm-'));
  const store = await openStore(url);
  const ids = Array.from({ length: members }, (_, i) => `m${String(i).padStart(2, '0')}`);
  const ps: Proc[] = [];
  try {
    const t0 = performance.now();
    for (const id of ids) {
      await sleep(150);
      ps.push(
        start(fixture, [url, join(dir, 'fence.db'), id, String(ttlMs), String(slots), 'safe', '1', '200']),
      );
    }
    await waitStarted(ps);
    // A storm that does not settle within the bound is a result too (null), not a failed run.
    // Read every 250 ms: a storm measures lost sessions, and reading 1024 slot keys back to back
    // would load the machine the members start on.
    const at = await untilConverged(store, slots, ids, 60_000, 250).then(
      (c) => c.at,
      () => undefined,
    );
    await sleep(5000);
    const expired = ps.flatMap((p) => events(p, 'expired'));
    return {
      lost: expired.length,
      convergenceMs: at === undefined ? null : r1(at - t0),
      // Each member's longest event-loop stall so far when it reported a lost session: a stall
      // near the ttl says the process was starved; a short one, that the session was lost anyway.
      stallsMs: expired.map((e) => Number(e.maxLoopDelayMs)).sort((a, b) => a - b),
    };
  } finally {
    await stopAll(ps);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Members per storm. Fewer members tell a storm's own losses from the machine's load (the same
 * cluster and ttl); this code's rows of another member count are kept beside the new ones.
 */
function stormMembers(): number {
  return Number(process.env.TENURE_BENCH_STORM_MEMBERS ?? 20);
}

async function measureStorms(): Promise<StormResult[]> {
  const rounds = Number(process.env.TENURE_BENCH_STORMS ?? 3);
  const members = stormMembers();
  const baselineDir = process.env.TENURE_BENCH_BASELINE;
  const codes = [
    { code: 'current', fixture: join(fixtures, 'shard-member.mjs') },
    ...(baselineDir === undefined
      ? []
      : [
          {
            code: process.env.TENURE_BENCH_BASELINE_NAME ?? baselineDir,
            fixture: join(resolve(baselineDir), 'test', 'fixtures', 'shard-member.mjs'),
          },
        ]),
  ];
  const results = codes.map((c): StormResult => ({
    code: c.code,
    members,
    ttlMs: 2000,
    sessionsLost: [],
    convergenceMs: [],
    measured: new Date().toISOString(),
  }));
  const cluster = await EtcdCluster.start();
  try {
    for (let round = 0; round < rounds; round++)
      for (const [i, c] of codes.entries()) {
        const url = `etcd://${cluster.endpoints.join(',')}?namespace=storm-${round}-${i}/`;
        const load = r1(loadavg()[0]!);
        const r = await storm(c.fixture, url, members, 1024, 2000);
        console.log('etcd start-up storm', c.code, { ...r, load });
        (results[i]!.loadAverage ??= []).push(load);
        (results[i]!.stallP50Ms ??= []).push(r.stallsMs.length === 0 ? null : percentile(r.stallsMs, 50));
        results[i]!.sessionsLost.push(r.lost);
        results[i]!.convergenceMs.push(r.convergenceMs);
      }
  } finally {
    await cluster.stop();
  }
  return results;
}

async function freePorts(n: number): Promise<number[]> {
  const socks = [];
  for (let i = 0; i < n; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    socks.push(s);
  }
  const ports = socks.map((s) => s.address().port);
  for (const s of socks) await new Promise<void>((r) => s.close(() => r()));
  return ports;
}

async function meshGroup(dir: string, n: number, intervalMs: number, tag: string) {
  const storePath = join(dir, `mesh-${tag}.db`);
  const ports = await freePorts(n);
  const ps = ports.map((port, i) =>
    start('mesh-member.mjs', [storePath, `p${i}`, String(port), String(intervalMs)]),
  );
  await waitStarted(ps);
  // Wait until everyone has heard from everyone, then let the windows fill a little.
  const deadline = performance.now() + 30_000;
  for (;;) {
    const ok = ps.every((p) => {
      const last = events(p, 'peers').at(-1) as { peers?: [string, boolean][] } | undefined;
      return last?.peers?.length === n - 1 && last.peers.every(([, heard]) => heard);
    });
    if (ok) break;
    if (performance.now() > deadline) throw new Error('mesh did not form');
    await sleep(100);
  }
  await sleep(2000);
  return ps;
}

async function meshDetection(trials: number, n: number, intervalMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tenure-bench-mesh-'));
  const samples: number[] = [];
  try {
    for (let t = 0; t < trials; t++) {
      const ps = await meshGroup(dir, n, intervalMs, `d${t}`);
      const victim = ps[0]!;
      const killedAt = wallNow();
      victim.proc.kill('SIGKILL');
      await sleep(intervalMs * 30);
      for (const p of ps.slice(1)) {
        const e = events(p, 'suspect').find((x) => x.peer === 'p0' && (x.at as number) >= killedAt);
        if (e) samples.push((e.at as number) - killedAt);
      }
      await stopAll(ps);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    trials,
    members: n,
    intervalMs,
    samples: samples.length,
    p50: r1(percentile(samples, 50)),
    p99: r1(percentile(samples, 99)),
    max: r1(Math.max(...samples)),
  };
}

async function falseSuspicions(n: number, intervalMs: number, seconds: number, stress: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'tenure-bench-mesh-'));
  let stressor: ChildProcess | undefined;
  try {
    const ps = await meshGroup(dir, n, intervalMs, stress ? 'stress' : 'idle');
    const since = wallNow();
    if (stress)
      stressor = spawn(
        'stress-ng',
        ['--cpu', String(cpus().length * 2), '--timeout', `${seconds}s`, '--quiet'],
        { stdio: 'ignore' },
      );
    await sleep(seconds * 1000);
    const suspects = ps.flatMap((p) => events(p, 'suspect').filter((e) => (e.at as number) >= since));
    await stopAll(ps);
    const memberHours = (n * seconds) / 3600;
    return {
      members: n,
      intervalMs,
      seconds,
      load: stress ? `stress-ng --cpu ${cpus().length * 2}` : 'none',
      falseSuspicions: suspects.length,
      perMemberHour: r1(suspects.length / memberHours),
      maxPhi: r1(Math.max(0, ...suspects.map((e) => e.phi as number))),
    };
  } finally {
    stressor?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const PARTS = ['fleet', 'storm', 'mesh'] as const;
type Part = (typeof PARTS)[number];

/** The parts named by TENURE_BENCH_MEMBERSHIP (all by default). */
function askedParts(): Part[] {
  const asked = (process.env.TENURE_BENCH_MEMBERSHIP ?? PARTS.join(',')).split(',').filter((p) => p !== '');
  const unknown = asked.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new Error(`TENURE_BENCH_MEMBERSHIP: unknown ${unknown.join(', ')}; known: ${PARTS.join(', ')}`);
  return asked as Part[];
}

type Failover = Awaited<ReturnType<typeof shardFailover>>;
interface MembershipResults {
  failover: Failover;
  etcdFailover: Failover;
  detection: Awaited<ReturnType<typeof meshDetection>>;
  idle: Awaited<ReturnType<typeof falseSuspicions>>;
  loaded: Awaited<ReturnType<typeof falseSuspicions>> | undefined;
  storms?: StormResult[];
  /** When each part was measured (ISO date): a part not asked for keeps its earlier date. */
  measured?: Partial<Record<Part, string>>;
}

/** The previous run's results, to keep the parts not measured this time. */
function previousResults(): MembershipResults | undefined {
  try {
    const saved = JSON.parse(readFileSync(join(benchDir, 'results', 'membership.json'), 'utf8')) as {
      environment: { date: string };
      results: MembershipResults;
    };
    const date = saved.environment.date;
    return {
      ...saved.results,
      measured: { fleet: date, storm: date, mesh: date, ...saved.results.measured },
    };
  } catch {
    return undefined;
  }
}

async function measureFleets(): Promise<Pick<MembershipResults, 'failover' | 'etcdFailover'>> {
  const failover = await shardFailover(20, 1024, 2000);
  console.log('shard failover', failover);
  const cluster = await EtcdCluster.start();
  let etcdFailover: Failover;
  try {
    // The same URL as the members: the bench reads the fleet through its namespace.
    const url = `etcd://${cluster.endpoints.join(',')}?namespace=bench/`;
    etcdFailover = await shardFailover(20, 1024, 2000, { name: 'etcd', url, store: await openStore(url) });
  } finally {
    await cluster.stop();
  }
  console.log('shard failover on etcd', etcdFailover);
  return { failover, etcdFailover };
}

async function measureMesh(): Promise<Pick<MembershipResults, 'detection' | 'idle' | 'loaded'>> {
  const hasStress = spawnSync('stress-ng', ['--version'], { stdio: 'ignore' }).status === 0;
  const detection = await meshDetection(8, 5, 100);
  console.log('mesh detection', detection);
  const idle = await falseSuspicions(5, 100, 45, false);
  console.log('false suspicions idle', idle);
  const loaded = hasStress ? await falseSuspicions(5, 100, 90, true) : undefined;
  console.log('false suspicions under load', loaded);
  return { detection, idle, loaded };
}

export async function run(): Promise<void> {
  const parts = askedParts();
  const previous = previousResults();
  const now = new Date().toISOString();
  const kept = (part: Part) => {
    if (previous === undefined)
      throw new Error(`no bench/results/membership.json to keep the ${part} rows from: measure them too`);
    return previous;
  };
  const fleets = parts.includes('fleet') ? await measureFleets() : kept('fleet');
  const mesh = parts.includes('mesh') ? await measureMesh() : kept('mesh');
  // This code's storms are measured again; a baseline's are kept unless one is given.
  const storms = parts.includes('storm')
    ? await measureStorms().then((now) => [
        ...now,
        ...(process.env.TENURE_BENCH_BASELINE === undefined
          ? (previous?.storms ?? []).filter((s) => s.code !== 'current' || s.members !== stormMembers())
          : []),
      ])
    : (previous?.storms ?? []);
  const { failover, etcdFailover } = fleets;
  const { detection, idle, loaded } = mesh;
  const measured: Record<Part, string> = {
    fleet: parts.includes('fleet') ? now : (previous?.measured?.fleet ?? 'unknown'),
    storm: parts.includes('storm') ? now : (previous?.measured?.storm ?? 'unknown'),
    mesh: parts.includes('mesh') ? now : (previous?.measured?.mesh ?? 'unknown'),
  };
  const results: MembershipResults = { failover, etcdFailover, detection, idle, loaded, storms, measured };
  const stormRows = storms.map((s) => [
    s.code === 'current' && s.measured === storms[0]!.measured
      ? 'this code'
      : `${s.code === 'current' ? 'this code' : s.code} (measured ${s.measured.slice(0, 16).replace('T', ' ')} UTC)`,
    s.members,
    s.sessionsLost.join(', '),
    s.convergenceMs.map((ms) => (ms === null ? 'not within 60 s' : `${ms} ms`)).join(', '),
    s.loadAverage?.join(', ') ?? '',
    s.stallP50Ms?.map((ms) => (ms === null ? '-' : `${ms} ms`)).join(', ') ?? '',
  ]);
  const keptNote = PARTS.filter((p) => !parts.includes(p))
    .map((p) => `The ${p} rows are from the run of ${measured[p]} (not measured again in this run).`)
    .join(' ');
  const md = [
    '## Membership, shards and heartbeat mesh',
    '',
    `Real processes on ${cpus().length} cores. Fleet: ${failover.members} members, ${failover.slots} slots, ttl ${failover.ttlMs} ms, settle 200 ms; one member SIGKILLed, on one SQLite file and on a 3-member etcd cluster on loopback (the same run). Store writes are store revisions (committed writing transactions) between the kill and full reassignment: the lease expiry, the new table, and the batched claims. The mesh: ${detection.members} members, ${detection.intervalMs} ms UDP heartbeats on 127.0.0.1, phi accrual (threshold 8, acceptable pause 3 × interval, min std deviation interval / 10, first estimate = interval); detection = SIGKILL of one member → each survivor's suspect event (${detection.trials} trials). False suspicions: no member killed; measured over the stated seconds and extrapolated linearly to a member-hour.${keptNote === '' ? '' : ` ${keptNote}`}`,
    '',
    table(
      ['fleet measure', 'SQLite', 'etcd'],
      [
        [
          'initial convergence (20 members start, 1024 slots claimed)',
          ...[failover, etcdFailover].map((f) => `${f.initialConvergenceMs} ms`),
        ],
        [
          'time to full reassignment after SIGKILL',
          ...[failover, etcdFailover].map((f) => `${f.reassignmentMs} ms (ttl ${f.ttlMs} ms)`),
        ],
        [
          'slots moved vs ideal (victim share)',
          ...[failover, etcdFailover].map((f) => `${f.movedSlots} vs ${f.idealMovedSlots}`),
        ],
        [
          'store writes (revisions) per moved slot',
          ...[failover, etcdFailover].map((f) => `${f.writesPerMovedSlot} (${f.storeWrites} writes)`),
        ],
        ['stale (double-owner) fenced writes', ...[failover, etcdFailover].map((f) => String(f.staleWrites))],
        [
          'sessions lost by live members (start-up / after the kill)',
          ...[failover, etcdFailover].map((f) => `${f.sessionsLostBeforeKill} / ${f.sessionsLostAfterKill}`),
        ],
      ],
    ),
    '',
    `etcd start-up storm: the members (column "members") started 150 ms apart (ttl ${storms[0]?.ttlMs ?? 2000} ms, etcd raises it to its 2 s minimum) on one 3-member cluster, each storm in a namespace of its own, the codes in turn, the fleet's state read every 250 ms; sessions the members lost from their start to 5 s after every slot was claimed (or after 60 s). Goal: none. A member's longest event-loop stall (monitorEventLoopDelay, since its start) near or above the ttl's keepalive margin says the member was starved of CPU when it lost its session.`,
    '',
    table(
      [
        'code',
        'members',
        'sessions lost, per storm',
        'start to every slot claimed',
        'load average at start (2 cores)',
        'longest event-loop stall of the losers, median',
      ],
      stormRows,
    ),
    '',
    table(
      ['mesh measure', 'result'],
      [
        [
          `mesh detection p50 / p99 at ${detection.intervalMs} ms heartbeats`,
          `${detection.p50} / ${detection.p99} ms (max ${detection.max}, ${detection.samples} samples)`,
        ],
        [
          `false suspicions per member-hour, no load (${idle.seconds} s)`,
          `${idle.perMemberHour} (${idle.falseSuspicions} events)`,
        ],
        [
          `false suspicions per member-hour, ${loaded?.load ?? 'stress-ng unavailable'} (${loaded?.seconds ?? 0} s)`,
          loaded
            ? `${loaded.perMemberHour} (${loaded.falseSuspicions} events, max phi ${loaded.maxPhi})`
            : 'not measured',
        ],
      ],
    ),
  ].join('\n');
  writeResults('membership', results, md);
}
