#!/usr/bin/env node
/**
 * The `tenure` command line: run a command under a lock or as an elected singleton, look at a
 * fleet (status, watch, dashboard), and watch the whole system work (demo).
 *
 * Exit codes: CMD's own for `lock` and `elect`; 2 for bad input (a bad option, NAME or store URL,
 * a missing `--`, an unreachable store), printed as one line; 3 when `lock` could not take the
 * lock (`--no-wait`, `--timeout`); 4 when `lock` lost the lock while CMD ran (CMD was stopped);
 * 5 when `elect` gave leadership up because CMD failed `--max-failures` times within
 * `--failure-window`; 128 + the signal's number when a signal stopped `lock` while it waited.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { formatDuration, parseCount, parseDuration, parsePort } from './duration.js';
import { exitAfterOutput } from './exit.js';
import { DEFAULT_STORE_URL, resolveStoreUrl } from './store-url.js';
import { EXIT_USAGE, UsageError, exitWith, isUserError } from './usage-error.js';

const storeOption = () =>
  new Option(
    '--store <url>',
    `store URL: sqlite:path.db, sqlite:///abs/path.db, etcd://host:2379, postgres://user@host/db, redis://host:6379, memory: (env TENURE_STORE; default ${DEFAULT_STORE_URL})`,
  );

/** The package's version, from its package.json (three levels above dist/src/cli/main.js). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `--layout` of lock and elect (see cli/layout.ts). */
const layoutOption = () =>
  new Option(
    '--layout <layout>',
    "key layout: tenure, or etcd for the keys of etcd's concurrency package (etcdctl lock/elect, Go concurrency.Mutex/Election), which then opens the store at the root unless the URL gives ?namespace=",
  )
    .choices(['tenure', 'etcd'])
    .default('tenure');

/** A duration option whose help shows its default as a duration (`10s`, not `10000`). */
const durationOption = (flags: string, description: string, defaultMs?: number) => {
  const option = new Option(flags, description).argParser(parseDuration);
  return defaultMs === undefined ? option : option.default(defaultMs, formatDuration(defaultMs));
};

/** Splits `argv` at the first `--`: what commander parses, and the user's command after it. */
function splitCommand(argv: readonly string[]): { own: string[]; command: string[] | undefined } {
  const i = argv.indexOf('--');
  return i < 0
    ? { own: [...argv], command: undefined }
    : { own: argv.slice(0, i), command: argv.slice(i + 1) };
}

/**
 * The user's command, given commander's arguments (NAME and what it left over). `lock` and `elect`
 * accept unknown options so that `tenure lock job node -e 1` (no `--`) is reported as the
 * missing `--` it is, rather than as tenure's unknown option `-e`; with a `--`, anything left
 * over before it is a mistake among tenure's own options.
 */
function requireCommand(
  verb: string,
  command: string[] | undefined,
  args: readonly string[],
  options: readonly Option[],
): string[] {
  // An unknown option before NAME takes NAME's place: report the option.
  const extra = args[0]?.startsWith('-') ? args : args.slice(1);
  if (command === undefined)
    throw new UsageError(
      `missing -- before the command: tenure ${verb} NAME [options] -- CMD ARGS…${extra.length > 0 ? ` (got ${extra.join(' ')})` : ''}`,
    );
  const [first] = extra;
  if (first !== undefined)
    throw new UsageError(
      first.startsWith('-')
        ? `unknown option '${first}'${didYouMean(first, options)} (see tenure ${verb} --help)`
        : `unexpected argument '${first}' before --: tenure ${verb} NAME [options] -- CMD ARGS…`,
    );
  if (command.length === 0) throw new UsageError(`missing CMD after --: tenure ${verb} NAME -- CMD ARGS…`);
  return command;
}

/** ` (did you mean --timeout?)` for a flag within two edits of a known one, else ''. */
function didYouMean(flag: string, options: readonly Option[]): string {
  const name = flag.split('=')[0]!;
  let best: { long: string; distance: number } | undefined;
  for (const long of options.map((o) => o.long).filter((l): l is string => l !== undefined)) {
    const distance = editDistance(name, long);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { long, distance };
  }
  return best ? ` (did you mean ${best.long}?)` : '';
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** Builds the program; `run` receives each action's exit code. */
export function buildProgram(command: string[] | undefined, run: (code: Promise<number>) => void): Command {
  const program = new Command('tenure')
    .description(
      'High availability for fleets of Node.js processes: locks, elections, membership, on one store.',
    )
    .version(packageVersion(), '-V, --version', 'print the version of tenure')
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`tenure: ${text.replace(/^error: /, '').trim()} (see --help)\n`),
    });

  program
    .command('lock')
    .description('run CMD while holding the lock NAME; its fencing token is in TENURE_FENCING_TOKEN')
    .usage('[options] NAME -- CMD [ARGS...]')
    .argument(
      '<NAME>',
      'lock name: letters, digits and . _ : @ - (with --layout etcd, any text, as etcdctl takes it)',
    )
    .allowExcessArguments()
    .allowUnknownOption()
    .addOption(storeOption())
    .addOption(
      durationOption(
        '--timeout <duration>',
        'give up (exit 3) if the lock is not taken within this time (default: no limit)',
      ).conflicts('wait'),
    )
    .option('--no-wait', 'exit 3 at once if the lock is held, naming its holder')
    .option('--json', 'status lines on stderr as JSON objects, one per line (acquired, lost, released, exit)')
    .addOption(layoutOption())
    .addOption(
      durationOption(
        '--ttl <duration>',
        'session ttl: how long the lock outlives a crashed tenure; also the longest wait for the store to confirm the unlock',
        10_000,
      ),
    )
    .addOption(
      durationOption(
        '--grace <duration>',
        "time between SIGTERM and SIGKILL when CMD's process group must stop",
        10_000,
      ),
    )
    .addHelpText(
      'after',
      [
        '',
        'CMD runs as its own process group, which dies with tenure. Every signal goes to the whole group, and the',
        'lock is released only once no process of the group is left. SIGINT is passed on; SIGTERM, SIGHUP and',
        'SIGQUIT stop the group with SIGTERM; SIGKILL follows after --grace.',
        "Exit codes: CMD's own; 3 lock not taken; 4 lock lost while CMD ran (CMD was stopped); 128+n a signal",
        'while waiting (SIGTERM 143).',
        'Example: tenure lock nightly-report -- node report.js',
      ].join('\n'),
    )
    .action(
      async (
        name: string,
        o: {
          store?: string;
          timeout?: number;
          wait: boolean;
          ttl: number;
          grace: number;
          layout: 'tenure' | 'etcd';
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const argv = requireCommand('lock', command, cmd.args, cmd.options);
        const { runLock } = await import('./lock.js');
        run(
          runLock(name, argv, {
            store: resolveStoreUrl(o.store),
            timeoutMs: o.timeout,
            noWait: !o.wait,
            ttlMs: o.ttl,
            graceMs: o.grace,
            json: o.json === true,
            layout: o.layout,
          }),
        );
      },
    );

  program
    .command('elect')
    .description(
      'run CMD only while this process leads the election NAME (a singleton supervisor); its term is in TENURE_TERM',
    )
    .usage('[options] NAME -- CMD [ARGS...]')
    .argument(
      '<NAME>',
      'election name: letters, digits and . _ : @ - (with --layout etcd, any text, as etcdctl takes it)',
    )
    .allowExcessArguments()
    .allowUnknownOption()
    .addOption(storeOption())
    .addOption(
      durationOption(
        '--ttl <duration>',
        'session ttl: the failover time after a crash of this supervisor',
        10_000,
      ),
    )
    .addOption(
      durationOption(
        '--grace <duration>',
        "time between SIGTERM and SIGKILL when CMD's process group must stop",
        10_000,
      ),
    )
    .option('--value <text>', 'what this candidate proclaims (default host:pid)')
    .option(
      '--json',
      'status lines on stderr as JSON objects, one per line (leading, lost, restarting, exit)',
    )
    .addOption(layoutOption())
    .addOption(
      new Option(
        '--restart <policy>',
        "which exits of CMD are restarted while leading; otherwise the supervisor resigns and exits with CMD's code",
      )
        .choices(['on-failure', 'always', 'never'])
        .default('on-failure'),
    )
    .addOption(
      durationOption('--backoff <duration>', 'first restart delay (doubles after each restart)', 500),
    )
    .addOption(durationOption('--max-backoff <duration>', 'longest restart delay', 30_000))
    .addOption(
      new Option(
        '--max-failures <n>',
        'give leadership up (resign, exit 5) after this many failures of CMD within --failure-window',
      )
        .argParser(parseCount)
        .default(5),
    )
    .addOption(
      durationOption('--failure-window <duration>', 'the window in which --max-failures count', 60_000),
    )
    .addHelpText(
      'after',
      [
        '',
        'CMD runs as its own process group, which dies with the supervisor; leadership is resigned only once no',
        'process of the group is left. A failure is a non-zero exit or a signal.',
        "Exit codes: 0 after SIGINT/SIGTERM/SIGHUP/SIGQUIT; CMD's own when it is not restarted; 5 when CMD failed",
        '--max-failures times within --failure-window.',
        'Example: tenure elect billing-cron -- node cron.js',
      ].join('\n'),
    )
    .action(
      async (
        name: string,
        o: {
          store?: string;
          ttl: number;
          grace: number;
          value?: string;
          backoff: number;
          maxBackoff: number;
          restart: 'on-failure' | 'always' | 'never';
          maxFailures: number;
          failureWindow: number;
          json?: boolean;
          layout: 'tenure' | 'etcd';
        },
        cmd: Command,
      ) => {
        const argv = requireCommand('elect', command, cmd.args, cmd.options);
        const { runElect } = await import('./elect.js');
        run(
          runElect(name, argv, {
            store: resolveStoreUrl(o.store),
            ttlMs: o.ttl,
            graceMs: o.grace,
            value: o.value,
            backoffMs: o.backoff,
            maxBackoffMs: o.maxBackoff,
            restart: o.restart,
            maxFailures: o.maxFailures,
            failureWindowMs: o.failureWindow,
            json: o.json === true,
            layout: o.layout,
          }),
        );
      },
    );

  program
    .command('status')
    .description('sessions, elections (leader, term, candidates), locks (holder, waiters), members and slots')
    .addOption(storeOption())
    .option('--json', 'print JSON instead of tables')
    .action(async (o: { store?: string; json?: boolean }) => {
      const { runStatus } = await import('./status.js');
      run(runStatus(resolveStoreUrl(o.store), o.json === true));
    });

  program
    .command('watch')
    .description('print fleet events as they happen: leader changes, locks, members, slot moves')
    .addOption(storeOption())
    .option('--json', 'print one JSON object per line')
    .action(async (o: { store?: string; json?: boolean }) => {
      const { runWatch } = await import('./status.js');
      run(runWatch(resolveStoreUrl(o.store), o.json === true));
    });

  program
    .command('dashboard')
    .description('serve a live web page of the fleet, and /metrics for Prometheus')
    .addOption(storeOption())
    .option('--port <n>', 'TCP port (0: any free port)', parsePort, 4646)
    .option('--host <address>', 'address to bind; anything but loopback needs --token', '127.0.0.1')
    .addOption(
      new Option('--token <secret>', 'access token required by every request (at least 16 characters)').env(
        'TENURE_DASHBOARD_TOKEN',
      ),
    )
    .action(async (o: { store?: string; port: number; host: string; token?: string }) => {
      const { runDashboard } = await import('./dashboard.js');
      run(runDashboard({ store: resolveStoreUrl(o.store), port: o.port, host: o.host, token: o.token }));
    });

  program
    .command('model')
    .description(
      'predict availability, failover time, false suspicions, placement or lock contention (tenure model --help)',
    )
    .argument('[args...]')
    .helpOption(false)
    .allowUnknownOption()
    .action(async (args: string[]) => {
      const { runModel } = await import('./model.js');
      run(runModel(args));
    });

  program
    .command('demo')
    .description('start a fleet of worker processes on an embedded store, inject faults, and report')
    .option('--workers <n>', 'worker processes', parseCount, 5)
    .addOption(durationOption('--duration <duration>', 'how long the fleet runs', 20_000))
    .option('--store <url>', 'store URL (default: a SQLite file in a temporary directory)')
    .option('--no-dashboard', 'do not serve the dashboard')
    .option('--port <n>', 'dashboard port (0: any free port)', parsePort, 4646)
    .option('--json', 'print the report as JSON')
    .addOption(
      durationOption(
        '--ttl <duration>',
        "workers' session ttl (default 1s, raised to the store's minimum: 2s on etcd)",
      ),
    )
    .action(
      async (o: {
        workers: number;
        duration: number;
        store?: string;
        dashboard: boolean;
        port: number;
        json?: boolean;
        ttl?: number;
      }) => {
        const { runDemo } = await import('./demo/orchestrator.js');
        run(
          runDemo({
            workers: o.workers,
            durationMs: o.duration,
            store: o.store,
            dashboard: o.dashboard,
            port: o.port,
            json: o.json === true,
            ttlMs: o.ttl,
          }),
        );
      },
    );
  program
    .command('verify')
    .description(
      'run a fenced workload (a lock, an election, a register) against a store with faults, and check the history',
    )
    .addOption(storeOption())
    .addOption(durationOption('--duration <duration>', 'how long the workload runs', 60_000))
    .option(
      '--faults <list>',
      'faults to inject: kill, pause (SIGSTOP past the ttl), partition (a network store cut off from one client past the ttl), comma-separated, or none',
      'kill,pause',
    )
    .option('--clients <n>', 'client processes running at once', parseCount, 3)
    .addOption(
      durationOption('--ttl <duration>', "clients' session ttl (raised to the store's minimum)", 1000),
    )
    .option(
      '--history <file>',
      'write the history (JSON lines) there; a register violation also as <file>.svg',
    )
    .addOption(
      new Option(
        '--inject <breakage>',
        'self-test: break the register store (lost-writes, stale-reads) or leave the lock unchecked (unchecked-lock): must fail',
      ).hideHelp(),
    )
    .option('--json', 'print the report as JSON')
    .action(
      async (o: {
        store?: string;
        duration: number;
        faults: string;
        clients: number;
        ttl: number;
        history?: string;
        inject?: string;
        json?: boolean;
      }) => {
        const { runVerify, parseFaults, parseInject } = await import('./verify.js');
        run(
          runVerify({
            store: resolveStoreUrl(o.store),
            durationMs: o.duration,
            faults: parseFaults(o.faults),
            clients: o.clients,
            ttlMs: o.ttl,
            json: o.json === true,
            ...(o.history === undefined ? {} : { historyOut: o.history }),
            ...(o.inject === undefined ? {} : { inject: parseInject(o.inject) }),
          }),
        );
      },
    );
  return program;
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const { own, command } = splitCommand(argv);
  let pending: Promise<number> | undefined;
  const program = buildProgram(command, (p) => (pending = p));
  try {
    await program.parseAsync(own, { from: 'user' });
    if (pending === undefined) {
      program.outputHelp();
      return own.length === 0 ? EXIT_USAGE : 0;
    }
    return await pending;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
        return 0;
      return EXIT_USAGE;
    }
    if (isUserError(err)) exitWith(err, EXIT_USAGE);
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => exitAfterOutput(code),
  (err: unknown) => {
    process.stderr.write(
      `tenure: internal error (please report it): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(70);
  },
);
