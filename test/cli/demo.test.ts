/**
 * `tenure demo` end to end (a short run with three real worker processes), and the negative
 * controls of its safety checks: each check must fail on a history that breaks it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FencedCounter } from '../../src/cli/demo/fenced-counter.js';
import { FencedSlots } from '../../src/cli/demo/fenced-slots.js';
import { idealMoves } from '../../src/cli/demo/slots.js';
import {
  checkCounterExact,
  checkNoSlotDoubleOwned,
  checkOneLeaderPerTerm,
  checkTermsIncrease,
} from '../../src/cli/demo/verdict.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/src/cli/main.js');
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

describe('tenure demo', () => {
  it('runs a fleet through the four faults and every safety check holds', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'demo', '--workers', '3', '--duration', '9s', '--no-dashboard', '--json'],
      { encoding: 'utf8', timeout: 40_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      failovers: { cause: string; ms?: number; toTerm?: number; fromTerm: number }[];
      staleWritesRejected: number;
      lockCycles: number;
      counter: { value: number };
      checks: { name: string; ok: boolean }[];
      slotCount: number;
      slotChanges: { cause: string; moved: number; ideal: number; ms?: number }[];
      slots: { takes: number; writes: number; staleAccepted: number; liveDoubleOwners: number };
    };
    expect(report.ok).toBe(true);
    expect(report.checks.every((c) => c.ok)).toBe(true);
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
