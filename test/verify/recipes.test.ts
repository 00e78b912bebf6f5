import { describe, expect, it } from 'vitest';
import {
  checkElections,
  checkLocks,
  checkRWLocks,
  checkSemaphores,
  checkSessions,
  checkShards,
  type RecipeCheckResult,
} from '../../src/verify/index.js';
import { historyOf, type Spec } from './history-builder.js';

const op = (
  p: number | string,
  name: string,
  args: unknown,
  at: [number, number | null],
  result?: unknown,
): Spec => ({
  p,
  op: name,
  args,
  at,
  ...(result === undefined ? {} : { result }),
});
const rules = (r: RecipeCheckResult) => r.violations.map((v) => v.rule);

describe('lock checker', () => {
  const acquire = (p: number, token: number, at: [number, number]) =>
    op(p, 'lock.acquire', { name: 'L' }, at, { token });
  const release = (p: number, at: [number, number]) => op(p, 'lock.release', { name: 'L' }, at);
  const write = (p: number, token: number, accepted: boolean, at: [number, number]) =>
    op(p, 'lock.write', { name: 'L', token }, at, { accepted });

  const handoff = [
    acquire(1, 10, [0, 1]),
    write(1, 10, true, [2, 3]),
    release(1, [4, 5]),
    acquire(2, 11, [3, 6]),
    write(2, 11, true, [7, 8]),
  ];

  it('accepts a clean handoff', () => {
    const r = checkLocks(historyOf(handoff));
    expect(r).toMatchObject({ valid: true, holdings: 2 });
  });

  it('negative control: two holders at once', () => {
    const r = checkLocks(historyOf([acquire(1, 10, [0, 1]), acquire(2, 11, [2, 5]), release(1, [6, 7])]));
    expect(rules(r)).toEqual(['overlap']);
    expect(r.violations[0]!.message).toContain('2 holders at once');
    expect(r.violations[0]!.operations).toHaveLength(2);
  });

  it('a holder paused past the ttl is in doubt from the pause: overlap excused, a stale write accepted is not', () => {
    const paused = [
      acquire(1, 10, [0, 1]),
      op('nemesis', 'pause', { process: 1 }, [2, 1500]),
      acquire(2, 11, [3, 1100]),
      write(2, 11, true, [1200, 1201]),
      write(1, 10, false, [1600, 1601]),
      release(1, [1700, 1701]),
    ];
    expect(checkLocks(historyOf(paused), { ttlMs: 1000 }).valid).toBe(true);
    // A pause shorter than the ttl excuses nothing.
    expect(rules(checkLocks(historyOf(paused), { ttlMs: 2000 }))).toEqual(['overlap']);
    // The resource accepting the paused holder's older token is a violation, pause or not.
    const stale = paused.map((s) =>
      s.op === 'lock.write' && s.p === 1 ? write(1, 10, true, [1600, 1601]) : s,
    );
    const r = checkLocks(historyOf(stale), { ttlMs: 1000 });
    expect(rules(r)).toEqual(['stale-token-accepted']);
    expect(r.violations[0]!.message).toContain('accepted token 10 from process 1 after accepting token 11');
  });

  it("with the holder's checks recorded, a holding ends at its last check: a slow release is no overlap", () => {
    const check = (p: number, t: number) => op(p, 'lock.check', { name: 'L' }, [t, t]);
    const slowRelease = [acquire(1, 10, [0, 1]), check(1, 2), release(1, [10, 11]), acquire(2, 11, [3, 5])];
    expect(checkLocks(historyOf(slowRelease)).valid).toBe(true);
    // Negative control: a check that passed while the other held.
    expect(rules(checkLocks(historyOf([...slowRelease, check(1, 6)])))).toEqual(['overlap']);
    // A check at the very instant the acquisition completed (a clock that stood still) counts.
    const sameInstant = [
      acquire(1, 10, [0, 1]),
      check(1, 1),
      op(1, 'lock.lost', { name: 'L' }, [10, 10]),
      acquire(2, 11, [3, 5]),
    ];
    expect(checkLocks(historyOf(sameInstant)).valid).toBe(true);
    // In a history with checks, a holder that never checked held only at its acquisition.
    const unchecked = [
      acquire(1, 10, [0, 1]),
      op(1, 'lock.lost', { name: 'L' }, [10, 10]),
      acquire(2, 11, [3, 5]),
      check(2, 6),
    ];
    expect(checkLocks(historyOf(unchecked)).valid).toBe(true);
    // Without checks, the release ends it.
    expect(rules(checkLocks(historyOf(slowRelease.filter((s) => s.op !== 'lock.check'))))).toEqual([
      'overlap',
    ]);
  });

  it('a killed holder holds nothing after its death', () => {
    const r = checkLocks(
      historyOf([
        acquire(1, 10, [0, 1]),
        op('nemesis', 'kill', { process: 1 }, [2, 2]),
        acquire(2, 11, [3, 900]),
      ]),
    );
    expect(r.valid).toBe(true);
  });

  it('negative controls: a token reused, and a later acquisition given a lower token', () => {
    expect(rules(checkLocks(historyOf([...handoff.slice(0, 3), acquire(2, 10, [3, 6])])))).toEqual([
      'duplicate-token',
      'token-order', // asked after the first acquisition completed: also out of order
    ]);
    expect(rules(checkLocks(historyOf([...handoff.slice(0, 3), acquire(2, 9, [3, 6])])))).toEqual([
      'token-order',
    ]);
    // Concurrent acquisitions may be ordered either way.
    expect(
      checkLocks(
        historyOf([
          acquire(1, 10, [0, 4]),
          release(1, [5, 6]),
          acquire(2, 9, [1, 3]),
          release(2, [3.5, 3.6]),
        ]),
      ).valid,
    ).toBe(true);
  });

  it('refuses a malformed operation, naming it', () => {
    expect(() => checkLocks(historyOf([op(1, 'lock.acquire', {}, [0, 1], { token: 1 })]))).toThrow(
      /operation 0 \(lock.acquire\) args.name/,
    );
    expect(() => checkLocks(historyOf(handoff), { ttlMs: -1 })).toThrow(/ttlMs/);
  });
});

describe('election checker', () => {
  const campaign = (p: number, term: number, at: [number, number]) =>
    op(p, 'election.campaign', { name: 'E' }, at, { term });
  const resign = (p: number, at: [number, number]) => op(p, 'election.resign', { name: 'E' }, at);

  it('accepts successive leaders with increasing terms', () => {
    expect(
      checkElections(historyOf([campaign(1, 5, [0, 1]), resign(1, [10, 11]), campaign(2, 7, [2, 12])])),
    ).toMatchObject({
      valid: true,
      holdings: 2,
    });
  });

  it('negative controls: two leaders of one term, a term going back, two leaders at once', () => {
    expect(
      rules(
        checkElections(historyOf([campaign(1, 5, [0, 1]), resign(1, [10, 11]), campaign(2, 5, [2, 12])])),
      ),
    ).toEqual(['duplicate-token', 'token-order']);
    expect(
      rules(
        checkElections(historyOf([campaign(1, 5, [0, 1]), resign(1, [10, 11]), campaign(2, 3, [2, 12])])),
      ),
    ).toEqual(['token-order']);
    const r = checkElections(
      historyOf([campaign(1, 5, [0, 1]), campaign(2, 7, [2, 3]), resign(1, [10, 11])]),
    );
    expect(rules(r)).toEqual(['overlap']);
    expect(r.violations[0]!.message).toContain('election E');
  });

  it('a resignation ends a leadership', () => {
    const h = [campaign(1, 5, [0, 1]), resign(1, [2, 3]), campaign(2, 7, [1.5, 4]), resign(2, [50, 51])];
    expect(checkElections(historyOf(h)).valid).toBe(true);
    // Negative control: the same with the resignation after the next leader began.
    const late = [campaign(1, 5, [0, 1]), resign(1, [5, 6]), campaign(2, 7, [1.5, 4]), resign(2, [50, 51])];
    expect(rules(checkElections(historyOf(late)))).toEqual(['overlap']);
  });

  it('a leadership lost is over at the loss', () => {
    const h = [campaign(1, 5, [0, 1]), op(1, 'election.lost', { name: 'E' }, [4, 4]), campaign(2, 7, [2, 5])];
    expect(checkElections(historyOf(h)).valid).toBe(true);
  });
});

describe('semaphore checker', () => {
  const acquire = (p: number, token: number, at: [number, number]) =>
    op(p, 'semaphore.acquire', { name: 'S', permits: 2 }, at, { token });
  const release = (p: number, at: [number, number]) => op(p, 'semaphore.release', { name: 'S' }, at);

  it('accepts up to N holders at once; negative control: N + 1', () => {
    const two = [acquire(1, 1, [0, 1]), acquire(2, 2, [0, 2]), release(1, [5, 6]), acquire(3, 3, [3, 7])];
    expect(checkSemaphores(historyOf(two))).toMatchObject({ valid: true, holdings: 3 });
    const three = [acquire(1, 1, [0, 1]), acquire(2, 2, [0, 2]), acquire(3, 3, [3, 4]), release(1, [5, 6])];
    const r = checkSemaphores(historyOf(three));
    expect(rules(r)).toEqual(['capacity']);
    expect(r.violations[0]!.message).toContain('3 holders at once (at most 2)');
  });
});

describe('shard checker', () => {
  const own = (p: number, slot: number, token: number, at: [number, number]) =>
    op(p, 'shard.acquire', { slot }, at, { token });
  const release = (p: number, slot: number, at: [number, number]) => op(p, 'shard.release', { slot }, at);

  it('one owner per slot at a time, tokens increasing per slot; other slots are independent', () => {
    const ok = [own(1, 0, 5, [0, 1]), own(2, 1, 6, [0, 1]), release(1, 0, [2, 3]), own(2, 0, 7, [2.5, 4])];
    expect(checkShards(historyOf(ok))).toMatchObject({ valid: true, holdings: 3 });
    expect(
      rules(checkShards(historyOf([own(1, 0, 5, [0, 1]), own(2, 0, 7, [2, 3]), release(1, 0, [4, 5])]))),
    ).toEqual(['overlap']);
    expect(
      rules(checkShards(historyOf([own(1, 0, 5, [0, 1]), release(1, 0, [2, 3]), own(2, 0, 4, [4, 5])]))),
    ).toEqual(['token-order']);
  });
});

describe('session checker', () => {
  const open = op(1, 'session.open', {}, [0, 1], { lease: 'a' });
  const expired = op(9, 'session.expired', { lease: 'a' }, [1000, 1001]);

  it("accepts a client whose signal fired before the store's expiry was observed", () => {
    expect(
      checkSessions(historyOf([open, op(1, 'session.lost', { lease: 'a' }, [900, 900]), expired])),
    ).toMatchObject({
      valid: true,
      holdings: 1,
    });
  });

  it('negative controls: a signal after the expiry, and none at all', () => {
    const late = checkSessions(
      historyOf([open, expired, op(1, 'session.lost', { lease: 'a' }, [1100, 1100])]),
    );
    expect(rules(late)).toEqual(['session-late']);
    expect(late.violations[0]!.message).toContain('fired only at 1100.000 ms');
    expect(rules(checkSessions(historyOf([open, expired])))).toEqual(['session-late']);
  });

  it('a paused or killed client is excused (no timer runs in a stopped process)', () => {
    expect(
      checkSessions(historyOf([open, op('nemesis', 'pause', { process: 1 }, [500, 1200]), expired])).valid,
    ).toBe(true);
    expect(
      checkSessions(historyOf([open, op('nemesis', 'kill', { process: 1 }, [500, 500]), expired])).valid,
    ).toBe(true);
  });
});

describe('rwlock checker', () => {
  const read = (p: number, token: number, at: [number, number]) =>
    op(p, 'rwlock.read', { name: 'R' }, at, { token });
  const write = (p: number, token: number, at: [number, number]) =>
    op(p, 'rwlock.write', { name: 'R' }, at, { token });
  const release = (p: number, at: [number, number]) => op(p, 'rwlock.release', { name: 'R' }, at);

  it('accepts readers sharing, then a writer alone', () => {
    const r = checkRWLocks(
      historyOf([
        read(1, 10, [0, 1]),
        read(2, 11, [0, 2]),
        release(1, [3, 4]),
        release(2, [3, 5]),
        write(3, 12, [1, 6]),
        release(3, [7, 8]),
      ]),
    );
    expect(r).toMatchObject({ valid: true, holdings: 3 });
  });

  it('negative control: a writer while a reader holds', () => {
    const r = checkRWLocks(historyOf([read(1, 10, [0, 1]), write(2, 11, [1, 2]), release(1, [3, 4])]));
    expect(rules(r)).toEqual(['overlap']);
    expect(r.violations[0]!.message).toContain('a writer and a reader at once');
  });

  it('negative control: two writers at once', () => {
    const r = checkRWLocks(historyOf([write(1, 10, [0, 1]), write(2, 11, [1, 2]), release(1, [3, 4])]));
    expect(r.violations[0]!.message).toContain('a writer and a writer at once');
  });

  it('negative control: a later acquisition with a lower token', () => {
    const r = checkRWLocks(
      historyOf([read(1, 10, [0, 1]), release(1, [2, 3]), read(2, 9, [4, 5]), release(2, [6, 7])]),
    );
    expect(rules(r)).toEqual(['token-order']);
  });
});
