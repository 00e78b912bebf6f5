/**
 * The built CLI as a real process: exit codes, one-line errors, --json output, the lock's token
 * in CMD's environment, a lost lock stopping CMD, SIGINT forwarding, and elect's failover.
 * Needs `npm run build` first.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { eventually } from '../helpers/async.js';
import { startNode, type Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');
const CMD = join(import.meta.dirname, '../fixtures/cli/command.mjs');

let tmp: ReturnType<typeof tempDir>;
let url: string;
let dbPath: string;
const children: Child[] = [];
const orphans: number[] = [];

beforeAll(() => {
  tmp = tempDir('tenure-cli-');
  dbPath = join(tmp.dir, 'store.db');
  url = `sqlite://${dbPath}`;
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  for (const pid of orphans.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
afterAll(() => tmp.cleanup());

function cli(args: string[], env: Record<string, string> = {}) {
  return runCli(CLI, args, { cwd: tmp.dir, env: { TENURE_STORE: url, ...env } });
}

function start(args: string[]): Child {
  const c = startNode(CLI, args, { TENURE_STORE: url });
  children.push(c);
  return c;
}

function expectOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp) {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^tenure: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('bad input: one line, exit code 2', () => {
  it('an unknown store scheme', () => {
    expectOneLineError(cli(['status', '--store', 'nosuch://x']), /unknown scheme/);
  });
  it('an unreachable store', () => {
    expectOneLineError(cli(['status', '--store', 'sqlite:///etc/hostname/x.db']), /cannot open store/);
  });
  it('a bad NAME', () => {
    expectOneLineError(cli(['lock', 'no/slash', '--', 'true']), /NAME must be/);
  });
  it('a missing --', () => {
    expectOneLineError(cli(['lock', 'job', 'true']), /missing -- /);
    expectOneLineError(cli(['elect', 'job']), /missing -- /);
  });
  it('an unknown option and a bad duration', () => {
    expectOneLineError(cli(['status', '--nope']), /unknown option/);
    expectOneLineError(cli(['lock', 'job', '--timeout', 'soon', '--', 'true']), /duration/);
  });
  it('help exits 0 everywhere', () => {
    for (const args of [
      ['--help'],
      ['lock', '--help'],
      ['elect', '--help'],
      ['demo', '--help'],
      ['dashboard', '--help'],
    ]) {
      const r = cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: tenure/);
    }
  });
});

describe('tenure lock', () => {
  it('runs CMD with the fencing token and passes its exit code through', () => {
    const r = cli(['lock', 'job', '--', process.execPath, CMD, 'exit:7']);
    expect(r.code).toBe(7);
    const token = Number(/token=(\d+)/.exec(r.stdout)?.[1]);
    expect(Number.isSafeInteger(token) && token > 0).toBe(true);
    const again = cli(['lock', 'job', '--', process.execPath, CMD, 'exit:0']);
    expect(again.code).toBe(0);
    expect(Number(/token=(\d+)/.exec(again.stdout)?.[1])).toBeGreaterThan(token);
  });

  it('--no-wait and --timeout exit 3 while another process holds it; status --json shows holder and waiters', async () => {
    const holder = start(['lock', 'busy', '--', process.execPath, CMD, 'wait']);
    const token = Number(/token=(\d+)/.exec(await holder.waitFor((l) => l.startsWith('ready')))?.[1]);
    const busy = cli(['lock', 'busy', '--no-wait', '--', 'true']);
    expect(busy.code).toBe(3);
    expect(busy.stderr).toMatch(new RegExp(`held by \\S+:${holder.proc.pid} \\(fencing token ${token}\\)`));
    const waiter = start(['lock', 'busy', '--timeout', '5s', '--', process.execPath, CMD, 'exit:0']);
    let status:
      | { locks: { name: string; kind: string; holders: { revision: number }[]; waiters: unknown[] }[] }
      | undefined;
    await eventually(
      () => {
        const r = cli(['status', '--json']);
        status = JSON.parse(r.stdout) as typeof status;
        return status!.locks.some((l) => l.name === 'busy' && l.waiters.length === 1);
      },
      10_000,
      100,
    );
    const busyLock = status!.locks.find((l) => l.name === 'busy')!;
    expect(busyLock.kind).toBe('mutex');
    expect(busyLock.holders.map((h) => h.revision)).toEqual([token]);
    const timeout = cli(['lock', 'busy', '--timeout', '300ms', '--', 'true']);
    expect(timeout.code).toBe(3);
    holder.proc.kill('SIGINT');
    expect(await waiter.exited).toBe(0);
  });

  it('SIGINT is forwarded to CMD and the lock is released once CMD has ended', async () => {
    const c = start(['lock', 'interrupt', '--', process.execPath, CMD, 'wait']);
    await c.waitFor((l) => l.startsWith('ready'));
    c.proc.kill('SIGINT');
    await c.waitFor((l) => l === 'got SIGINT');
    expect(await c.exited).toBe(130);
    const status = JSON.parse(cli(['status', '--json']).stdout) as { locks: { name: string }[] };
    expect(status.locks.some((l) => l.name === 'interrupt')).toBe(false);
  });

  it('a lost lock stops CMD with SIGTERM and exits 4', async () => {
    const c = start(['lock', 'lose', '--grace', '2s', '--', process.execPath, CMD, 'wait']);
    await c.waitFor((l) => l.startsWith('ready'));
    // Another party deletes the lock's key, as an operator or an expired lease would.
    const store = new SqliteStore({ path: dbPath });
    try {
      expect(await store.delete('mutex/lose/', { prefix: true })).toBe(1);
    } finally {
      await store.close();
    }
    await c.waitFor((l) => l === 'got SIGTERM', 10_000);
    expect(await c.exited).toBe(4);
    expect(c.stderr()).toMatch(/lock lose lost/);
  });
});

describe('tenure elect', () => {
  it('runs CMD only under the leader, fails over when the leader dies, and restarts a crashed CMD', async () => {
    const args = ['elect', 'cron', '--ttl', '1s', '--grace', '1s', '--backoff', '100ms', '--'];
    const a = start([...args, process.execPath, CMD, 'wait']);
    const first = await a.waitFor((l) => l.startsWith('ready'));
    const term1 = Number(/term=(\d+)/.exec(first)?.[1]);
    orphans.push(Number(/pid=(\d+)/.exec(first)?.[1]));
    const b = start([...args, process.execPath, CMD, 'exit:1']);
    await eventually(
      () => {
        const s = JSON.parse(cli(['status', '--json']).stdout) as {
          elections: { name: string; candidates: unknown[] }[];
        };
        return s.elections.some((e) => e.name === 'cron' && e.candidates.length === 2);
      },
      10_000,
      100,
    );
    expect(b.lines.filter((l) => l.startsWith('ready'))).toHaveLength(0);
    // The leader's supervisor crashes: B leads once A's lease expires, with a higher term.
    a.proc.kill('SIGKILL');
    const second = await b.waitFor((l) => l.startsWith('ready'), 10_000);
    expect(Number(/term=(\d+)/.exec(second)?.[1])).toBeGreaterThan(term1);
    // B's CMD exits with 1 at once: the supervisor restarts it while it leads.
    await b.waitFor(
      (l) => b.lines.filter((x) => x.startsWith('ready')).length >= 3 && l.startsWith('ready'),
      10_000,
    );
    expect(b.stderr()).toMatch(/restarting in/);
    b.proc.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });
});
