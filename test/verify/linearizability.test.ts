import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TenureError } from '../../src/errors.js';
import { History, checkLinearizability, renderTimelineSvg } from '../../src/verify/index.js';
import { cas, del, get, historyOf, linearizableHistories, put, type Spec } from './history-builder.js';

const verdict = (specs: Spec[]) => checkLinearizability(historyOf(specs)).verdict;

describe('linearizability checker: hand-built histories', () => {
  it('a sequential write then read is linearizable; a read of the old value after the write completed is not', () => {
    expect(verdict([put(1, 'x', '1', [0, 1]), get(2, 'x', '1', [2, 3])])).toBe('linearizable');
    const stale = checkLinearizability(historyOf([put(1, 'x', '1', [0, 1]), get(2, 'x', null, [2, 3])]));
    expect(stale.verdict).toBe('violation');
    expect(stale.violation!.key).toBe('x');
    expect(stale.violation!.window.map((w) => w.text)).toEqual(['put x "1"', 'get x → absent']);
    expect(stale.violation!.window.find((w) => w.failing)!.text).toBe('get x → absent');
  });

  it('a read concurrent with a write may see either value, but reads cannot go back in time', () => {
    expect(verdict([put(1, 'x', '1', [0, 10]), get(2, 'x', null, [1, 2]), get(2, 'x', '1', [3, 4])])).toBe(
      'linearizable',
    );
    expect(verdict([put(1, 'x', '1', [0, 10]), get(2, 'x', '1', [1, 2]), get(3, 'x', null, [3, 4])])).toBe(
      'violation',
    );
  });

  it('info writes may apply at any time after their invoke, or never, but only once', () => {
    const lost = put(1, 'x', '1', [0, null]);
    expect(verdict([lost, get(2, 'x', null, [50, 51])])).toBe('linearizable');
    expect(verdict([lost, get(2, 'x', '1', [50, 51])])).toBe('linearizable');
    expect(verdict([lost, get(2, 'x', null, [50, 51]), get(2, 'x', '1', [52, 53])])).toBe('linearizable');
    expect(verdict([lost, get(2, 'x', '1', [50, 51]), get(2, 'x', null, [52, 53])])).toBe('violation');
    // Not before its invoke.
    expect(verdict([get(2, 'x', '1', [0, 1]), put(1, 'x', '1', [5, null])])).toBe('violation');
    // A timed-out write reported `info` explicitly counts the same as one never completed.
    expect(verdict([put(1, 'x', '1', [0, 3], 'info'), get(2, 'x', '1', [50, 51])])).toBe('linearizable');
  });

  it('failed writes did not happen', () => {
    expect(verdict([put(1, 'x', '1', [0, 1], 'fail'), get(2, 'x', null, [2, 3])])).toBe('linearizable');
    expect(verdict([put(1, 'x', '1', [0, 1], 'fail'), get(2, 'x', '1', [2, 3])])).toBe('violation');
  });

  it('compare-and-set: at most one of two racing creates succeeds; a failed cas must have seen another value', () => {
    expect(verdict([cas(1, 'x', null, 'a', true, [0, 5]), cas(2, 'x', null, 'b', false, [1, 6])])).toBe(
      'linearizable',
    );
    expect(verdict([cas(1, 'x', null, 'a', true, [0, 5]), cas(2, 'x', null, 'b', true, [1, 6])])).toBe(
      'violation',
    );
    expect(verdict([cas(1, 'x', null, 'a', false, [0, 1])])).toBe('violation');
    // cas to null deletes.
    expect(
      verdict([put(1, 'x', 'a', [0, 1]), cas(1, 'x', 'a', null, true, [2, 3]), get(1, 'x', null, [4, 5])]),
    ).toBe('linearizable');
    // An unknown cas outcome is decided by the state it meets.
    expect(
      verdict([
        put(1, 'x', 'a', [0, 1]),
        cas(2, 'x', 'a', 'b', undefined, [2, null]),
        get(1, 'x', 'b', [9, 10]),
      ]),
    ).toBe('linearizable');
    expect(
      verdict([
        put(1, 'x', 'z', [0, 1]),
        cas(2, 'x', 'a', 'b', undefined, [2, null]),
        get(1, 'x', 'b', [9, 10]),
      ]),
    ).toBe('violation');
  });

  it('delete reports whether the key was there', () => {
    expect(verdict([put(1, 'x', 'a', [0, 1]), del(1, 'x', 1, [2, 3]), del(2, 'x', 0, [4, 5])])).toBe(
      'linearizable',
    );
    expect(verdict([put(1, 'x', 'a', [0, 1]), del(1, 'x', 0, [2, 3])])).toBe('violation');
  });

  it('keys are checked apart: each key linearizable makes the history linearizable', () => {
    const r = checkLinearizability(
      historyOf([
        put(1, 'x', '1', [0, 10]),
        put(2, 'y', '2', [1, 11]),
        get(3, 'y', '2', [2, 3]),
        get(3, 'x', null, [4, 5]),
      ]),
    );
    expect(r).toMatchObject({ verdict: 'linearizable', keys: 2, operations: 4 });
    expect(r.statesExplored).toBeGreaterThan(0);
  });

  it('the failing window is the last stretch that fails on its own, not the whole history', () => {
    const specs: Spec[] = [];
    for (let i = 0; i < 50; i++)
      specs.push(
        put(1, 'x', String(i), [i * 10, i * 10 + 2]),
        get(2, 'x', String(i), [i * 10 + 3, i * 10 + 4]),
      );
    // Then a lost write: the read after it completed sees the old value.
    specs.push(put(1, 'x', 'new', [600, 602]), get(2, 'x', '49', [603, 604]), get(1, 'x', 'new', [605, 606]));
    const r = checkLinearizability(historyOf(specs));
    expect(r.verdict).toBe('violation');
    expect(r.violation!.fromStart).toBe(false);
    expect(r.violation!.window.map((w) => w.text)).toEqual(['put x "new"', 'get x → "49"']);
    expect(r.violation!.text).toContain('from any earlier value of the key');
    expect(r.violation!.text).toContain('> process 2');
  });

  it('gives up with verdict unknown past maxStates, and refuses a bad maxStates', () => {
    // Six timed-out writes of values that are each read later: many orders to try before the
    // last read, which none explains.
    const specs: Spec[] = [];
    for (let p = 0; p < 6; p++) specs.push(put(p, 'x', String(p), [0, null]));
    for (let p = 0; p < 6; p++) specs.push(get(9, 'x', String(p), [10 + p * 2, 11 + p * 2]));
    specs.push(get(9, 'x', 'nope', [30, 31]));
    const r = checkLinearizability(historyOf(specs), { maxStates: 5 });
    expect(r.verdict).toBe('unknown');
    expect(r.unknownKeys).toEqual(['x']);
    expect(checkLinearizability(historyOf(specs)).verdict).toBe('violation');
    expect(() => checkLinearizability(historyOf(specs), { maxStates: 0 })).toThrow(/maxStates/);
  });

  it('refuses operations it cannot check, naming the operation and field', () => {
    const h = historyOf([{ p: 1, op: 'increment', args: { key: 'x' }, at: [0, 1] }]);
    expect(() => checkLinearizability(h)).toThrow(TenureError);
    expect(() => checkLinearizability(h)).toThrow(/operation 0 \(increment by process 1\) op/);
    const bad = historyOf([{ p: 1, op: 'get', args: { key: 'x' }, at: [0, 1], result: { value: 3 } }]);
    expect(() => checkLinearizability(bad)).toThrow(/result.value must be a string or null/);
  });

  it('draws the window as SVG: one row per process, the failing operation red, text escaped', () => {
    const r = checkLinearizability(historyOf([put(1, 'x', '<1>', [0, 1]), get(2, 'x', null, [2, 3])]));
    const svg = renderTimelineSvg(r.violation!.window, { title: 'key x & co' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('process 1');
    expect(svg).toContain('process 2');
    expect(svg).toContain('fill="#e44"');
    expect(svg).toContain('&lt;1&gt;');
    expect(svg).toContain('key x &amp; co');
    expect(svg).not.toContain('"<1>"');
  });
});

describe('history: events and JSON lines', () => {
  it('round-trips through JSON lines', () => {
    const h = historyOf([put(1, 'x', '1', [0, 1]), get(2, 'x', '1', [2, 3]), put(3, 'y', 'z', [4, null])]);
    const text = h.toJsonLines();
    expect(text.split('\n')).toHaveLength(6);
    const back = History.fromJsonLines(text);
    expect(back.events).toEqual(h.events);
    expect(back.operations().map((o) => o.status)).toEqual(['ok', 'ok', 'info']);
    expect(back.operations()[2]!.returnTime).toBe(Infinity);
  });

  it('refuses malformed input with the line and the rule it breaks', () => {
    const err = (text: string) => {
      try {
        History.fromJsonLines(text);
      } catch (e) {
        return e as TenureError;
      }
      throw new Error('accepted');
    };
    const inv = '{"type":"invoke","process":1,"op":"get","args":{"key":"x"},"time":1}';
    expect(err(`${inv}\nnot json`)).toMatchObject({ code: 'TENURE_INVALID_ARGUMENT', details: { line: 2 } });
    expect(err(`${inv}\n${inv}`).message).toMatch(
      /line 2 invokes get for process 1, which still has get in flight/,
    );
    expect(err('{"type":"ok","process":1,"op":"get","time":1}').message).toMatch(
      /line 1 completes get .* no operation in flight/,
    );
    expect(err(`${inv}\n{"type":"ok","process":1,"op":"put","time":2}`).message).toMatch(
      /line 2.op is put, but process 1 invoked get/,
    );
    expect(err(`${inv}\n{"type":"ok","process":1,"op":"get","time":0}`).message).toMatch(/before its invoke/);
    expect(err('{"type":"done","process":1,"op":"get","time":0}').message).toMatch(
      /line 1.type must be one of/,
    );
    expect(err('{"type":"invoke","process":1,"op":"get","time":"x"}').message).toMatch(/line 1.time/);
    expect(err('{"type":"invoke","process":1,"op":"get","time":"x"}').retryable).toBe(false);
  });
});

describe('linearizability checker: property', () => {
  it('every history generated from a sequential execution is linearizable', () => {
    fc.assert(
      fc.property(linearizableHistories({ processes: 5, keys: 2, maxOps: 10 }), (specs) => {
        const r = checkLinearizability(historyOf(specs));
        expect(r.verdict).toBe('linearizable');
      }),
      { numRuns: 300 },
    );
  });

  it('a read result changed to a value never written is always caught, with the read in the window', () => {
    fc.assert(
      fc.property(
        linearizableHistories({ processes: 5, keys: 2, maxOps: 10 }).filter((specs) =>
          specs.some((s) => s.op === 'get' && (s.status ?? 'ok') === 'ok'),
        ),
        fc.nat(),
        (specs, pick) => {
          const reads = specs.filter((s) => s.op === 'get' && (s.status ?? 'ok') === 'ok');
          const victim = reads[pick % reads.length]!;
          const mutated = specs.map((s) => (s === victim ? { ...s, result: { value: 'never-written' } } : s));
          const r = checkLinearizability(historyOf(mutated));
          expect(r.verdict).toBe('violation');
          expect(r.violation!.window.some((w) => w.failing && w.text.includes('never-written'))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a successful cas changed to failed with no concurrent writer is caught', () => {
    // Sequential (one process): the state before the cas is known, so flipping its result must fail.
    fc.assert(
      fc.property(
        linearizableHistories({ processes: 1, keys: 1, maxOps: 15 }).filter((specs) =>
          specs.some(
            (s) => s.op === 'cas' && (s.result as { succeeded?: boolean } | undefined)?.succeeded === true,
          ),
        ),
        (specs) => {
          const victim = specs.find(
            (s) => s.op === 'cas' && (s.result as { succeeded?: boolean } | undefined)?.succeeded,
          )!;
          const mutated = specs.map((s) => (s === victim ? { ...s, result: { succeeded: false } } : s));
          // Without an earlier info write (which may apply at any time), the flip is unexplainable.
          const infoBefore = specs.some(
            (s) => s.status === 'info' && s.op !== 'get' && s.at[0] < victim.at[0],
          );
          fc.pre(!infoBefore);
          expect(checkLinearizability(historyOf(mutated)).verdict).toBe('violation');
        },
      ),
      { numRuns: 200 },
    );
  });
});
