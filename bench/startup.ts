/**
 * Start-up: whole processes, timed from outside and side by side.
 *
 * - `node -e 0`, the floor every command stands on; `tenure --version`; `tenure lock NAME -- true`
 *   on a SQLite store in a temporary directory (store opened, session, lock, CMD run as a process
 *   group, unlock, close); and, for reference, the least any Node program doing that job costs
 *   (bench/workers/lock-floor.ts: a SQLite row written, `true` run, the row deleted). The commands run in turn, round after round (each round in a new
 *   order), so that a change of the machine's speed hits them all alike; each command's ratio to
 *   `node -e 0` is taken within a round, and the table gives the median of those ratios.
 *   Wall time: from spawn to exit, as the parent sees it. CPU: user + system time of the process
 *   and the children it waited for, from this process's children's times in /proc/self/stat
 *   (clock ticks, so a mean over the rounds rather than a median).
 * - Opening an etcd store (3-member cluster on loopback): the CPU a process spends from loading a
 *   package entry (`tenure/etcd`, or `tenure` and openStore) to the first answer of the store
 *   (bench/workers/etcd-open.ts).
 * Each checkout runs what its package.json names (the `bin`, the `exports` for `import`): what a
 * user installs.
 *
 * Before and after in one run: `TENURE_BENCH_BASELINE=/path/to/another/checkout` (built, with its
 * own node_modules or a link to one) measures that checkout's CLI and store in the same rounds,
 * named by `TENURE_BENCH_BASELINE_NAME`. Without it, the baseline rows of the previous results
 * file are kept and dated. `TENURE_BENCH_STARTUP_ROUNDS` sets the rounds (default 30).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EtcdCluster } from '../test/helpers/etcd-cluster.js';
import { benchDir, percentile, table, writeResults } from './report.js';

const ROUNDS = Number(process.env.TENURE_BENCH_STARTUP_ROUNDS ?? 30);
const WARMUP_ROUNDS = 2;
const ETCD_RUNS = Math.max(5, Math.round(ROUNDS / 2));
const root = resolve(benchDir, '..');
const r1 = (x: number) => Number(x.toFixed(1));
const r2 = (x: number) => Number(x.toFixed(2));
const median = (xs: readonly number[]) => percentile(xs, 50);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Clock ticks per second of /proc's times. */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time of the children this process has waited for, in ms (cutime + cstime). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of stat(5), counted from pid = 1: after "pid (comm) ", index 13 and 14.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS;
}

interface Timed {
  wallMs: number;
  cpuMs: number;
  code: number | null;
}

/** Runs `argv` to its end, its output thrown away; wall and CPU time as described above. */
function timed(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolvePromise, reject) => {
    const cpu0 = childrenCpuMs();
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', env });
    child.once('error', reject);
    child.once('exit', (code) => {
      const wallMs = performance.now() - t0;
      resolvePromise({ wallMs, cpuMs: childrenCpuMs() - cpu0, code });
    });
  });
}

/** A command of the table. */
interface Case {
  /** Which code: 'current' or the baseline's name. */
  code: string;
  command: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
}

interface CommandResult {
  code: string;
  command: string;
  runs: number;
  wallP50Ms: number;
  /** Median over the rounds of (this command's wall / `node -e 0`'s wall in the same round). */
  wallRatioP50: number;
  cpuMeanMs: number;
  /** Mean CPU over mean CPU of `node -e 0`. */
  cpuRatio: number;
  measured: string;
}

interface EtcdOpenResult {
  code: string;
  /** The package entry loaded: `tenure/etcd` (the store alone) or `tenure` (openStore by URL). */
  entry?: string;
  runs: number;
  cpuP50Ms: number;
  cpuMinMs: number;
  wallP50Ms: number;
  /** CPU of opening a second store in the same process, to its first answer (modules loaded). */
  secondStoreCpuP50Ms?: number;
  measured: string;
}

interface StartupResults {
  commands: CommandResult[];
  etcdOpen: EtcdOpenResult[];
}

function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A checkout's package.json: where its command and its main entry are (what users install). */
function packageFile(checkout: string, pick: (pkg: PackageJson) => string | undefined): string {
  const pkg = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as PackageJson;
  const file = pick(pkg);
  if (file === undefined) throw new Error(`${checkout}/package.json names no such file`);
  const path = join(checkout, file);
  if (!existsSync(path)) throw new Error(`${path} is missing: build ${checkout} first (npm run build)`);
  return path;
}

interface PackageJson {
  bin: { tenure?: string };
  exports: Record<string, { import?: string; default?: string }>;
}

function cliCases(code: string, checkout: string, dir: string): Case[] {
  const cli = packageFile(checkout, (pkg) => pkg.bin.tenure);
  const env = { ...process.env, TENURE_STORE: `sqlite:${join(dir, `${code.replace(/\W/g, '_')}.db`)}` };
  return [
    { code, command: 'tenure --version', argv: [process.execPath, cli, '--version'], env },
    {
      code,
      command: 'tenure lock NAME -- true (SQLite)',
      argv: [process.execPath, cli, 'lock', 'startup-bench', '--', 'true'],
      env,
    },
  ];
}

async function measureCommands(
  baseline: { name: string; dir: string } | undefined,
): Promise<CommandResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tenure-bench-startup-'));
  try {
    const floor: Case = {
      code: 'node',
      command: 'node -e 0',
      argv: [process.execPath, '-e', '0'],
      env: process.env,
    };
    const lockFloor: Case = {
      code: 'node',
      command: 'floor: SQLite open, write, run true, delete (no tenure)',
      argv: [
        process.execPath,
        join(root, 'dist', 'bench', 'workers', 'lock-floor.js'),
        join(dir, 'floor.db'),
        'true',
      ],
      env: process.env,
    };
    const cases = [
      floor,
      lockFloor,
      ...cliCases('current', root, dir),
      ...(baseline ? cliCases(baseline.name, baseline.dir, dir) : []),
    ];
    const samples = new Map<Case, Timed[]>(cases.map((c) => [c, []]));
    const ratios = new Map<Case, number[]>(cases.map((c) => [c, []]));
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const inRound = new Map<Case, Timed>();
      for (const c of shuffled(cases)) {
        const t = await timed(c.argv, c.env);
        if (t.code !== 0) throw new Error(`${c.command} (${c.code}) exited with ${t.code}`);
        inRound.set(c, t);
      }
      if (round < WARMUP_ROUNDS) continue;
      const base = inRound.get(floor)!;
      for (const c of cases) {
        samples.get(c)!.push(inRound.get(c)!);
        ratios.get(c)!.push(inRound.get(c)!.wallMs / base.wallMs);
      }
    }
    const floorCpu = mean(samples.get(floor)!.map((t) => t.cpuMs));
    const measured = new Date().toISOString();
    return cases.map((c) => {
      const s = samples.get(c)!;
      const cpu = mean(s.map((t) => t.cpuMs));
      return {
        code: c.code,
        command: c.command,
        runs: s.length,
        wallP50Ms: r1(median(s.map((t) => t.wallMs))),
        wallRatioP50: r2(median(ratios.get(c)!)),
        cpuMeanMs: r1(cpu),
        cpuRatio: r2(cpu / floorCpu),
        measured,
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface EtcdOpenRun {
  cpuMs: number;
  wallMs: number;
  secondStoreCpuMs: number;
}

/** Runs a worker of bench/workers/ that opens a client and prints an {@link EtcdOpenRun}. */
async function etcdOpen(worker: string, args: string[]): Promise<EtcdOpenRun> {
  const path = join(root, 'dist', 'bench', 'workers', worker);
  const out = execFileSync(process.execPath, [path, ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as EtcdOpenRun;
}

/** The package entries an etcd store is opened through. */
const ENTRIES = ['tenure/etcd', 'tenure'] as const;

async function measureEtcdOpen(
  baseline: { name: string; dir: string } | undefined,
): Promise<EtcdOpenResult[]> {
  const cluster = await EtcdCluster.start();
  try {
    const url = `etcd://${cluster.endpoints.join(',')}`;
    // What `import ... from 'tenure/etcd'` and `from 'tenure'` load in that checkout.
    const entry = (checkout: string, sub: string) =>
      packageFile(checkout, (pkg) => pkg.exports[sub]?.import ?? pkg.exports[sub]?.default);
    const checkouts = [
      { code: 'current', dir: root },
      ...(baseline ? [{ code: baseline.name, dir: baseline.dir }] : []),
    ];
    const codes = [
      ...checkouts.flatMap(({ code, dir }) =>
        ENTRIES.map((e) => ({
          key: `${code} ${e}`,
          code,
          entry: e,
          worker: 'etcd-open.js',
          args: [entry(dir, e === 'tenure' ? '.' : './etcd'), url],
        })),
      ),
      // The peer a user would pick instead: the etcd3 package's client.
      {
        key: 'etcd3',
        code: 'etcd3',
        entry: undefined,
        worker: 'etcd3-open.js',
        args: [cluster.endpoints.join(',')],
      },
    ];
    const runs = new Map(codes.map((c) => [c.key, [] as EtcdOpenRun[]]));
    for (let i = 0; i < 1 + ETCD_RUNS; i++)
      for (const c of shuffled(codes)) {
        const r = await etcdOpen(c.worker, c.args);
        if (i > 0) runs.get(c.key)!.push(r);
      }
    const measured = new Date().toISOString();
    return codes.map((c) => {
      const rs = runs.get(c.key)!;
      return {
        code: c.code,
        ...(c.entry === undefined ? {} : { entry: c.entry }),
        runs: rs.length,
        cpuP50Ms: r1(median(rs.map((r) => r.cpuMs))),
        cpuMinMs: r1(Math.min(...rs.map((r) => r.cpuMs))),
        wallP50Ms: r1(median(rs.map((r) => r.wallMs))),
        secondStoreCpuP50Ms: r1(median(rs.map((r) => r.secondStoreCpuMs))),
        measured,
      };
    });
  } finally {
    await cluster.stop();
  }
}

function previousResults(): StartupResults | undefined {
  try {
    return (
      JSON.parse(readFileSync(join(benchDir, 'results', 'startup.json'), 'utf8')) as {
        results: StartupResults;
      }
    ).results;
  } catch {
    return undefined;
  }
}

export async function run(): Promise<void> {
  const baselineDir = process.env.TENURE_BENCH_BASELINE;
  const baseline =
    baselineDir === undefined
      ? undefined
      : { name: process.env.TENURE_BENCH_BASELINE_NAME ?? baselineDir, dir: resolve(baselineDir) };
  const commands = await measureCommands(baseline);
  for (const c of commands) console.log(JSON.stringify(c));
  const etcd = await measureEtcdOpen(baseline);
  for (const e of etcd) console.log(JSON.stringify(e));

  // Without a baseline in this run, keep the previous run's baseline rows (dated in the table).
  const previous = previousResults();
  const keptCommands = baseline
    ? []
    : (previous?.commands ?? []).filter((c) => c.code !== 'current' && c.code !== 'node');
  const keptEtcd = baseline
    ? []
    : (previous?.etcdOpen ?? []).filter((e) => e.code !== 'current' && e.code !== 'etcd3');
  const results: StartupResults = {
    commands: [...commands, ...keptCommands],
    etcdOpen: [...etcd, ...keptEtcd],
  };

  const day = (iso: string) => iso.slice(0, 16).replace('T', ' ');
  const kept = keptCommands.length + keptEtcd.length > 0;
  const label = (code: string, measured: string) =>
    code === 'node'
      ? ''
      : code === 'current'
        ? 'this code'
        : kept
          ? `${code} (measured ${day(measured)} UTC)`
          : code;
  // Before above after, command by command.
  const order = (c: CommandResult) =>
    [...new Set(results.commands.map((x) => x.command))].indexOf(c.command) * 2 +
    (c.code === 'current' ? 1 : 0);
  const sorted = [...results.commands].sort((a, b) => order(a) - order(b));
  // The baseline, this code, then the peer.
  const etcdOrder = (e: EtcdOpenResult) =>
    e.code === 'etcd3' ? 10 : (e.entry === 'tenure' ? 2 : 0) + (e.code === 'current' ? 1 : 0);
  const sortedEtcd = [...results.etcdOpen].sort((a, b) => etcdOrder(a) - etcdOrder(b));
  const lockTarget = 1.3;
  const etcdTarget = 100;
  const rows = sorted.map((c) => [
    c.command,
    label(c.code, c.measured),
    `${c.wallP50Ms} ms`,
    c.command === 'node -e 0' ? '1' : `${c.wallRatioP50}×`,
    `${c.cpuMeanMs} ms`,
    c.command === 'node -e 0' ? '1' : `${c.cpuRatio}×`,
    c.command.startsWith('tenure lock')
      ? `≤ ${lockTarget}× wall: ${c.wallRatioP50 <= lockTarget ? 'met' : 'not met'}`
      : '',
  ]);
  const etcdRows = sortedEtcd.map((e) => [
    e.code === 'etcd3'
      ? 'etcd3 1.1.2 client, to its first answer (peer)'
      : e.entry === 'tenure'
        ? "openStore('etcd://...') from tenure, to its first answer"
        : 'open an etcd store (new EtcdStore from tenure/etcd), to its first answer',
    e.code === 'etcd3' ? '' : label(e.code, e.measured),
    `${e.wallP50Ms} ms`,
    '',
    `${e.cpuP50Ms} ms (p50; min ${e.cpuMinMs}; a second store ${e.secondStoreCpuP50Ms ?? '?'})`,
    '',
    e.code === 'etcd3' || e.entry === 'tenure'
      ? ''
      : `≤ ${etcdTarget} ms CPU: ${e.cpuP50Ms <= etcdTarget ? 'met' : 'not met'}`,
  ]);
  const md = [
    '## Start-up',
    '',
    `Whole processes, started by \`node dist/bench/run.js startup\` one after another in ${ROUNDS} rounds (each round in a new order, after ${WARMUP_ROUNDS} rounds not counted). Wall: spawn to exit, median; "× node" is the median over rounds of the ratio to \`node -e 0\` in the same round. CPU: user + system of the process and the children it waited for (the lock's CMD and its gate), mean over the rounds. The floor row (bench/workers/lock-floor.ts) is what any Node program that takes a SQLite lock row, runs \`true\` and deletes the row costs, with no option parsing, session, queue or process-group supervision. Each code runs what its package.json names, as a user installs it: the command of \`bin\`, the entries of \`exports\` (for \`import\`). The etcd rows are the CPU one process spends from loading a package entry to the store's first answer: \`tenure/etcd\` (the store alone, \`new EtcdStore\`) or \`tenure\` (the main entry, with the recipes, and \`openStore(url)\`) (${ETCD_RUNS} processes per code and entry, 3-member etcd cluster on loopback); it excludes Node's own start; "a second store" is the same for a second store opened in that process, its modules loaded (what connecting and the first call cost). On a shared 2-core machine: compare rows of one run, not absolute times.`,
    '',
    table(
      ['command', 'code', 'wall p50', '× node (wall)', 'CPU', '× node (CPU)', 'target'],
      [...rows, ...etcdRows],
    ),
  ].join('\n');
  writeResults('startup', results, md);
}
