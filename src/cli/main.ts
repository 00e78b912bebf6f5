#!/usr/bin/env node
/**
 * The `tenure` command line: run a command under a lock or as an elected singleton, look at a
 * fleet (status, watch, dashboard), and watch the whole system work (demo).
 *
 * Exit codes: CMD's own for `lock` and `elect`; 2 for bad input (a bad option, NAME or store URL,
 * a missing `--`, an unreachable store), printed as one line; 3 when `lock` could not take the
 * lock (`--no-wait`, `--timeout`).
 */
import { Command, CommanderError, Option } from 'commander';
import { parseCount, parseDuration, parsePort } from './duration.js';
import { exitAfterOutput } from './exit.js';
import { DEFAULT_STORE_URL, resolveStoreUrl } from './store-url.js';
import { EXIT_USAGE, UsageError, exitWith, isUserError } from './usage-error.js';

const storeOption = () =>
  new Option(
    '--store <url>',
    `store URL: sqlite:path.db, sqlite:///abs/path.db, etcd://host:2379, memory: (env TENURE_STORE; default ${DEFAULT_STORE_URL})`,
  );

/** Splits `argv` at the first `--`: what commander parses, and the user's command after it. */
function splitCommand(argv: readonly string[]): { own: string[]; command: string[] | undefined } {
  const i = argv.indexOf('--');
  return i < 0
    ? { own: [...argv], command: undefined }
    : { own: argv.slice(0, i), command: argv.slice(i + 1) };
}

function requireCommand(verb: string, command: string[] | undefined, extra: readonly string[]): string[] {
  if (command === undefined)
    throw new UsageError(
      `missing -- before the command: tenure ${verb} NAME -- CMD ARGS…${extra.length > 0 ? ` (got ${extra.join(' ')})` : ''}`,
    );
  if (command.length === 0) throw new UsageError(`missing CMD after --: tenure ${verb} NAME -- CMD ARGS…`);
  return command;
}

/** Builds the program; `run` receives each action's exit code. */
export function buildProgram(command: string[] | undefined, run: (code: Promise<number>) => void): Command {
  const program = new Command('tenure')
    .description(
      'High availability for fleets of Node.js processes: locks, elections, membership, on one store.',
    )
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`tenure: ${text.replace(/^error: /, '').trim()} (see --help)\n`),
    });

  program
    .command('lock')
    .description('run CMD while holding the lock NAME; its fencing token is in TENURE_FENCING_TOKEN')
    .usage('[options] NAME -- CMD [ARGS...]')
    .argument('<NAME>', 'lock name: letters, digits and . _ : @ -')
    .allowExcessArguments()
    .addOption(storeOption())
    .option(
      '--timeout <duration>',
      'give up (exit 3) if the lock is not taken within this time',
      parseDuration,
    )
    .option('--no-wait', 'exit 3 at once if the lock is held')
    .option(
      '--ttl <duration>',
      'session ttl: how long the lock outlives a crashed tenure',
      parseDuration,
      10_000,
    )
    .option(
      '--grace <duration>',
      'time between SIGTERM and SIGKILL when CMD must stop',
      parseDuration,
      10_000,
    )
    .addHelpText(
      'after',
      "\nIf the lock is lost, CMD gets SIGTERM, then SIGKILL after --grace. CMD's exit code is passed through.\nExample: tenure lock nightly-report -- node report.js",
    )
    .action(
      async (
        name: string,
        o: { store?: string; timeout?: number; wait: boolean; ttl: number; grace: number },
        cmd: Command,
      ) => {
        const argv = requireCommand('lock', command, cmd.args.slice(1));
        const { runLock } = await import('./lock.js');
        run(
          runLock(name, argv, {
            store: resolveStoreUrl(o.store),
            timeoutMs: o.timeout,
            noWait: !o.wait,
            ttlMs: o.ttl,
            graceMs: o.grace,
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
    .argument('<NAME>', 'election name: letters, digits and . _ : @ -')
    .allowExcessArguments()
    .addOption(storeOption())
    .option(
      '--ttl <duration>',
      'session ttl: the failover time after a crash of this supervisor',
      parseDuration,
      10_000,
    )
    .option(
      '--grace <duration>',
      'time between SIGTERM and SIGKILL when CMD must stop',
      parseDuration,
      10_000,
    )
    .option('--value <text>', 'what this candidate proclaims (default host:pid)')
    .option(
      '--backoff <duration>',
      'first restart delay when CMD exits while leading (doubles)',
      parseDuration,
      500,
    )
    .option('--max-backoff <duration>', 'longest restart delay', parseDuration, 30_000)
    .addHelpText('after', '\nExample: tenure elect billing-cron -- node cron.js')
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
        },
        cmd: Command,
      ) => {
        const argv = requireCommand('elect', command, cmd.args.slice(1));
        const { runElect } = await import('./elect.js');
        run(
          runElect(name, argv, {
            store: resolveStoreUrl(o.store),
            ttlMs: o.ttl,
            graceMs: o.grace,
            value: o.value,
            backoffMs: o.backoff,
            maxBackoffMs: o.maxBackoff,
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
    .command('demo')
    .description('start a fleet of worker processes on an embedded store, inject faults, and report')
    .option('--workers <n>', 'worker processes', parseCount, 5)
    .option('--duration <duration>', 'how long the fleet runs', parseDuration, 20_000)
    .option('--store <url>', 'store URL (default: a SQLite file in a temporary directory)')
    .option('--no-dashboard', 'do not serve the dashboard')
    .option('--port <n>', 'dashboard port (0: any free port)', parsePort, 4646)
    .option('--json', 'print the report as JSON')
    .option(
      '--ttl <duration>',
      "workers' session ttl (default 1s, raised to the store's minimum: 2s on etcd)",
      parseDuration,
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
