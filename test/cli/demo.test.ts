/**
 * `tenure demo` end to end (a short run with three real worker processes), and the negative
 * controls of its safety checks: each check must fail on a history that breaks it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FencedCounter } from '../../src/cli/demo/fenced-counter.js';
import { FencedSlots } from '../../src/cli/demo/fenced-slots.js';
import { idealMoves } from '../../src/cli/demo/slots.js';
import {
  checkCounterExact,
  checkNoSlotDoubleOwned,
  checkOneLeaderPerTerm,
  checkTermsIncrease,
} from '../../src/cli/demo/verdict.js';
import {
  checkEndedOnTime,
  checkNewLeaderAfterEveryFault,
  checkProgressInEveryPhase,
  checkSlotsReassigned,
  checkWorkersStarted,
  demoBounds,
} from '../../src/cli/demo/liveness.js';
import { CLI, runDemo, type DemoReport as Report } from '../helpers/demo.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { tempDir } from '../helpers/tmp.js';

const dirs: ReturnType<typeof tempDir>[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

/** A holder pauses between its read and its write while a later holder does both. */
function pausedHolderRace(fenced: boolean) {
  const tmp = tempDir('tenure-counter-');
  dirs.push(tmp);
  const counter = new FencedCounter(join(tmp.dir, 'c.db'), { fenced });
  const a = counter.read(10);
  const b = counter.read(12);
  counter.write(12, b.value + 1, 'b');
  const late = counter.write(10, a.value + 1, 'a');
  const audit = counter.audit();
  counter.close();
  return { late, audit };
}

/**
 * Slot 3 moves from a (token 10) to b (token 12); then a writes with its old token. `aStillOwns`
 * is what a believed right after its write: false for an owner that was paused past its lease
 * (what fencing is for), true for two live owners (a broken ShardManager).
 */
function slotHandoverRace(fenced: boolean, aStillOwns: boolean) {
  const tmp = tempDir('tenure-slots-');
  dirs.push(tmp);
  const slots = new FencedSlots(join(tmp.dir, 's.db'), { fenced });
  slots.take(3, 10, 'a');
  slots.write([{ slot: 3, token: 10 }], 'a', () => true);
  slots.take(3, 12, 'b');
  slots.write([{ slot: 3, token: 12 }], 'b', () => true);
  const [late] = slots.write([{ slot: 3, token: 10 }], 'a', () => aStillOwns);
  const audit = slots.audit();
  slots.close();
  return { late: late!, audit };
}

describe('demo safety checks', () => {
  it('the slot resource refuses a paused owner’s stale write, and the slot check passes', () => {
    const { late, audit } = slotHandoverRace(true, false);
    expect(late.accepted).toBe(false);
    expect(audit).toMatchObject({
      takes: 2,
      writes: 2,
      staleRejected: 1,
      staleAccepted: 0,
      liveDoubleOwners: 0,
    });
    expect(checkNoSlotDoubleOwned(audit).ok).toBe(true);
  });
  it('negative control: without fencing the stale slot write is accepted and the slot check fails', () => {
    const { late, audit } = slotHandoverRace(false, false);
    expect(late.accepted).toBe(true);
    expect(audit.staleAccepted).toBe(1);
    expect(checkNoSlotDoubleOwned(audit).ok).toBe(false);
  });
  it('negative control: two live owners of one slot fail the slot check even when fencing refuses the write', () => {
    const { late, audit } = slotHandoverRace(true, true);
    expect(late.accepted).toBe(false);
    expect(audit.liveDoubleOwners).toBe(1);
    const check = checkNoSlotDoubleOwned(audit);
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('slot 3: a still owned it');
  });
  it('negative control: a take with a token not above the last fails the slot check', () => {
    const tmp = tempDir('tenure-slots-');
    dirs.push(tmp);
    const slots = new FencedSlots(join(tmp.dir, 's.db'));
    slots.take(5, 20, 'a');
    expect(slots.take(5, 20, 'b').accepted).toBe(false);
    const audit = slots.audit();
    slots.close();
    expect(checkNoSlotDoubleOwned(audit).ok).toBe(false);
  });
  it('the fenced counter refuses a paused holder and stays exact', () => {
    const { late, audit } = pausedHolderRace(true);
    expect(late.accepted).toBe(false);
    expect(checkCounterExact(audit).ok).toBe(true);
    expect(audit.rejected).toBe(1);
  });
  it('negative control: without fencing the same race loses an update and the check fails', () => {
    const { late, audit } = pausedHolderRace(false);
    expect(late.accepted).toBe(true);
    expect(checkCounterExact(audit).ok).toBe(false);
  });
  it('negative control: two leaders in one term, or a term going back, fail the checks', () => {
    const good = [
      { worker: 'w1', term: 3 },
      { worker: 'w2', term: 7 },
    ];
    expect(checkOneLeaderPerTerm(good).ok).toBe(true);
    expect(checkTermsIncrease(good).ok).toBe(true);
    expect(checkOneLeaderPerTerm([...good, { worker: 'w3', term: 7 }]).ok).toBe(false);
    expect(checkTermsIncrease([...good, { worker: 'w1', term: 5 }]).ok).toBe(false);
  });
  it('ideal slot moves: a departed member frees its slots, a joiner takes its quota', () => {
    const before = [...Array(8).fill('a'), ...Array(8).fill('b')];
    expect(idealMoves(before, ['a'])).toBe(8);
    expect(idealMoves(before, ['a', 'b'])).toBe(0);
    expect(idealMoves([...Array(16).fill('a')], ['a', 'b'])).toBe(8);
    expect(idealMoves(before, [])).toBe(16); // nobody left: every slot loses its owner
  });
});

describe('demo liveness checks', () => {
  const bounds = demoBounds({ ttlMs: 1000, expiryBoundMs: 150, durationMs: 10_000 });
  it('bounds follow the ttl and the store’s expiry bound, and are stated', () => {
    expect(bounds.failoverMs).toBe(1000 + 150 + bounds.slackMs);
    expect(bounds.slotsMs).toBeGreaterThanOrEqual(bounds.failoverMs);
    expect(bounds.runMs).toBe(10_000 + bounds.marginMs);
    const etcd = demoBounds({ ttlMs: 2000, expiryBoundMs: 1000, durationMs: 20_000 });
    expect(etcd.failoverMs).toBe(2000 + 1000 + etcd.slackMs);
  });
  it('a new leader after every fault, in time', () => {
    const ok = [
      { cause: 'SIGKILL of leader w1', ms: 1100 },
      { cause: 'graceful stop of leader w2', ms: 20 },
    ];
    expect(checkNewLeaderAfterEveryFault(ok, 2, bounds.failoverMs).ok).toBe(true);
  });
  it('negative control: no new leader, a slow one, or a leader fault never injected fail the check', () => {
    const none = checkNewLeaderAfterEveryFault([{ cause: 'SIGKILL of leader w1', ms: undefined }], 1, 2000);
    expect(none.ok).toBe(false);
    expect(none.detail).toMatch(/SIGKILL of leader w1: no new leader within 2000 ms/);
    expect(checkNewLeaderAfterEveryFault([{ cause: 'SIGKILL of leader w1', ms: 2500 }], 1, 2000).ok).toBe(
      false,
    );
    const missing = checkNewLeaderAfterEveryFault([], 2, 2000);
    expect(missing.ok).toBe(false);
    expect(missing.detail).toMatch(/0 of 2/);
  });
  it('negative control: a phase without lock cycles or fenced slot writes fails the progress check', () => {
    const phases = [
      { name: 'before the faults', lockCycles: 4, slotWrites: 30 },
      { name: 'after SIGKILL', lockCycles: 3, slotWrites: 20 },
    ];
    expect(checkProgressInEveryPhase(phases).ok).toBe(true);
    const stalled = checkProgressInEveryPhase([
      ...phases,
      { name: 'after SIGTERM', lockCycles: 0, slotWrites: 9 },
    ]);
    expect(stalled.ok).toBe(false);
    expect(stalled.detail).toMatch(/after SIGTERM: 0 lock cycles/);
    expect(checkProgressInEveryPhase([]).ok).toBe(false); // nothing happened: no phase at all
  });
  it('negative control: a slot change never settled, or settled late, fails the slot check', () => {
    expect(checkSlotsReassigned([{ cause: 'w4 joined', ms: 300 }], 1, 2000).ok).toBe(true);
    expect(checkSlotsReassigned([{ cause: 'w4 joined', ms: undefined }], 1, 2000).ok).toBe(false);
    expect(checkSlotsReassigned([{ cause: 'w4 joined', ms: 2100 }], 1, 2000).ok).toBe(false);
    expect(checkSlotsReassigned([], 1, 2000).ok).toBe(false);
  });
  it('negative control: a worker that never joined, or a run that overran, fail their checks', () => {
    expect(checkWorkersStarted([{ worker: 'w1', joined: true }]).ok).toBe(true);
    const refused = checkWorkersStarted([
      { worker: 'w1', joined: true },
      { worker: 'w2', joined: false, lastError: 'TenureError: ttlMs must be at least 2000 ms' },
    ]);
    expect(refused.ok).toBe(false);
    expect(refused.detail).toContain('w2: TenureError: ttlMs must be at least 2000 ms');
    expect(checkEndedOnTime(10_500, 10_000, bounds.marginMs).ok).toBe(true);
    expect(checkEndedOnTime(10_000 + bounds.marginMs + 1, 10_000, bounds.marginMs).ok).toBe(false);
  });
});

describe('tenure demo on a 3-member etcd cluster', () => {
  let cluster: EtcdCluster | undefined;
  beforeAll(async () => {
    cluster = await EtcdCluster.start();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('picks a ttl etcd accepts, says so, and passes with leaders and lock cycles in every phase', async () => {
    const r = await runDemo([
      '--store',
      `etcd://${cluster!.endpoints.join(',')}`,
      '--workers',
      '3',
      '--duration',
      '16s',
    ]);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.status).toBe(0);
    expect(report.ttlMs).toBe(2000);
    expect(report.ttlNote).toMatch(/etcd.*minimum/);
    expect(report.leaderships).toBeGreaterThanOrEqual(3);
    expect(report.lockCycles).toBeGreaterThan(0);
    expect(report.failovers.filter((f) => f.ms !== undefined).length).toBeGreaterThanOrEqual(2);
    for (const name of ['every worker started', 'a new leader after every fault', 'the run ended on time'])
      expect(report.checks.find((c) => c.name === name)?.ok).toBe(true);
    expect(report.elapsedMs).toBeLessThanOrEqual(report.bounds.runMs);
  });

  it('negative control: a store that refuses every session ends in FAIL, naming the liveness checks, on time', async () => {
    // etcd with its NOSPACE alarm raised (what a full database does): reads still work, so the
    // demo starts, but every lease grant is refused and no worker can create a session. Nothing
    // happens; the verdict must say so.
    const peer = new Etcd3({ hosts: cluster!.endpoints.map((e) => `http://${e}`) });
    const { header } = await peer.maintenance.status();
    await peer.maintenance.alarm({ action: 'Activate', memberID: header.member_id, alarm: 'Nospace' });
    try {
      const r = await runDemo(['--store', `etcd://${cluster!.endpoints.join(',')}`, '--workers', '3']);
      expect(r.stdout).not.toBe('');
      const report = JSON.parse(r.stdout) as Report;
      expect(r.status).toBe(1);
      expect(report.ok).toBe(false);
      const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
      expect(failed).toContain('every worker started');
      expect(failed).toContain('a new leader after every fault');
      expect(failed).toContain('lock cycles and fenced writes in every phase');
      expect(report.checks.find((c) => c.name === 'every worker started')!.detail).toMatch(/w1: .*space/);
      expect(report.leaderships).toBe(0);
      expect(report.elapsedMs).toBeLessThanOrEqual(report.bounds.runMs);
      expect(r.stderr).not.toMatch(/internal error/);
    } finally {
      await peer.maintenance.alarm({ action: 'Deactivate', memberID: header.member_id, alarm: 'Nospace' });
      peer.close();
    }
  });

  it('refuses a --ttl below what etcd accepts, or a --duration too short for its ttl, naming the option', async () => {
    const r = await runDemo(['--store', `etcd://${cluster!.endpoints[0]}`, '--ttl', '1s']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--ttl .*2s/);
    expect(r.stdout).toBe('');
    // What used to run 55 s for 12 s: too short for the faults at etcd's 2 s ttl, said at once.
    const short = await runDemo(['--store', `etcd://${cluster!.endpoints[0]}`, '--duration', '12s']);
    expect(short.status).toBe(2);
    expect(short.stderr).toMatch(/--duration must be at least 16s with a 2s ttl/);
  });
});

describe('tenure demo', () => {
  it('runs a fleet through the four faults and every safety check holds', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'demo', '--workers', '3', '--duration', '9s', '--no-dashboard', '--json'],
      { encoding: 'utf8', timeout: 40_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    // Safety and liveness both: something happened in every phase, and on time.
    expect(report.checks.filter((c) => c.kind === 'liveness').length).toBeGreaterThanOrEqual(5);
    expect(report.elapsedMs).toBeLessThanOrEqual(report.bounds.runMs);
    const kill = report.failovers.find((f) => f.cause.startsWith('SIGKILL'));
    const graceful = report.failovers.find((f) => f.cause.startsWith('graceful'));
    expect(kill?.ms).toBeDefined();
    expect(graceful?.ms).toBeDefined();
    expect(kill!.toTerm!).toBeGreaterThan(kill!.fromTerm);
    // A graceful stop hands over at once; a crash waits for the lease to expire (ttl 1000 ms).
    // The killed leader's lease outlives it by at least ttl minus one heartbeat interval (667 ms).
    expect(kill!.ms!).toBeGreaterThan(500);
    expect(graceful!.ms!).toBeLessThan(kill!.ms!);
    expect(report.staleWritesRejected).toBeGreaterThanOrEqual(1);
    expect(report.counter.value).toBe(report.lockCycles);
    // Every membership change moved exactly the departed member's share, or the newcomer's quota.
    const causes = report.slotChanges.map((s) => s.cause);
    for (const kind of [/^SIGKILL of leader/, /^graceful stop of leader/, /^w\d+ joined$/])
      expect(causes.some((c) => kind.test(c))).toBe(true);
    for (const s of report.slotChanges) {
      expect(s.moved).toBe(s.ideal);
      expect(s.ideal).toBeGreaterThan(0);
      expect(s.ms).toBeDefined();
    }
    // A crashed owner's slots wait for its lease; a graceful one hands them over at once.
    const killed = report.slotChanges.find((s) => s.cause.startsWith('SIGKILL'))!;
    const stopped = report.slotChanges.find((s) => s.cause.startsWith('graceful'))!;
    expect(killed.ms!).toBeGreaterThan(500);
    expect(stopped.ms!).toBeLessThan(killed.ms!);
    expect(report.checks.find((c) => c.name === 'no slot ever double-owned')?.ok).toBe(true);
    expect(report.slots.takes).toBeGreaterThanOrEqual(report.slotCount);
    expect(report.slots.writes).toBeGreaterThan(report.slotCount);
  });

  it('speaks to a newcomer: one line per term, and a refused late write explained, not shouted', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'demo', '--workers', '3', '--duration', '9s', '--no-dashboard'],
      {
        encoding: 'utf8',
        timeout: 40_000,
      },
    );
    expect(r.status).toBe(0);
    const head = r.stdout.slice(0, r.stdout.indexOf('['));
    for (const term of ['fencing token', 'term', 'failover', 'phi', 'ideal moves'])
      expect(head).toMatch(new RegExp(`^  ${term}: .+`, 'm'));
    expect(head).toMatch(/session ttl 1000 ms: the default/);
    // The paused holder's late write is refused by fencing: expected, and said so.
    expect(r.stdout).toMatch(/late write with fencing token \d+ refused by the counter.*\(expected: /);
    expect(r.stdout).not.toMatch(/REJECTED/);
    expect(r.stdout).toMatch(/^Verdict: PASS/m);
  });

  it('negative control: a worker that dies without being told to fails the report, and the demo goes on', async () => {
    const demo = spawn(
      process.execPath,
      [CLI, 'demo', '--workers', '3', '--duration', '9s', '--no-dashboard', '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    demo.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));
    // The demo's first worker, killed from outside before the demo's own faults begin.
    const children = () =>
      readdirSync(`/proc/${demo.pid}/task`).flatMap((t) =>
        readFileSync(`/proc/${demo.pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
      );
    const until = performance.now() + 10_000;
    while (children().length < 3 && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
    const victim = Math.min(...children());
    await new Promise((r) => setTimeout(r, 500));
    process.kill(victim, 'SIGKILL');
    expect(await exited).toBe(1);
    const report = JSON.parse(stdout) as {
      ok: boolean;
      checks: { name: string; ok: boolean; detail: string }[];
    };
    expect(report.ok).toBe(false);
    const crash = report.checks.find((c) => c.name === 'no worker crashed')!;
    expect(crash.ok).toBe(false);
    expect(crash.detail).toMatch(/^w\d+: exit code SIGKILL/);
    expect(stderr).not.toMatch(/internal error/);
  });
});
