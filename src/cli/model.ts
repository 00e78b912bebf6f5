/**
 * `tenure model <availability|failover|detector|placement|contention> [flags]`: what a
 * configuration will give, from tenure/models (formulas and assumptions: docs/models.md). Prints
 * tables, `--json` for the numbers, and `--svg FILE` for a picture where one says more.
 *
 * Every flag is checked here and named in the error; a relation the model rejects (a quorum above
 * the member count) is reported under the flag that set it.
 */
import { writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { TenureError } from '../errors.js';
import {
  compareDeployments,
  contentionModel,
  detectionModel,
  failoverTime,
  markovAvailability,
  placementModel,
  pointsPerNodeFor,
  quorumAvailability,
  thresholdFor,
  FAILOVER_STORE_PROFILES,
  PLACEMENT_ALGORITHMS,
  type AvailabilityPrediction,
  type DetectorModel,
  type FailoverStore,
  type HoldTime,
  type InterArrival,
  type PlacementAlgorithm,
} from '../models/index.js';
import { lineChart, type Series } from './model-svg.js';
import { formatTable } from './table.js';
import { EXIT_USAGE, UsageError } from './usage-error.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in ms, fractions allowed (`0.4ms`, `2s`; a bare number is ms). */
export function parseMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!m)
    throw new InvalidArgumentError(
      `expected a duration such as 500, 0.5ms, 2s or 1m, got ${JSON.stringify(text)}.`,
    );
  return Number(m[1]) * UNITS[m[2] ?? 'ms']!;
}

/** A positive finite number. */
export function parsePositive(text: string): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a number above 0, got ${JSON.stringify(text)}.`);
  return n;
}

/** A non-negative finite number. */
function parseNonNegative(text: string): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`expected a number ≥ 0, got ${JSON.stringify(text)}.`);
  return n;
}

/** A whole number ≥ 1. */
function parseWhole(text: string): number {
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a whole number ≥ 1, got ${JSON.stringify(text)}.`);
  return n;
}

/** A probability: `0.999` or `99.9%`. */
export function parseProbability(text: string): number {
  const t = text.trim();
  const percent = t.endsWith('%');
  const n = Number(percent ? t.slice(0, -1) : t);
  const p = percent ? n / 100 : n;
  if (t === '' || t === '%' || !Number.isFinite(p) || p < 0 || p > 1)
    throw new InvalidArgumentError(
      `expected a probability in 0..1 (or 0%..100%), got ${JSON.stringify(text)}.`,
    );
  return p;
}

/** A comma-separated list of positive numbers. */
function parsePositiveList(text: string): number[] {
  return text.split(',').map((part) => parsePositive(part));
}

const ms = (x: number) =>
  !Number.isFinite(x) ? '∞' : x >= 10_000 ? `${(x / 1000).toFixed(2)} s` : `${Number(x.toPrecision(4))} ms`;
const num = (x: number) => (!Number.isFinite(x) ? '∞' : x === 0 ? '0' : Number(x.toPrecision(4)).toString());
const percent = (a: number) =>
  `${(a * 100).toFixed(Math.min(10, Math.max(2, Math.ceil(-Math.log10(Math.max(1e-12, 1 - a))) + 1)))} %`;
const hours = (h: number | undefined) =>
  h === undefined
    ? ''
    : !Number.isFinite(h)
      ? '∞'
      : h >= 24 * 365
        ? `${num(h / (24 * 365.25))} years`
        : `${num(h)} h`;

/** Writes the human table or the JSON, and the SVG when asked. */
interface Output {
  json: boolean;
  write(text: string): void;
}

function emit(out: Output, data: unknown, table: () => string): void {
  out.write(out.json ? `${JSON.stringify(data, null, 2)}\n` : `${table()}\n`);
}

/** The model argument behind each flag, to name the flag when the model rejects a relation. */
const FLAG_OF: Record<string, string> = {
  members: '--members',
  quorum: '--quorum',
  memberAvailability: '--availability',
  mtbfHours: '--mtbf',
  mttrHours: '--mttr',
  repairCrews: '--repair-crews',
  ttlMs: '--ttl',
  keepAliveIntervalMs: '--keepalive',
  watchMaxMs: '--watch-max',
  watchMinMs: '--watch-min',
  targetPerHour: '--target',
  target: '--target',
  keys: '--keys',
  pointsPerNode: '--points',
  tableSize: '--table-size',
  slotCount: '--slots',
  'interArrival.samplesMs': '--samples',
  'detector.threshold': '--threshold',
  'detector.maxSampleSize': '--window',
};

function availabilityCommand(out: Output): Command {
  return new Command('availability')
    .description(
      'availability of a k-of-n quorum and downtime per year; without --members, SQLite on one host against 3 and 5 etcd members',
    )
    .addOption(new Option('--members <n>', 'members n (default: compare 1, 3 and 5)').argParser(parseWhole))
    .addOption(
      new Option('--quorum <k>', 'members that must be up (default: a majority)').argParser(parseWhole),
    )
    .addOption(
      new Option(
        '--availability <a>',
        "one member's availability, 0.999 or 99.9% (binomial model)",
      ).argParser(parseProbability),
    )
    .addOption(
      new Option('--mtbf <hours>', "one member's mean time between failures")
        .argParser(parsePositive)
        .default(8766, '8766 (a year)'),
    )
    .addOption(
      new Option('--mttr <hours>', "one member's mean time to repair").argParser(parsePositive).default(4),
    )
    .addOption(
      new Option('--repair-crews <n>', 'members repaired at once (default: all)').argParser(parseWhole),
    )
    .option('--json', 'print JSON')
    .action(
      (o: {
        members?: number;
        quorum?: number;
        availability?: number;
        mtbf: number;
        mttr: number;
        repairCrews?: number;
        json?: boolean;
      }) => {
        out.json = o.json === true;
        if (o.quorum !== undefined && o.members === undefined)
          throw new UsageError('--quorum needs --members (the comparison uses majorities)');
        if (o.availability !== undefined && o.repairCrews !== undefined)
          throw new UsageError(
            '--repair-crews applies to the Markov model (--mtbf/--mttr), not to --availability',
          );
        let rows: (AvailabilityPrediction & { deployment?: string })[];
        if (o.availability !== undefined) {
          const a = o.availability;
          rows = (o.members === undefined ? [1, 3, 5] : [o.members]).map((n) =>
            quorumAvailability({ members: n, quorum: o.quorum, memberAvailability: a }),
          );
        } else if (o.members === undefined) {
          rows = compareDeployments({ mtbfHours: o.mtbf, mttrHours: o.mttr, repairCrews: o.repairCrews });
        } else {
          rows = [
            markovAvailability({
              members: o.members,
              quorum: o.quorum,
              mtbfHours: o.mtbf,
              mttrHours: o.mttr,
              repairCrews: o.repairCrews === undefined ? undefined : Math.min(o.repairCrews, o.members),
            }),
          ];
        }
        emit(out, rows, () =>
          formatTable(
            [
              'deployment',
              'k of n',
              'model',
              'member',
              'available',
              'downtime/year',
              'between outages',
              'outage',
            ],
            rows.map((r) => [
              r.deployment ?? `${r.members} members`,
              `${r.quorum} of ${r.members}`,
              r.model,
              percent(r.memberAvailability),
              percent(r.availability),
              r.downtimeMinutesPerYear >= 120
                ? `${num(r.downtimeMinutesPerYear / 60)} h`
                : `${num(r.downtimeMinutesPerYear)} min`,
              hours(r.meanHoursBetweenOutages),
              hours(r.meanOutageHours),
            ]),
          ),
        );
      },
    );
}

function failoverCommand(out: Output): Command {
  return new Command('failover')
    .description(
      'failover time (leader gone → new leader acting) for SIGKILL and graceful stop: range, p50, p99',
    )
    .addOption(
      new Option('--backend <store>', 'whose expiry and watch timings to assume')
        .choices(Object.keys(FAILOVER_STORE_PROFILES))
        .default('sqlite'),
    )
    .addOption(new Option('--ttl <duration>', 'session ttl').argParser(parseMs).default(10_000, '10s'))
    .addOption(new Option('--keepalive <duration>', 'keepalive interval (default: ttl/3)').argParser(parseMs))
    .addOption(
      new Option(
        '--expiry-check <duration>',
        "the store's expiry check interval (default: the backend's)",
      ).argParser(parseMs),
    )
    .addOption(
      new Option('--checkers <n>', 'processes checking for expiry independently')
        .argParser(parseWhole)
        .default(1),
    )
    .addOption(
      new Option('--watch-min <duration>', "fastest watch delivery (default: the backend's)").argParser(
        parseMs,
      ),
    )
    .addOption(
      new Option('--watch-max <duration>', "slowest watch delivery (default: the backend's)").argParser(
        parseMs,
      ),
    )
    .addOption(
      new Option('--settle <duration>', 'time from delivery to the new leader acting')
        .argParser(parseMs)
        .default(0),
    )
    .addOption(
      new Option('--revoke <duration>', 'graceful: time from the stop to the revoke committing (shortest)')
        .argParser(parseMs)
        .default(1),
    )
    .addOption(
      new Option('--revoke-max <duration>', 'graceful: the longest such time (default: --revoke)').argParser(
        parseMs,
      ),
    )
    .addOption(
      new Option('--stop <how>', 'which stop to model')
        .choices(['sigkill', 'graceful', 'both'])
        .default('both'),
    )
    .addOption(new Option('--svg <file>', 'write the distribution (CDF) as an SVG chart'))
    .option('--json', 'print JSON')
    .action(
      (o: {
        backend: FailoverStore;
        ttl: number;
        keepalive?: number;
        expiryCheck?: number;
        checkers: number;
        watchMin?: number;
        watchMax?: number;
        settle: number;
        revoke: number;
        revokeMax?: number;
        stop: 'sigkill' | 'graceful' | 'both';
        svg?: string;
        json?: boolean;
      }) => {
        out.json = o.json === true;
        const stops = o.stop === 'both' ? (['sigkill', 'graceful'] as const) : [o.stop];
        const rows = stops.map((stop) =>
          failoverTime({
            stop,
            store: o.backend,
            ttlMs: o.ttl,
            keepAliveIntervalMs: o.keepalive,
            expiryCheckIntervalMs: o.expiryCheck,
            expiryCheckers: o.checkers,
            watchMinMs: o.watchMin,
            watchMaxMs: o.watchMax,
            settleMs: o.settle,
            revokeMs: o.revoke,
            revokeMaxMs: o.revokeMax,
          }),
        );
        if (o.svg !== undefined)
          writeSvg(
            o.svg,
            lineChart(
              rows.map((r) => ({
                name: r.input.stop,
                points: [
                  { x: r.minMs, y: 0 },
                  ...r.percentiles.map(({ p, ms: x }) => ({ x, y: p })),
                  { x: r.maxMs, y: 100 },
                ],
              })),
              {
                title: `Failover time, ${o.backend}, ttl ${ms(o.ttl)}`,
                xLabel: 'ms from the fault to the new leader acting',
                yLabel: 'percent of failovers within',
              },
            ),
          );
        emit(out, rows, () =>
          formatTable(
            ['stop', 'min', 'p50', 'mean', 'p99', 'max'],
            rows.map((r) => [r.input.stop, ms(r.minMs), ms(r.p50Ms), ms(r.meanMs), ms(r.p99Ms), ms(r.maxMs)]),
          ),
        );
      },
    );
}

/** Reads inter-arrival samples: a JSON array of numbers, or numbers separated by white space. */
async function readSamples(file: string): Promise<number[]> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--samples: cannot read ${file}: ${(err as Error).message}`);
  }
  const values = text.trim().startsWith('[')
    ? (JSON.parse(text) as unknown[])
    : text
        .trim()
        .split(/[\s,]+/)
        .map(Number);
  if (
    !Array.isArray(values) ||
    values.length < 2 ||
    values.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v < 0)
  )
    throw new UsageError(`--samples: ${file} must hold at least 2 numbers ≥ 0 (milliseconds)`);
  return values as number[];
}

const PHI_THRESHOLDS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16];
/** phi at a silence of exactly mean + pause: −log10(0.5). A threshold below it lies under the pause. */
const PAUSE_ALONE = Math.log10(2);

function detectorCommand(out: Output): Command {
  return new Command('detector')
    .description(
      'false suspicions per member-hour and detection time of the phi accrual or fixed-timeout detector, for several thresholds (HeartbeatMesh defaults)',
    )
    .addOption(
      new Option('--interval <duration>', 'mean heartbeat inter-arrival time')
        .argParser(parseMs)
        .default(1000, '1s'),
    )
    .addOption(
      new Option('--jitter <duration>', 'standard deviation of inter-arrival times')
        .argParser(parseMs)
        .default(50, '50ms'),
    )
    .addOption(
      new Option(
        '--samples <file>',
        'measured inter-arrival times in ms (JSON array or one per line) instead of --interval/--jitter',
      ),
    )
    .addOption(new Option('--detector <kind>', 'which detector').choices(['phi', 'fixed']).default('phi'))
    .addOption(
      new Option('--threshold <phi>', 'one phi threshold (default: a table of 1 to 16)').argParser(
        parsePositive,
      ),
    )
    .addOption(
      new Option('--timeout <duration>', 'fixed detector: one timeout (default: a table)').argParser(parseMs),
    )
    .addOption(
      new Option(
        '--min-std <duration>',
        'phi: floor of the standard deviation (default: interval/10)',
      ).argParser(parseMs),
    )
    .addOption(
      new Option('--pause <duration>', 'phi: acceptable heartbeat pause (default: 3 × interval)').argParser(
        parseMs,
      ),
    )
    .addOption(new Option('--window <n>', 'phi: samples in its window').argParser(parseWhole).default(1000))
    .addOption(
      new Option(
        '--check <duration>',
        'how often the detector is asked (default: interval/2; 0: continuously)',
      ).argParser(parseMs),
    )
    .addOption(
      new Option(
        '--target <per-hour>',
        'find the threshold for this many false suspicions per member-hour',
      ).argParser(parsePositive),
    )
    .addOption(
      new Option(
        '--svg <file>',
        'write detection time against false suspicions for the thresholds as an SVG chart',
      ),
    )
    .option('--json', 'print JSON')
    .action(
      async (o: {
        interval: number;
        jitter: number;
        samples?: string;
        detector: 'phi' | 'fixed';
        threshold?: number;
        timeout?: number;
        minStd?: number;
        pause?: number;
        window: number;
        check?: number;
        target?: number;
        svg?: string;
        json?: boolean;
      }) => {
        out.json = o.json === true;
        if (
          o.detector === 'fixed' &&
          (o.threshold !== undefined || o.minStd !== undefined || o.pause !== undefined)
        )
          throw new UsageError('--threshold, --min-std and --pause apply to --detector phi');
        if (o.detector === 'phi' && o.timeout !== undefined)
          throw new UsageError('--timeout applies to --detector fixed');
        if (o.interval <= 0) throw new UsageError('--interval must be above 0');
        const interArrival: InterArrival =
          o.samples !== undefined
            ? { kind: 'empirical', samplesMs: await readSamples(o.samples) }
            : { kind: 'normal', meanMs: o.interval, stdMs: o.jitter };
        const minStd = o.minStd ?? o.interval / 10;
        if (minStd <= 0) throw new UsageError('--min-std must be above 0');
        const pause = o.pause ?? 3 * o.interval;
        const checkIntervalMs = o.check ?? o.interval / 2;
        if (o.target !== undefined) {
          const choice = thresholdFor({
            interArrival,
            targetPerHour: o.target,
            checkIntervalMs,
            phi: { minStdDeviationMs: minStd, acceptableHeartbeatPauseMs: pause, maxSampleSize: o.window },
          });
          emit(out, choice, () =>
            formatTable(
              [
                'target/hour',
                'timeout',
                'phi threshold',
                'false suspicions/hour',
                'detection p50',
                'detection p99',
                'note',
              ],
              [
                [
                  num(o.target!),
                  ms(choice.timeoutMs),
                  num(choice.phiThreshold),
                  num(choice.falseSuspicionsPerHour),
                  ms(choice.detection.p50Ms),
                  ms(choice.detection.p99Ms),
                  [
                    choice.beyondSamples ? 'beyond the samples: measure longer' : '',
                    choice.phiThreshold < PAUSE_ALONE
                      ? 'the pause alone meets the target: any phi threshold does (or lower --pause)'
                      : '',
                  ]
                    .filter((n) => n !== '')
                    .join('; '),
                ],
              ],
            ),
          );
          return;
        }
        const detectors: { label: string; model: DetectorModel }[] =
          o.detector === 'phi'
            ? (o.threshold === undefined ? PHI_THRESHOLDS : [o.threshold]).map((threshold) => ({
                label: `phi ${threshold}`,
                model: {
                  kind: 'phi',
                  threshold,
                  minStdDeviationMs: minStd,
                  acceptableHeartbeatPauseMs: pause,
                  maxSampleSize: o.window,
                },
              }))
            : (o.timeout === undefined ? [2, 3, 4, 5, 6, 8].map((k) => k * o.interval) : [o.timeout]).map(
                (timeoutMs) => ({
                  label: `timeout ${ms(timeoutMs)}`,
                  model: { kind: 'fixed', timeoutMs },
                }),
              );
        const rows = detectors.map((d) => ({
          detector: d.label,
          ...detectionModel({ interArrival, detector: d.model, checkIntervalMs }),
        }));
        if (o.svg !== undefined) {
          if (!rows.some((r) => r.falseSuspicionsPerHour > 0))
            throw new UsageError(
              '--svg: every false-suspicion rate is 0 (below 1e-300 an hour) at these settings, nothing to plot on a log scale; lower --pause or raise --jitter',
            );
          const series: Series[] = (['p50Ms', 'p99Ms'] as const).map((key) => ({
            name: `detection ${key.slice(0, 3)}`,
            points: rows.map((r) => ({
              x: r.falseSuspicionsPerHour,
              y: r.detection[key],
              label: r.detector,
            })),
          }));
          writeSvg(
            o.svg,
            lineChart(series, {
              title: `Detection time against false suspicions (${interArrival.kind === 'normal' ? `${ms(o.interval)} ± ${ms(o.jitter)}` : 'measured samples'})`,
              xLabel: 'false suspicions per member-hour (log scale)',
              yLabel: 'detection time of a crash, ms',
              logX: true,
            }),
          );
        }
        emit(out, rows, () =>
          formatTable(
            ['detector', 'suspects after', 'false suspicions/hour', 'detection mean', 'p50', 'p99'],
            rows.map((r) => [
              r.detector,
              ms(r.timeoutMs),
              num(r.falseSuspicionsPerHour),
              ms(r.detection.meanMs),
              ms(r.detection.p50Ms),
              ms(r.detection.p99Ms),
            ]),
          ),
        );
      },
    );
}

function placementCommand(out: Output): Command {
  return new Command('placement')
    .description('expected peak/average load and keys moved per membership change for each hashing algorithm')
    .addOption(new Option('--members <n>', 'members (equal weights)').argParser(parseWhole).default(10))
    .addOption(
      new Option('--keys <n>', 'keys placed (default: shares of the hash space)').argParser(parseWhole),
    )
    .addOption(
      new Option('--algorithm <name>', 'one algorithm (default: all)').choices([...PLACEMENT_ALGORITHMS]),
    )
    .addOption(new Option('--points <n>', 'ring points per member').argParser(parseWhole).default(160))
    .addOption(new Option('--table-size <n>', 'Maglev table size').argParser(parseWhole).default(65537))
    .addOption(new Option('--slots <n>', 'slot count').argParser(parseWhole).default(16384))
    .addOption(new Option('--epsilon <e>', 'bounded-load ε').argParser(parsePositive).default(0.25))
    .addOption(
      new Option(
        '--target <ratio>',
        'also print the ring points per member needed for this peak/average (> 1)',
      ).argParser(parsePositive),
    )
    .option('--json', 'print JSON')
    .action(
      (o: {
        members: number;
        keys?: number;
        algorithm?: PlacementAlgorithm;
        points: number;
        tableSize: number;
        slots: number;
        epsilon: number;
        target?: number;
        json?: boolean;
      }) => {
        out.json = o.json === true;
        const rows = (o.algorithm === undefined ? PLACEMENT_ALGORITHMS : [o.algorithm]).map((algorithm) =>
          placementModel({
            algorithm,
            members: o.members,
            keys: o.keys,
            pointsPerNode: o.points,
            tableSize: o.tableSize,
            slotCount: o.slots,
            epsilon: o.epsilon,
          }),
        );
        const needed =
          o.target === undefined
            ? undefined
            : pointsPerNodeFor({ members: o.members, target: o.target, keys: o.keys });
        emit(
          out,
          o.target === undefined
            ? rows
            : { placements: rows, target: o.target, pointsPerNode: needed ?? null },
          () => {
            const table = formatTable(
              ['algorithm', 'peak/average', 'load cv', 'moved on add', 'moved on remove'],
              rows.map((r) => [
                r.algorithm,
                num(r.peakToAverage),
                num(r.loadCv),
                `${r.movementIsLowerBound ? '≥ ' : ''}${(r.movedOnAdd * 100).toFixed(2)} %`,
                `${r.movementIsLowerBound ? '≥ ' : ''}${(r.movedOnRemove * 100).toFixed(2)} %`,
              ]),
            );
            if (o.target === undefined) return table;
            return `${table}\n\nring points per member for peak/average ≤ ${o.target}: ${needed ?? `none up to 65536 (with ${o.keys} keys the key noise alone exceeds it)`}`;
          },
        );
      },
    );
}

/** Handoff time by backend (bench/README.md: a release's commit plus its watch delivery). */
const HANDOFF_MS: Record<string, number> = { memory: 0.1, sqlite: 1, etcd: 2.4 };

function contentionCommand(out: Output): Command {
  return new Command('contention')
    .description('M/G/1 waits on one lock from the request rate and hold time, and its throughput bound')
    .addOption(
      new Option('--rate <per-second>', 'lock requests per second; a comma list for a table')
        .argParser(parsePositiveList)
        .default([1, 10, 50, 90]),
    )
    .addOption(new Option('--hold <duration>', 'mean hold time').argParser(parseMs).default(10, '10ms'))
    .addOption(
      new Option('--hold-dist <law>', 'hold time law')
        .choices(['constant', 'exponential'])
        .default('exponential'),
    )
    .addOption(
      new Option('--hold-cv <cv>', 'hold time std/mean (instead of --hold-dist)').argParser(parseNonNegative),
    )
    .addOption(
      new Option('--backend <store>', 'handoff time of this store')
        .choices(Object.keys(HANDOFF_MS))
        .default('sqlite'),
    )
    .addOption(
      new Option('--handoff <duration>', "handoff time (default: the backend's measured one)").argParser(
        parseMs,
      ),
    )
    .option('--json', 'print JSON')
    .action(
      (o: {
        rate: number[];
        hold: number;
        holdDist: 'constant' | 'exponential';
        holdCv?: number;
        backend: string;
        handoff?: number;
        json?: boolean;
      }) => {
        out.json = o.json === true;
        if (o.hold <= 0) throw new UsageError('--hold must be above 0');
        const hold: HoldTime =
          o.holdCv !== undefined
            ? { kind: 'general', meanMs: o.hold, cv: o.holdCv }
            : o.holdDist === 'constant'
              ? { kind: 'constant', ms: o.hold }
              : { kind: 'exponential', meanMs: o.hold };
        const handoffMs = o.handoff ?? HANDOFF_MS[o.backend]!;
        const rows = o.rate.map((arrivalsPerSecond) => ({
          arrivalsPerSecond,
          ...contentionModel({ arrivalsPerSecond, hold, handoffMs }),
        }));
        emit(out, rows, () =>
          formatTable(
            ['requests/s', 'utilisation', 'waits', 'mean wait', 'p50 wait', 'p99 wait', 'max holds/s'],
            rows.map((r) => [
              num(r.arrivalsPerSecond),
              r.stable
                ? `${(r.utilisation * 100).toFixed(1)} %`
                : `${(r.utilisation * 100).toFixed(1)} % (saturated)`,
              `${(r.waitProbability * 100).toFixed(1)} %`,
              ms(r.meanWaitMs),
              ms(r.p50WaitMs),
              ms(r.p99WaitMs),
              num(r.maxThroughputPerSecond),
            ]),
          ),
        );
      },
    );
}

function writeSvg(file: string, svg: string): void {
  try {
    writeFileSync(file, svg);
  } catch (err) {
    throw new UsageError(`--svg: cannot write ${file}: ${(err as Error).message}`);
  }
}

/**
 * Runs `tenure model ARGS...`; resolves with the exit code (0, or 2 for bad input, printed as one
 * line on stderr).
 */
export async function runModel(args: readonly string[]): Promise<number> {
  const chunks: string[] = [];
  const out: Output = { json: false, write: (text) => chunks.push(text) };
  const program = new Command('tenure model')
    .description(
      'what a configuration will give: availability, failover, detector, placement, contention (docs/models.md)',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
      outputError: (text, write) =>
        write(`tenure: ${text.replace(/^error: /, '').trim()} (see tenure model --help)\n`),
    });
  for (const make of [
    availabilityCommand,
    failoverCommand,
    detectorCommand,
    placementCommand,
    contentionCommand,
  ]) {
    const sub = make(out).exitOverride();
    sub.configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
      outputError: (text, write) =>
        write(`tenure: ${text.replace(/^error: /, '').trim()} (see tenure model ${sub.name()} --help)\n`),
    });
    program.addCommand(sub);
  }
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError)
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' ? 0 : EXIT_USAGE;
    if (err instanceof UsageError) return fail(err.message);
    if (err instanceof TenureError && err.code === 'TENURE_INVALID_ARGUMENT') {
      const argument = String(err.details.argument ?? '');
      return fail(FLAG_OF[argument] !== undefined ? `${FLAG_OF[argument]}: ${err.message}` : err.message);
    }
    throw err;
  }
  if (chunks.length === 0 && args.length === 0) {
    program.outputHelp();
    return EXIT_USAGE;
  }
  process.stdout.write(chunks.join(''));
  return 0;
}

function fail(message: string): number {
  process.stderr.write(`tenure: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  return EXIT_USAGE;
}
