/**
 * Builds histories for the checker tests: operations given as intervals, turned into invoke and
 * completion events in time order; and random histories generated from a sequential execution.
 */
import fc from 'fast-check';
import { History, type HistoryEvent, type OperationStatus } from '../../src/verify/index.js';

/** One operation of a hand-built history. */
export interface Spec {
  p: number | string;
  op: string;
  args: unknown;
  at: [number, number | null];
  result?: unknown;
  status?: OperationStatus;
}

/** A history from operation specs (`at[1]` null: never completed). */
export function historyOf(specs: readonly Spec[]): History {
  const events: (HistoryEvent & { order: number })[] = [];
  specs.forEach((s, i) => {
    events.push({ type: 'invoke', process: s.p, op: s.op, args: s.args, time: s.at[0], order: i * 2 });
    if (s.at[1] !== null)
      events.push({
        type: s.status ?? 'ok',
        process: s.p,
        op: s.op,
        ...(s.result === undefined ? {} : { result: s.result }),
        time: s.at[1],
        order: i * 2 + 1,
      });
  });
  events.sort((a, b) => a.time - b.time || a.order - b.order);
  return new History(events.map(({ order: _order, ...e }) => e));
}

export const put = (
  p: number,
  key: string,
  value: string,
  at: [number, number | null],
  status?: OperationStatus,
): Spec => ({
  p,
  op: 'put',
  args: { key, value },
  at,
  ...(status ? { status } : {}),
});
export const get = (p: number, key: string, value: string | null, at: [number, number]): Spec => ({
  p,
  op: 'get',
  args: { key },
  at,
  result: { value },
});
export const cas = (
  p: number,
  key: string,
  expect: string | null,
  value: string | null,
  succeeded: boolean | undefined,
  at: [number, number | null],
): Spec => ({
  p,
  op: 'cas',
  args: { key, expect, value },
  at,
  ...(succeeded === undefined ? { status: 'info' as const } : { result: { succeeded } }),
});
export const del = (p: number, key: string, deleted: number, at: [number, number]): Spec => ({
  p,
  op: 'delete',
  args: { key },
  at,
  result: { deleted },
});

/** A generated operation before it is timed: what it does, and how it ends. */
interface Planned {
  kind: 'get' | 'put' | 'delete' | 'cas';
  key: string;
  value: string;
  expect: string | null;
  ending: 'ok' | 'info-applied' | 'info-lost' | 'fail';
}

/**
 * Arbitrary histories that are linearizable by construction: each process runs its operations
 * one after another, each takes effect at one instant inside its interval, and results come from
 * applying them to a sequential key-value map in the order of those instants. Some writes end
 * `info` (applied or not) or `fail` (not applied).
 */
export function linearizableHistories(opts: { processes?: number; keys?: number; maxOps?: number } = {}) {
  const keys = Array.from({ length: opts.keys ?? 2 }, (_, i) => `k${i}`);
  const planned = fc.record({
    kind: fc.constantFrom('get', 'put', 'delete', 'cas', 'get') as fc.Arbitrary<Planned['kind']>,
    key: fc.constantFrom(...keys),
    value: fc.constantFrom('a', 'b', 'c'),
    expect: fc.constantFrom(null, 'a', 'b', 'c'),
    ending: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'info-applied', 'info-lost', 'fail') as fc.Arbitrary<
      Planned['ending']
    >,
    before: fc.integer({ min: 0, max: 6 }),
    after: fc.integer({ min: 0, max: 6 }),
    gap: fc.integer({ min: 1, max: 4 }),
  });
  return fc
    .array(fc.array(planned, { maxLength: opts.maxOps ?? 12 }), {
      minLength: 1,
      maxLength: opts.processes ?? 4,
    })
    .map((perProcess) => {
      // Distinct instants: 10 ticks a unit, plus the process number, so no two ties.
      const timed: { p: number; plan: Planned; start: number; point: number; end: number }[] = [];
      perProcess.forEach((plans, p) => {
        let t = 0;
        for (const plan of plans) {
          const start = t * 10 + p;
          const point = (t + plan.before) * 10 + p + 0.5;
          const end = (t + plan.before + plan.after) * 10 + p + 1;
          timed.push({ p, plan, start, point, end });
          t += plan.before + plan.after + plan.gap;
        }
      });
      const state = new Map<string, string>();
      const specs: Spec[] = [];
      for (const x of [...timed].sort((a, b) => a.point - b.point)) {
        const { plan } = x;
        const applied = plan.ending === 'ok' || plan.ending === 'info-applied';
        const current = state.get(plan.key) ?? null;
        let result: unknown;
        if (applied)
          switch (plan.kind) {
            case 'get':
              result = { value: current };
              break;
            case 'put':
              state.set(plan.key, plan.value);
              break;
            case 'delete':
              result = { deleted: current === null ? 0 : 1 };
              state.delete(plan.key);
              break;
            case 'cas': {
              const holds = current === plan.expect;
              if (holds) state.set(plan.key, plan.value);
              result = { succeeded: holds };
              break;
            }
          }
        const args =
          plan.kind === 'put'
            ? { key: plan.key, value: plan.value }
            : plan.kind === 'cas'
              ? { key: plan.key, expect: plan.expect, value: plan.value }
              : { key: plan.key };
        const status: OperationStatus =
          plan.ending === 'ok' ? 'ok' : plan.ending === 'fail' ? 'fail' : 'info';
        specs.push({
          p: x.p,
          op: plan.kind,
          args,
          at: [x.start, x.end],
          status,
          ...(status === 'ok' ? { result } : {}),
        });
      }
      return specs;
    });
}
