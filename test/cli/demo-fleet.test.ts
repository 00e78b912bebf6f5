/**
 * The demo's pieces on their own: the worker protocol's validator, the report and the checks on a
 * synthetic event log (no processes), with a negative control for each failure they must show,
 * and a fault list of the test's own choosing run by the scheduler on a short SQLite run.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog, type LogEntry } from '../../src/cli/demo/event-log.js';
import { DEFAULT_FAULTS, expectedOf, validateFaults, type FaultStep } from '../../src/cli/demo/faults.js';
import { Fleet } from '../../src/cli/demo/fleet.js';
import { demoBounds } from '../../src/cli/demo/liveness.js';
import {
  formatWorkerMessage,
  parseWorkerConfig,
  parseWorkerMessage,
  type WorkerEvent,
} from '../../src/cli/demo/protocol.js';
import { buildReport, formatReport, type DemoReport } from '../../src/cli/demo/report.js';
import { checkRun, type RunFacts } from '../../src/cli/demo/verdict.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');

describe('demo worker protocol', () => {
  it('a message round-trips through its format and its parser', () => {
    const events: WorkerEvent[] = [
      { ev: 'leader', term: 7 },
      { ev: 'write', token: 9, value: 3, accepted: false, highest: 11 },
      { ev: 'suspect', peer: 'w2', phi: 8.5 },
      { ev: 'stopped' },
    ];
    for (const event of events)
      expect(parseWorkerMessage(formatWorkerMessage('w1', 12.5, event))).toEqual({
        worker: 'w1',
        t: 12.5,
        ...event,
      });
  });
  it('negative control: a line that is not a known, well-typed event is refused with the reason', () => {
    const line = (o: object) => JSON.stringify({ worker: 'w1', t: 1, ...o });
    expect(parseWorkerMessage('w1 leads')).toEqual({ invalid: 'not JSON' });
    expect(parseWorkerMessage(line({ ev: 'leads', term: 3 }))).toEqual({ invalid: 'unknown event "leads"' });
    expect(parseWorkerMessage(line({ ev: 'leader' }))).toEqual({ invalid: 'leader: term is not a number' });
    expect(parseWorkerMessage(line({ ev: 'leader', term: '3' }))).toEqual({
      invalid: 'leader: term is not a number',
    });
    expect(
      parseWorkerMessage(line({ ev: 'write', token: 1, value: 1, accepted: 'yes', highest: 0 })),
    ).toEqual({
      invalid: 'write: accepted is not a boolean',
    });
    expect(parseWorkerMessage(JSON.stringify({ t: 1, ev: 'stopped' }))).toEqual({ invalid: 'no worker' });
    expect(parseWorkerMessage(line({ ev: 'toString' }))).toEqual({ invalid: 'unknown event "toString"' });
  });
  it('negative control: a worker config without its store is refused, naming the field', () => {
    const config = { id: 'w1', counterPath: 'c', slotsPath: 's', ttlMs: 1000, holdMs: 150, heartbeatMs: 100 };
    expect(parseWorkerConfig(JSON.stringify({ ...config, store: 'sqlite:///x' })).store).toBe('sqlite:///x');
    expect(() => parseWorkerConfig(JSON.stringify(config))).toThrow(/store is not a string/);
  });
});

describe('demo fleet', () => {
  it('negative control: a worker line that does not parse is recorded as invalid, never acted on; an unasked exit is a crash', async () => {
    const tmp = tempDir('tenure-fleet-');
    try {
      // A stand-in worker: one good report, two that do not parse, one in another's name, then it dies.
      const script = join(tmp.dir, 'worker.mjs');
      writeFileSync(
        script,
        `const { id } = JSON.parse(process.argv[2]);
         const say = (o) => process.stdout.write(JSON.stringify({ worker: id, t: 0, ...o }) + '\\n');
         say({ ev: 'member', address: 'x' });
         say({ ev: 'leader', term: 'seven' });
         process.stdout.write('not json\\n');
         say({ worker: 'w9', ev: 'leader', term: 9 });
         console.error('last words');
         process.exitCode = 3;`,
      );
      const log = new EventLog();
      const fleet = new Fleet(log, script, (id) => ({
        id,
        store: 'sqlite:///nowhere',
        counterPath: 'c',
        slotsPath: 's',
        ttlMs: 1000,
        holdMs: 150,
        heartbeatMs: 100,
      }));
      const id = fleet.start();
      await fleet.workers.get(id)!.exited;
      expect(fleet.workers.get(id)!.joined).toBe(true);
      expect(fleet.leading.size).toBe(0);
      expect(fleet.currentLeader()).toBeUndefined();
      expect(log.entries.map((e) => (e.kind === 'invalid' ? `invalid: ${e.reason}` : e.kind))).toEqual([
        'spawned',
        'event',
        'invalid: leader: term is not a number',
        'invalid: not JSON',
        'invalid: reported as w9',
        'exited',
      ]);
      expect(log.entries.at(-1)).toMatchObject({
        kind: 'exited',
        worker: id,
        crash: 'exit code 3',
        lastWords: 'last words',
      });
      await fleet.close();
    } finally {
      tmp.cleanup();
    }
  });
});

describe('demo fault lists', () => {
  it('negative control: a list out of order, outside the run, or with a pause too short is refused', () => {
    expect(() => validateFaults(DEFAULT_FAULTS)).not.toThrow();
    expect(() =>
      validateFaults([
        { at: 0.5, kind: 'join' },
        { at: 0.3, kind: 'kill-leader' },
      ]),
    ).toThrow(/fault step 1 \(kill-leader\): at must be above 0.5/);
    expect(() => validateFaults([{ at: 1.2, kind: 'join' }])).toThrow(/fault step 0 \(join\): at must be/);
    expect(() => validateFaults([{ at: 0.4, kind: 'pause-lock-holder', pauseTtls: 0.5 }])).toThrow(
      /pauseTtls must be above 1/,
    );
  });
  it('the default list promises two leader faults and five membership changes', () => {
    expect(DEFAULT_FAULTS.map((s) => s.kind)).toEqual([
      'kill-leader',
      'pause-lock-holder',
      'stop-leader',
      'join',
    ]);
    expect(expectedOf(DEFAULT_FAULTS)).toEqual({ leaderFaults: 2, membershipChanges: 5 });
    expect(expectedOf([{ at: 0.5, kind: 'join' }])).toEqual({ leaderFaults: 0, membershipChanges: 1 });
  });
});

const event = (at: number, worker: string, e: WorkerEvent): LogEntry => ({
  at,
  kind: 'event',
  worker,
  event: e,
});

/** A run of three workers with one fault, a SIGKILL of the leader, that went well. */
function goodRun(): LogEntry[] {
  return [
    { at: 0, kind: 'phase', name: 'before the faults' },
    ...['w1', 'w2', 'w3'].flatMap((w, i): LogEntry[] => [
      { at: 1 + i, kind: 'spawned', worker: w },
      event(100 + i, w, { ev: 'member', address: `127.0.0.1:${4000 + i}` }),
    ]),
    event(200, 'w1', { ev: 'leader', term: 10 }),
    event(300, 'w2', { ev: 'write', token: 11, value: 1, accepted: true, highest: 10 }),
    event(310, 'w2', { ev: 'slot-writes', count: 20 }),
    { at: 1000, kind: 'phase', name: 'after SIGKILL of the leader' },
    { at: 1001, kind: 'fault', text: 'SIGKILL of leader w1' },
    { at: 1002, kind: 'exited', worker: 'w1' },
    event(2000, 'w2', { ev: 'leader', term: 20 }),
    {
      at: 2001,
      kind: 'failover',
      failover: { cause: 'SIGKILL of leader w1', from: 'w1', fromTerm: 10, to: 'w2', toTerm: 20, ms: 999 },
    },
    {
      at: 2100,
      kind: 'slot-change',
      change: {
        cause: 'SIGKILL of leader w1',
        members: ['w2', 'w3'],
        moved: 22,
        ideal: 22,
        modulo: 44,
        ms: 1100,
      },
    },
    event(2200, 'w3', { ev: 'write', token: 21, value: 2, accepted: true, highest: 20 }),
    event(2210, 'w3', { ev: 'slot-writes', count: 30 }),
  ];
}

const facts: RunFacts = {
  counter: { value: 2, accepted: 2, rejected: 0, lostUpdates: 0 },
  slots: {
    takes: 86,
    refusedTakes: 0,
    writes: 50,
    staleRejected: 0,
    staleAccepted: 0,
    liveDoubleOwners: 0,
    examples: [],
  },
  bounds: demoBounds({ ttlMs: 1000, expiryBoundMs: 150, durationMs: 10_000 }),
  expected: expectedOf([{ at: 0.2, kind: 'kill-leader' }]),
  endAt: 3000,
  elapsedMs: 10_400,
  durationMs: 10_000,
};
const settings = {
  store: 'sqlite:///tmp/x.db',
  workers: 3,
  ttlMs: 1000,
  ttlNote: 'the default',
  dashboard: undefined,
};
const failed = (log: LogEntry[], f = facts) =>
  checkRun(log, f)
    .filter((c) => !c.ok)
    .map((c) => c.name);

describe('demo report and verdict from an event log', () => {
  it('a run that went well passes every check, and the report reads it from the log', () => {
    expect(failed(goodRun())).toEqual([]);
    const report = buildReport(goodRun(), facts, settings);
    expect(report.ok).toBe(true);
    expect(report.leaderships).toBe(2);
    expect(report.faults).toEqual(['SIGKILL of leader w1']);
    expect(report.phases).toEqual([
      { name: 'before the faults', lockCycles: 1, slotWrites: 20 },
      { name: 'after SIGKILL of the leader', lockCycles: 1, slotWrites: 30 },
    ]);
    expect(formatReport(report)).toMatch(/^Verdict: PASS/m);
  });

  it('negative control: two leaders in one term in the log fail the verdict', () => {
    const log = [...goodRun(), event(2500, 'w3', { ev: 'leader', term: 20 })];
    expect(failed(log)).toEqual(['never two leaders in one term', 'terms strictly increase']);
    const report: DemoReport = buildReport(log, facts, settings);
    expect(report.ok).toBe(false);
    const text = formatReport(report);
    expect(text).toMatch(/FAIL {2}never two leaders in one term: term 20 claimed by w2 and w3/);
    expect(text).toMatch(/^Verdict: FAIL \(never two leaders in one term; terms strictly increase\)/m);
  });

  it('negative control: a crash, a worker that never joined, a fault without a failover, an idle phase, each fail', () => {
    const crash = [
      ...goodRun(),
      { at: 2300, kind: 'exited', worker: 'w3', crash: 'exit code 1', lastWords: 'boom' } as const,
    ];
    expect(failed(crash)).toEqual(['no worker crashed']);
    expect(checkRun(crash, facts).find((c) => c.name === 'no worker crashed')!.detail).toBe(
      'w3: exit code 1: boom',
    );

    const neverJoined = goodRun().filter(
      (e) => !(e.kind === 'event' && e.worker === 'w3' && e.event.ev === 'member'),
    );
    expect(failed(neverJoined)).toEqual(['every worker started']);

    const noFailover = goodRun().filter((e) => e.kind !== 'failover');
    expect(failed(noFailover)).toEqual(['a new leader after every fault']);

    const idle = goodRun().filter((e) => !(e.kind === 'event' && e.event.ev === 'write' && e.at > 1000));
    expect(failed(idle)).toEqual(['lock cycles and fenced writes in every phase']);

    // The checks hold the log to its fault list: the default list promises more than this run did.
    expect(failed(goodRun(), { ...facts, expected: expectedOf(DEFAULT_FAULTS) })).toEqual([
      'a new leader after every fault',
      'every slot reassigned in time',
    ]);
  });

  it('negative control: a report line that did not parse is shown, and is no leader claim', () => {
    const log: LogEntry[] = [
      ...goodRun(),
      {
        at: 2400,
        kind: 'invalid',
        worker: 'w3',
        line: '{"ev":"leader","term":"20"}',
        reason: 'leader: term is not a number',
      },
    ];
    const report = buildReport(log, facts, settings);
    expect(report.ok).toBe(true);
    expect(report.leaderships).toBe(2);
    expect(report.invalidMessages).toEqual(['w3: leader: term is not a number']);
    expect(formatReport(report)).toMatch(/did not parse, ignored: 1 /);
  });
});

describe('tenure demo with a fault list of its own', () => {
  it('runs only the faults it is given, and the verdict holds it to them', async () => {
    // From dist, so that the orchestrator finds the compiled worker next to it.
    const { runDemo } = (await import(
      join(import.meta.dirname, '../../dist/src/cli/demo/orchestrator.js')
    )) as typeof import('../../src/cli/demo/orchestrator.js');
    const faults: FaultStep[] = [
      { at: 0.25, kind: 'kill-leader' },
      { at: 0.6, kind: 'join' },
    ];
    let out = '';
    const code = await runDemo({
      workers: 3,
      durationMs: 8000,
      dashboard: false,
      port: 0,
      json: true,
      faults,
      out: { write: (text: string) => (out += text) },
    });
    const report = JSON.parse(out) as DemoReport;
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(code).toBe(0);
    expect(report.faults).toEqual([expect.stringMatching(/^SIGKILL of leader w\d$/), 'w4 joined']);
    expect(report.failovers.map((f) => f.cause)).toEqual([report.faults[0]]);
    expect(report.slotChanges.map((c) => c.cause)).toEqual([report.faults[0], 'w4 joined']);
    expect(report.phases.map((p) => p.name)).toEqual([
      'before the faults',
      'after SIGKILL of the leader',
      'after the join',
    ]);
    expect(report.checks.find((c) => c.name === 'a new leader after every fault')!.detail).toMatch(
      /^1 leader faults/,
    );
  });
});

describe('tenure demo --help', () => {
  it('shows its durations as durations', () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--duration <duration> +how long the fleet runs \(default: 20s\)/);
  });
});
