/**
 * `tenure lock` and `tenure elect` supervise CMD as a whole process group (issue 10 §1): real
 * processes, real signals (SIGTERM, SIGHUP, SIGQUIT, SIGKILL, SIGSTOP), a real pseudo-terminal,
 * and a SQLite store in a temporary directory. Needs `npm run build` first.
 *
 * Negative control: `TENURE_TEST_CLI=/path/to/older/dist/src/cli/main.js npx vitest run
 * test/cli/supervise.test.ts` runs the same tests against another build; against the code before
 * the supervision work every test here fails.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { groupAlive } from '../../src/cli/command.js';
import { parseDuration } from '../../src/cli/duration.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { eventually, sleep } from '../helpers/async.js';
import { startNode, type Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';

const CLI = process.env.TENURE_TEST_CLI ?? join(import.meta.dirname, '../../dist/pkg/cli.cjs');
const CMD = join(import.meta.dirname, '../fixtures/cli/command.mjs');
const SIGNAL_LOG = join(import.meta.dirname, '../fixtures/cli/signal-log.mjs');

let tmp: ReturnType<typeof tempDir>;
let dbPath: string;
let url: string;
const children: Child[] = [];
/**
 * Processes a test started (directly or not) that may outlive a failing test, with their start
 * times: a pid that has since been reused by another process is left alone.
 */
const orphans: { pid: number; startedAt: string | undefined }[] = [];
const remember = (...pids: number[]) =>
  orphans.push(...pids.map((pid) => ({ pid, startedAt: startTime(pid) })));

beforeEach(() => {
  tmp = tempDir('tenure-supervise-');
  dbPath = join(tmp.dir, 'store.db');
  url = `sqlite://${dbPath}`;
});
afterEach(() => {
  for (const c of children.splice(0)) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      c.proc.kill('SIGCONT');
      c.proc.kill('SIGKILL');
    }
  }
  for (const { pid, startedAt } of orphans.splice(0)) {
    if (startedAt === undefined || startTime(pid) !== startedAt) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  tmp.cleanup();
});

/** The start time of process `pid` (field 22 of /proc/pid/stat), or undefined if there is none. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True while `pid` is a live process (a zombie is not: it has ended, only its parent has not reaped it). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function cli(args: string[]) {
  return runCli(CLI, args, { cwd: tmp.dir, env: { TENURE_STORE: url } });
}

function start(args: string[]): Child {
  const c = startNode(CLI, args, { TENURE_STORE: url });
  children.push(c);
  return c;
}

/** Resolves with the exit code, or rejects if the process has not ended within `ms`. */
async function exitWithin(c: Child, ms: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      c.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`still running after ${ms} ms; stderr: ${c.stderr()}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function numberIn(line: string, field: string): number {
  const n = Number(new RegExp(`${field}=(-?\\d+)`).exec(line)?.[1]);
  if (!Number.isSafeInteger(n)) throw new Error(`no ${field}= in ${JSON.stringify(line)}`);
  return n;
}

function lockNames(): string[] {
  const r = cli(['status', '--json']);
  return (JSON.parse(r.stdout) as { locks: { name: string }[] }).locks.map((l) => l.name);
}

async function deleteKeys(prefix: string): Promise<number> {
  const store = new SqliteStore({ path: dbPath });
  try {
    return await store.delete(prefix, { prefix: true });
  } finally {
    await store.close();
  }
}

/** A CMD that ignores SIGTERM, as does its child (which inherits the ignored disposition). */
const STUBBORN = ['sh', '-c', 'trap "" TERM; sleep 20 & echo "ready sh=$$ sleep=$!"; wait'];
/** A CMD with a child, both of which stop on SIGTERM. */
const PARENT = ['sh', '-c', 'sleep 20 & echo "ready sh=$$ sleep=$!"; wait'];

describe('CMD is a process group: signals, waits and the release cover all of it', () => {
  it('lock: SIGTERM, then SIGKILL after --grace, reach the whole group before the lock is released', async () => {
    const c = start(['lock', 'grp', '--grace', '1s', '--', ...STUBBORN]);
    const ready = await c.waitFor((l) => l.startsWith('ready'));
    const child = numberIn(ready, 'sleep');
    remember(child);
    c.proc.kill('SIGTERM');
    expect(await exitWithin(c, 10_000)).toBe(137);
    expect(running(child)).toBe(false);
    expect(lockNames()).not.toContain('grp');
  });

  it('lock: what CMD leaves running when it exits is stopped before the lock is released', async () => {
    const c = start([
      'lock',
      'leftover',
      '--grace',
      '1s',
      '--',
      'sh',
      '-c',
      'sleep 20 & echo "ready sleep=$!"',
    ]);
    const child = numberIn(await c.waitFor((l) => l.startsWith('ready')), 'sleep');
    remember(child);
    expect(await exitWithin(c, 10_000)).toBe(0);
    expect(running(child)).toBe(false);
  });

  it('elect: SIGTERM stops the whole group, then the supervisor resigns and exits 0', async () => {
    const c = start(['elect', 'grp', '--ttl', '1s', '--grace', '1s', '--', ...STUBBORN]);
    const child = numberIn(await c.waitFor((l) => l.startsWith('ready')), 'sleep');
    remember(child);
    c.proc.kill('SIGTERM');
    expect(await exitWithin(c, 10_000)).toBe(0);
    expect(running(child)).toBe(false);
  });
  it('elect: a lost leadership stops the whole group before the supervisor campaigns again', async () => {
    const c = start(['elect', 'grp', '--ttl', '1s', '--grace', '1s', '--', ...STUBBORN]);
    const first = numberIn(await c.waitFor((l) => l.startsWith('ready')), 'sleep');
    remember(first);
    expect(await deleteKeys('election/grp/')).toBe(1);
    // The only candidate leads again, in a new term, once the first CMD's group has ended.
    const again = await c.waitFor((l) => l.startsWith('ready') && !l.includes(`sleep=${first}`), 10_000);
    remember(numberIn(again, 'sleep'));
    expect(running(first)).toBe(false);
    expect(c.stderr()).toMatch(/lost leadership of grp \(term \d+\): its key .* was deleted/);
    c.proc.kill('SIGTERM');
    expect(await exitWithin(c, 10_000)).toBe(0);
  });
});

describe('groupAlive', () => {
  it('does not count zombies: a group whose only process has ended but is not reaped is gone', async () => {
    // `sleep 30` is the parent of the setsid'd `sleep 0.1` (sh exec'd it) and never reaps it, as a
    // container's pid 1 may not: the dead child stays a zombie, alone in its group.
    const parent = spawn('sh', ['-c', 'setsid sleep 0.1 & echo $!; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const pgid = Number(
        await new Promise<string>((resolve) =>
          parent.stdout.once('data', (d: Buffer) => resolve(d.toString())),
        ),
      );
      await eventually(() => !running(pgid), 5000, 10);
      expect(existsSync(`/proc/${pgid}`)).toBe(true); // a zombie: kill(-pgid, 0) still succeeds
      expect(() => process.kill(-pgid, 0)).not.toThrow();
      expect(groupAlive(pgid)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('CMD dies with its supervisor', () => {
  for (const verb of ['lock', 'elect'])
    it(`${verb}: SIGKILL of tenure ends CMD and its children within 1 s`, async () => {
      const c = start([verb, 'crash', '--ttl', '1s', '--', ...PARENT]);
      const ready = await c.waitFor((l) => l.startsWith('ready'));
      const pids = [numberIn(ready, 'sh'), numberIn(ready, 'sleep')];
      remember(...pids);
      const killedAt = performance.now();
      c.proc.kill('SIGKILL');
      await eventually(() => !pids.some(running), 5000, 5).catch((err: unknown) => {
        throw new Error(
          `${String(err)}: ${spawnSync('ps', ['-o', 'pid,ppid,pgid,sid,stat,args', '-p', pids.join(',')], { encoding: 'utf8' }).stdout}; stderr: ${c.stderr()}`,
        );
      });
      const tookMs = performance.now() - killedAt;
      expect(tookMs, `CMD's group outlived its supervisor by ${Math.round(tookMs)} ms`).toBeLessThan(1000);
    });
});

describe('signals to tenure', () => {
  for (const signal of ['SIGHUP', 'SIGQUIT'] as const)
    it(`${signal} is handled like SIGTERM: CMD is stopped, the lock released`, async () => {
      const c = start(['lock', 'hup', '--', process.execPath, CMD, 'wait']);
      remember(numberIn(await c.waitFor((l) => l.startsWith('ready')), 'pid'));
      c.proc.kill(signal);
      await c.waitFor((l) => l === 'got SIGTERM', 10_000);
      expect(await exitWithin(c, 10_000)).toBe(143);
      expect(lockNames()).not.toContain('hup');
    });

  for (const [verb, exitCode] of [
    ['lock', 130],
    ['elect', 0],
  ] as const)
    it(`${verb}: one Ctrl-C in a terminal delivers exactly one signal to CMD, a SIGINT`, async () => {
      const log = join(tmp.dir, 'signals.log');
      const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
      // `exec`: the shell script(1) starts ($SHELL, or /bin/sh where SHELL is unset, as under CI)
      // must not stay in the terminal's foreground group as tenure's parent. dash does not exec a
      // lone command by itself; it would take the Ctrl-C too, and its exit status, not tenure's,
      // would be what script reports.
      const line = `exec ${[process.execPath, CLI, verb, 'tty', '--', process.execPath, SIGNAL_LOG, log]
        .map(quote)
        .join(' ')}`;
      // script(1) runs the line in a new session whose controlling terminal is a pseudo-terminal,
      // and copies its stdin to the terminal's master side: \x03 there is a Ctrl-C typed by a user.
      const term = spawn('script', ['-q', '-e', '-c', line, '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, TENURE_STORE: url },
        cwd: tmp.dir,
      });
      let screen = '';
      term.stdout.on('data', (d: Buffer) => (screen += d.toString()));
      const exited = new Promise<number | null>((resolve) => term.once('exit', (code) => resolve(code)));
      try {
        const read = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
        await eventually(() => read().includes('ready'), 20_000, 20);
        remember(numberIn(read(), 'pid'));
        term.stdin.write('\x03');
        const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout')]);
        expect(code, screen).toBe(exitCode);
        expect(read().match(/got \w+/g)).toEqual(['got SIGINT']);
        // Two SIGINTs sent within a moment of each other can merge into one pending signal, so the
        // count alone may miss a double delivery. The terminal signals its foreground group: CMD
        // must not be in it, since tenure passes the Ctrl-C on.
        const ready = read().split('\n')[0]!;
        expect(numberIn(ready, 'tpgid')).not.toBe(numberIn(ready, 'pgrp'));
      } finally {
        term.kill('SIGKILL');
      }
    });
});

describe('a lost lock', () => {
  it('key deleted: the group is stopped, exit 4, and the message says the key was deleted', async () => {
    const c = start(['lock', 'lose', '--grace', '1s', '--', ...STUBBORN]);
    const child = numberIn(await c.waitFor((l) => l.startsWith('ready')), 'sleep');
    remember(child);
    expect(await deleteKeys('mutex/lose/')).toBe(1);
    expect(await exitWithin(c, 10_000)).toBe(4);
    expect(running(child)).toBe(false);
    expect(c.stderr()).toMatch(/lock lose lost: its key .* was deleted/);
  });

  it('lease expired: exit 4, and the message says the lease expired', async () => {
    const c = start(['lock', 'expire', '--ttl', '1s', '--grace', '1s', '--', process.execPath, CMD, 'wait']);
    remember(numberIn(await c.waitFor((l) => l.startsWith('ready')), 'pid'));
    // A frozen supervisor: no heartbeats for 2.5 ttl, so its lease expires.
    c.proc.kill('SIGSTOP');
    await sleep(2500);
    c.proc.kill('SIGCONT');
    await c.waitFor((l) => l === 'got SIGTERM', 10_000);
    expect(await exitWithin(c, 10_000)).toBe(4);
    expect(c.stderr()).toMatch(/lock expire lost: its session's lease expired/);
  });
});

describe('tenure elect: restart policy', () => {
  const elect = ['elect', 'job', '--ttl', '1s', '--grace', '1s', '--backoff', '50ms'];

  it('on-failure (the default): a clean exit is not restarted; the supervisor resigns and exits 0', async () => {
    const c = start([...elect, '--', process.execPath, CMD, 'exit:0']);
    expect(await exitWithin(c, 10_000)).toBe(0);
    expect(c.lines.filter((l) => l.startsWith('ready'))).toHaveLength(1);
    expect(c.stderr()).toMatch(/--restart on-failure/);
  });

  it('always: a clean exit is restarted', async () => {
    const c = start([...elect, '--restart', 'always', '--', process.execPath, CMD, 'exit:0']);
    await eventually(() => c.lines.filter((l) => l.startsWith('ready')).length >= 3, 10_000, 20);
    c.proc.kill('SIGTERM');
    expect(await exitWithin(c, 10_000)).toBe(0);
  });

  it("never: a failure is not restarted; the supervisor exits with CMD's code", async () => {
    const c = start([...elect, '--restart', 'never', '--', process.execPath, CMD, 'exit:7']);
    expect(await exitWithin(c, 10_000)).toBe(7);
    expect(c.lines.filter((l) => l.startsWith('ready'))).toHaveLength(1);
  });

  it('a crash-looping CMD gives leadership up after --max-failures in --failure-window; another takes over', async () => {
    const a = start([
      ...elect,
      '--max-failures',
      '3',
      '--failure-window',
      '30s',
      '--',
      process.execPath,
      CMD,
      'exit:1',
    ]);
    await a.waitFor((l) => l.startsWith('ready'));
    const b = start([...elect, '--', process.execPath, CMD, 'wait']);
    expect(await exitWithin(a, 10_000)).toBe(5);
    expect(a.lines.filter((l) => l.startsWith('ready'))).toHaveLength(3);
    expect(a.stderr()).toMatch(/failed 3 times within 30000 ms/);
    remember(numberIn(await b.waitFor((l) => l.startsWith('ready'), 10_000), 'pid'));
    b.proc.kill('SIGTERM');
    expect(await exitWithin(b, 10_000)).toBe(0);
  });
});

describe('every wait after CMD is bounded', () => {
  /** Makes the store fail every delete of the lock's keys, while heartbeats go on working. */
  function refuseDeletes(name: string) {
    const db = new Database(dbPath);
    try {
      db.exec(
        `CREATE TRIGGER refuse_delete BEFORE DELETE ON kv WHEN CAST(old.key AS TEXT) LIKE 'mutex/${name}/%'
         BEGIN SELECT RAISE(ABORT, 'injected fault: delete refused'); END`,
      );
    } finally {
      db.close();
    }
  }

  it('an unlock the store never confirms is given up after --ttl; tenure exits with a message', async () => {
    const c = start(['lock', 'stuck', '--ttl', '1500ms', '--', process.execPath, CMD, 'wait']);
    const pid = numberIn(await c.waitFor((l) => l.startsWith('ready')), 'pid');
    remember(pid);
    refuseDeletes('stuck');
    process.kill(pid, 'SIGTERM');
    expect(await exitWithin(c, 8000)).toBe(143);
    expect(c.stderr()).toMatch(/could not confirm the release of lock stuck/);
  });

  it('SIGTERM while tenure waits for the store to confirm the unlock: it exits at once', async () => {
    const c = start(['lock', 'stuck', '--ttl', '20s', '--', process.execPath, CMD, 'wait']);
    const pid = numberIn(await c.waitFor((l) => l.startsWith('ready')), 'pid');
    remember(pid);
    refuseDeletes('stuck');
    process.kill(pid, 'SIGTERM');
    await sleep(500);
    expect(c.proc.exitCode).toBe(null);
    c.proc.kill('SIGTERM');
    expect(await exitWithin(c, 3000)).toBe(143);
  });
});

describe('a stop signal is never held up by the store', () => {
  it('SIGTERM while tenure opens an unresponsive store: it exits 143 at once', async () => {
    // A loopback "etcd" that accepts connections and never answers: opening it waits 5 s.
    const sockets: Socket[] = [];
    const server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const c = startNode(CLI, ['lock', 'x', '--store', `etcd://127.0.0.1:${port}`, '--', 'true']);
      children.push(c);
      await eventually(() => sockets.length > 0, 10_000, 10);
      await sleep(300);
      expect(c.proc.exitCode).toBe(null);
      c.proc.kill('SIGTERM');
      expect(await exitWithin(c, 1500)).toBe(143);
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });
});

describe('CLI conventions (issue 11)', () => {
  it('a waiting tenure lock exits 128 + the signal number: SIGTERM 143, SIGHUP 129', async () => {
    const holder = start(['lock', 'busy', '--', process.execPath, CMD, 'wait']);
    remember(numberIn(await holder.waitFor((l) => l.startsWith('ready')), 'pid'));
    for (const [signal, code] of [
      ['SIGTERM', 143],
      ['SIGHUP', 129],
    ] as const) {
      const waiter = start(['lock', 'busy', '--', 'true']);
      await eventually(
        () => {
          const r = cli(['status', '--json']);
          const locks = (JSON.parse(r.stdout) as { locks: { name: string; waiters: unknown[] }[] }).locks;
          return locks.some((l) => l.name === 'busy' && l.waiters.length === 1);
        },
        10_000,
        50,
      );
      waiter.proc.kill(signal);
      expect(await exitWithin(waiter, 10_000)).toBe(code);
    }
  });

  it('--no-wait names the current holder', async () => {
    const holder = start(['lock', 'busy', '--', process.execPath, CMD, 'wait']);
    const ready = await holder.waitFor((l) => l.startsWith('ready'));
    remember(numberIn(ready, 'pid'));
    const r = cli(['lock', 'busy', '--no-wait', '--', 'true']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      new RegExp(`held by \\S+:${holder.proc.pid} \\(fencing token ${numberIn(ready, 'token')}\\)`),
    );
  });

  function expectUsageError(r: { code: number | null; stderr: string }, pattern: RegExp) {
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
  }

  it('--no-wait with --timeout is a usage error', () => {
    expectUsageError(cli(['lock', 'x', '--no-wait', '--timeout', '1s', '--', 'true']), /--no-wait/);
  });

  it('a missing -- before a CMD with options is named as such, not as an unknown option', () => {
    const r = cli(['lock', 'mylock', 'node', '-e', '1']);
    expectUsageError(r, /missing -- before the command/);
    expect(r.stderr).not.toMatch(/unknown option/);
    expectUsageError(cli(['elect', 'e', 'node', '-e', '1']), /missing -- before the command/);
    // A real typo among tenure's own options is still an unknown option.
    expectUsageError(
      cli(['lock', 'x', '--timout', '1s', '--', 'true']),
      /unknown option '--timout' \(did you mean --timeout\?\)/,
    );
    expectUsageError(cli(['elect', 'x', 'extra', '--', 'true']), /unexpected argument 'extra' before --/);
    expectUsageError(
      cli(['lock', '--timout', '1s', 'x', '--', 'true']),
      /unknown option '--timout' \(did you mean --timeout\?\)/,
    );
  });

  it('--version prints the version of package.json', () => {
    const version = (
      JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }
    ).version;
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('help shows duration defaults as durations', () => {
    for (const verb of ['lock', 'elect']) {
      const help = cli([verb, '--help']).stdout;
      expect(help).toMatch(/\(default: 10s\)/);
      expect(help).not.toMatch(/default: \d{3,}\)/);
    }
  });

  it('a NAME with / is refused with the reason', () => {
    expectUsageError(cli(['lock', 'db/migrate', '--', 'true']), /"\/" separates the segments of store keys/);
  });

  it('a ttl below the store minimum names --ttl, not the library option', () => {
    for (const verb of ['lock', 'elect']) {
      const r = cli([verb, 'x', '--ttl', '1ms', '--', 'true']);
      expectUsageError(r, /--ttl/);
      expect(r.stderr).not.toMatch(/options\./);
    }
  });

  it('durations beyond the longest timer are refused, naming the flag', () => {
    expectUsageError(
      cli(['lock', 'x', '--timeout', '1000h', '--', 'true']),
      /--timeout.*1000h is longer than the longest timer, 24\.8 days/,
    );
    expectUsageError(cli(['lock', 'x', '--grace', '1000h', '--', 'true']), /--grace/);
    expect(() => parseDuration('25d')).toThrow(/expected a duration/);
    expect(() => parseDuration('597h')).toThrow(/longer than the longest timer/);
    expect(parseDuration('596h')).toBe(596 * 3_600_000);
    expect(parseDuration('2147483647')).toBe(2 ** 31 - 1);
    expect(() => parseDuration('2147483648')).toThrow(/longer than the longest timer/);
  });
});
