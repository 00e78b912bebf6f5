/**
 * Verification benchmarks: the linearizability checker on 20,000-operation histories over 8
 * clients (target: checked in ≤ 5 s), with the configurations it explored; and a mutated copy of
 * each (one read changed), which it must refute, with the time to find the minimal window.
 *
 * Histories are generated from a sequential execution: each client runs its operations one after
 * another, each takes effect at one random instant inside its interval, results come from a
 * key-value map in the order of those instants. Some writes time out (`info`): applied or not.
 * No peer runs here: no maintained JavaScript linearizability checker exists (Knossos is Clojure,
 * Porcupine Go).
 */
import {
  History,
  checkLinearizability,
  seededRandom,
  SIMULATION_RECIPES,
  VARIANT_RECIPE,
  simulate,
  type HistoryEvent,
  type SimulationRecipe,
  type SimulationVariant,
} from '../src/verify/index.js';
import { loadavg } from 'node:os';
import { table, writeResults } from './report.js';

interface Shape {
  readonly ops: number;
  readonly clients: number;
  readonly keys: number;
  /** Share of writes whose reply is lost (`info`); half of them applied. */
  readonly infoRate: number;
  readonly seed: number;
}

/** A linearizable history of `shape.ops` operations (see the module comment). */
export function generateHistory(shape: Shape): History {
  const rnd = seededRandom(shape.seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const keys = Array.from({ length: shape.keys }, (_, i) => `key/${i}`);
  const values = Array.from({ length: 5 }, (_, i) => `v${i}`);
  interface Planned {
    p: number;
    start: number;
    point: number;
    end: number;
    op: string;
    args: Record<string, unknown>;
    ending: 'ok' | 'info-applied' | 'info-lost';
    result?: unknown;
  }
  const planned: Planned[] = [];
  const clock = new Array<number>(shape.clients).fill(0);
  for (let n = 0; n < shape.ops; n++) {
    const p = n % shape.clients;
    const start = clock[p]! + rnd() * 0.2;
    const latency = 0.05 + rnd() * 1.5;
    const point = start + rnd() * latency;
    const end = start + latency;
    clock[p] = end;
    const key = pick(keys);
    const r = rnd();
    const [op, args] =
      r < 0.5
        ? ['get', { key }]
        : r < 0.75
          ? ['put', { key, value: pick(values) }]
          : r < 0.95
            ? ['cas', { key, expect: rnd() < 0.2 ? null : pick(values), value: pick(values) }]
            : ['delete', { key }];
    const ending =
      op !== 'get' && rnd() < shape.infoRate ? (rnd() < 0.5 ? 'info-applied' : 'info-lost') : 'ok';
    planned.push({ p, start, point, end, op, args, ending });
  }
  const state = new Map<string, string>();
  for (const x of [...planned].sort((a, b) => a.point - b.point)) {
    if (x.ending === 'info-lost') continue;
    const key = x.args.key as string;
    const current = state.get(key) ?? null;
    if (x.op === 'get') x.result = { value: current };
    else if (x.op === 'put') state.set(key, x.args.value as string);
    else if (x.op === 'delete') {
      x.result = { deleted: current === null ? 0 : 1 };
      state.delete(key);
    } else {
      const holds = current === x.args.expect;
      if (holds) {
        if (x.args.value === null) state.delete(key);
        else state.set(key, x.args.value as string);
      }
      x.result = { succeeded: holds };
    }
  }
  const events: HistoryEvent[] = [];
  for (const x of planned) {
    events.push({ type: 'invoke', process: x.p, op: x.op, args: x.args, time: x.start });
    events.push(
      x.ending === 'ok'
        ? {
            type: 'ok',
            process: x.p,
            op: x.op,
            ...(x.result === undefined ? {} : { result: x.result }),
            time: x.end,
          }
        : { type: 'info', process: x.p, op: x.op, result: 'timeout', time: x.end },
    );
  }
  events.sort((a, b) => a.time - b.time || (a.type === 'invoke' ? 1 : 0) - (b.type === 'invoke' ? 1 : 0));
  return new History(events);
}

/** The same history with one read (the one nearest the middle) changed to a value never written. */
function mutate(history: History): History {
  const events = [...history.events];
  let target = -1;
  for (let i = Math.floor(events.length / 2); i < events.length; i++) {
    const e = events[i]!;
    if (e.type === 'ok' && e.op === 'get') {
      target = i;
      break;
    }
  }
  events[target] = { ...events[target]!, result: { value: 'never-written' } };
  return new History(events);
}

const MUTATED_MAX_STATES = 1_000_000;

interface Row {
  readonly case: string;
  readonly ops: number;
  readonly clients: number;
  readonly keys: number;
  readonly infoRate: number;
  readonly verdict: string;
  readonly ms: number;
  readonly statesExplored: number;
  readonly mutatedVerdict: string;
  readonly mutatedMs: number;
  readonly windowOps: number;
}

function measure(name: string, shape: Shape): Row {
  const history = generateHistory(shape);
  const t0 = performance.now();
  const r = checkLinearizability(history);
  const ms = performance.now() - t0;
  const bad = mutate(history);
  const t1 = performance.now();
  // Refuting must explore every configuration up to the failure, which timeouts multiply:
  // bounded here, so an `unknown` is reported as such.
  const m = checkLinearizability(bad, { maxStates: MUTATED_MAX_STATES });
  const mutatedMs = performance.now() - t1;
  const row: Row = {
    case: name,
    ops: shape.ops,
    clients: shape.clients,
    keys: shape.keys,
    infoRate: shape.infoRate,
    verdict: r.verdict,
    ms: Number(ms.toFixed(1)),
    statesExplored: r.statesExplored,
    mutatedVerdict: m.verdict,
    mutatedMs: Number(mutatedMs.toFixed(1)),
    windowOps: m.violation?.window.length ?? 0,
  };
  console.log(JSON.stringify(row));
  return row;
}

interface SimRow {
  readonly recipe: SimulationRecipe | 'all, in turn';
  readonly variant: SimulationVariant;
  readonly seeds: number;
  /** Median over the passes. */
  readonly seedsPerSecond: number;
  readonly passes: readonly number[];
  readonly failingSeeds: number;
  readonly firstFailingSeed: number | null;
  readonly holdingsPerSeed: number;
}

/**
 * Seeds per second of the simulation of `recipe` (every recipe in turn for `all`), median over
 * `passes` runs of the same seeds, and how soon a broken variant is caught. Error stacks are off
 * while seeds run, as in the test (the simulated store fails many calls on purpose).
 */
async function simulation(
  recipe: SimulationRecipe | 'all, in turn',
  variant: SimulationVariant,
  seeds: number,
  passes = 3,
): Promise<SimRow> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let failing = 0;
  let first: number | null = null;
  let holdings = 0;
  const rates: number[] = [];
  try {
    for (let pass = 0; pass < passes; pass++) {
      const t0 = performance.now();
      for (let seed = 1; seed <= seeds; seed++) {
        const r = await simulate({
          seed,
          variant,
          recipe: recipe === 'all, in turn' ? SIMULATION_RECIPES[seed % SIMULATION_RECIPES.length] : recipe,
        });
        if (pass > 0) continue;
        holdings += r.holdings;
        if (r.violations.length > 0) {
          failing++;
          first ??= seed;
        }
      }
      rates.push(Number((seeds / ((performance.now() - t0) / 1000)).toFixed(1)));
    }
  } finally {
    Error.stackTraceLimit = limit;
  }
  const row: SimRow = {
    recipe,
    variant,
    seeds,
    seedsPerSecond: [...rates].sort((x, y) => x - y)[Math.floor(rates.length / 2)]!,
    passes: rates,
    failingSeeds: failing,
    firstFailingSeed: first,
    holdingsPerSeed: Number((holdings / seeds).toFixed(1)),
  };
  console.log(JSON.stringify(row));
  return row;
}

/** Runs the thunks one after another (the simulations must not compete for the cores). */
async function sequential<T>(thunks: readonly (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  for (const thunk of thunks) out.push(await thunk());
  return out;
}

export async function run(): Promise<void> {
  const base = { ops: 20_000, clients: 8, seed: 1 };
  const rows = [
    measure('10 keys, no info', { ...base, keys: 10, infoRate: 0 }),
    measure('10 keys, 2% of writes info', { ...base, keys: 10, infoRate: 0.02 }),
    measure('1 key, no info', { ...base, keys: 1, infoRate: 0 }),
    measure('1 key, 1% of writes info', { ...base, keys: 1, infoRate: 0.01 }),
    measure('100 keys, 5% of writes info', { ...base, keys: 100, infoRate: 0.05 }),
  ];
  const sims = [
    ...(await sequential(SIMULATION_RECIPES.map((recipe) => () => simulation(recipe, 'correct', 1000)))),
    await simulation('all, in turn', 'correct', 10_000, 1),
    ...(await sequential(
      (Object.keys(VARIANT_RECIPE) as Exclude<SimulationVariant, 'correct'>[]).map(
        (variant) => () => simulation(VARIANT_RECIPE[variant], variant, 1000, 1),
      ),
    )),
  ];
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const met = (r: Row) => (r.verdict === 'linearizable' && r.ms <= 5000 ? 'yes' : 'no');
  const markdown = [
    '## Verify',
    '',
    `The linearizability checker (\`tenure/verify\`) on generated 20,000-operation histories over 8 clients (half reads, then puts, compare-and-sets, deletes; each operation 0.05–1.55 ms long, so about 8 overlap at any time). The mutated copy changes one read near the middle to a value never written: the checker must refute it and narrow it to a window, within ${MUTATED_MAX_STATES.toLocaleString('en-US')} configurations a key (past that the verdict is \`unknown\`: refuting explores every configuration up to the failure, and timeouts on a single hot key multiply them). No peer: no maintained JavaScript checker exists.`,
    '',
    table(
      [
        'history',
        'verdict',
        'time (target ≤ 5 s)',
        'configurations explored',
        'met',
        'mutated: verdict, time, window',
      ],
      rows.map((r) => [
        r.case,
        r.verdict,
        `${(r.ms / 1000).toFixed(2)} s`,
        r.statesExplored.toLocaleString('en-US'),
        met(r),
        `${r.mutatedVerdict}, ${(r.mutatedMs / 1000).toFixed(2)} s, ${r.windowOps} ops`,
      ]),
    ),
    '',
    `Deterministic simulation (\`simulate()\`): three processes use one recipe on the memory store for 2 s of simulated time per seed (ttl 500 ms), with delayed and reordered replies, lost keepalives, ambiguous commits, outages of the store, partitions of one process, pauses past the ttl, and each process's clock off the store's rate by up to 1000 ppm. Seeds per second are the median of three passes over the same 1,000 seeds (one pass for the rest); load average at the end ${load}. Target: 10,000 seeds in \`npm test\` within 2 minutes, that is 84 seeds/s; the test runs the 10,000 seeds split over the seven recipes. Broken variants must be caught within 1,000 seeds.`,
    '',
    table(
      [
        'recipe',
        'variant',
        'seeds',
        'seeds/s (median)',
        'passes',
        'holdings checked per seed',
        'seeds with a violation',
        'first failing seed',
      ],
      sims.map((r) => [
        r.recipe,
        r.variant,
        r.seeds.toLocaleString('en-US'),
        r.seedsPerSecond,
        r.passes.join(', '),
        r.holdingsPerSeed,
        r.failingSeeds,
        r.firstFailingSeed ?? '—',
      ]),
    ),
  ].join('\n');
  writeResults('verify', { checker: rows, simulation: sims }, markdown);
}
