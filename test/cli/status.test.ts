/**
 * `tenure status` and `tenure watch` as real processes: output to a slow pipe is complete, store
 * data never reaches the terminal as raw control characters, and malformed keys are skipped and
 * reported instead of crashing or exhausting memory. Needs `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Election } from '../../src/recipes/coordination/election.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { startNode } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { putMany } from '../helpers/fill.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('tenure-status-');
});
afterAll(() => tmp.cleanup());

/** A fresh SQLite store in the temp dir, filled by `fill`; returns its URL. */
async function storeWith(name: string, fill: (store: SqliteStore) => Promise<void>): Promise<string> {
  const path = join(tmp.dir, `${name}.db`);
  const store = new SqliteStore({ path });
  try {
    await fill(store);
  } finally {
    await store.close();
  }
  return `sqlite://${path}`;
}

function cli(args: string[], url: string) {
  return runCli(CLI, args, {
    cwd: tmp.dir,
    env: { TENURE_STORE: url },
    timeoutMs: 30_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

describe('tenure status to a pipe', () => {
  it('prints every line of 5,000 locks through a pipe that reads slowly, as into a file', async () => {
    const locks = 5000;
    const url = await storeWith('many', async (store) => {
      await putMany(store, locks, (j) => ({ key: `mutex/job-${j}/k`, value: `host:${j}` }));
    });
    // Into a file: the reference.
    const file = join(tmp.dir, 'status.txt');
    const fd = openSync(file, 'w');
    const r = spawnSync(process.execPath, [CLI, 'status', '--store', url], {
      stdio: ['ignore', fd, 'pipe'],
      timeout: 30_000,
    });
    closeSync(fd);
    expect(r.status).toBe(0);
    const expected = readFileSync(file, 'utf8');
    expect(expected.split('\n').filter((l) => /^mutex\s+job-/.test(l))).toHaveLength(locks);

    // Through a real pipe (a shell's `|`: Node's own child stdio is a socket pair, which does not
    // show the bug) whose reader starts late, so the kernel's 64 KiB pipe buffer fills.
    const out = join(tmp.dir, 'piped.txt');
    const piped = spawnSync(
      'sh',
      ['-c', '"$0" "$1" status --store "$2" | (sleep 0.5; cat > "$3")', process.execPath, CLI, url, out],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(piped.stderr).toBe('');
    const text = readFileSync(out, 'utf8');
    expect(text.length).toBeGreaterThan(65_536);
    expect(text.split('\n').length).toBe(expected.split('\n').length);
    expect(text).toBe(expected);
  });
});

/** Control characters other than the newline between lines. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

describe('store data in text output', () => {
  const hostile = 'evil\x1b[2J\x1b]0;owned\x07\rFAKE LINE\n\x9b31m\x7f';

  it('status escapes control characters in election values, owners, member data and names', async () => {
    const url = await storeWith('hostile', async (store) => {
      await store.put('election/billing/k1', hostile);
      await store.put('mutex/invoices/k2', hostile);
      await store.put('semaphore/crawl/k3', `2 ${hostile}`);
      await store.put('rwlock/config/k4', `write ${hostile}`);
      await store.put('members/web/node\x1b[31m', JSON.stringify({ address: `${hostile}:1`, zone: hostile }));
      await store.put('shards/web/slot/0', hostile);
    });
    const r = cli(['status'], url);
    expect(r.code).toBe(0);
    // Nothing but newlines between lines: no ESC, CSI, BEL, CR, DEL or C1 from the store.
    expect(r.stdout).not.toMatch(CONTROL);
    expect(r.stdout).toContain('evil\\x1b[2J');
    expect(r.stdout).toContain('\\rFAKE LINE\\n');
    expect(r.stdout).not.toMatch(/^FAKE LINE/m);
    // --json keeps the data exact (JSON escapes it).
    const json = cli(['status', '--json'], url);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { elections: { leader: { value: string } }[] };
    expect(parsed.elections[0]!.leader.value).toBe(hostile);
  });

  it('watch escapes control characters in its events', async () => {
    const path = join(tmp.dir, 'watch.db');
    const url = `sqlite://${path}`;
    const store = new SqliteStore({ path });
    try {
      await store.put('election/setup/k0', 'x');
      const watch = startNode(CLI, ['watch', '--store', url]);
      try {
        await watch.waitFor((l) => l.startsWith('watching'));
        await store.put('election/billing/k1', hostile);
        const line = await watch.waitFor((l) => l.includes('billing'));
        expect(line).toContain('evil\\x1b[2J');
        await new Promise((r) => setTimeout(r, 300));
        const all = watch.lines.join('\n');
        expect(all).not.toMatch(CONTROL);
      } finally {
        watch.proc.kill('SIGTERM');
        await watch.exited;
      }
    } finally {
      await store.close();
    }
  });
});

describe('malformed keys', () => {
  it('status skips and reports keys it cannot decode, in bounded memory, text and --json', async () => {
    const url = await storeWith('malformed', async (store) => {
      await store.put('election/ok/k1', 'leader-a');
      await store.put('shards/g/slot/20000000', 'a');
      await store.put('shards/g/slot/-1', 'a');
      await store.put('shards/g/slot/abc', 'a');
      await store.put('shards/g/slot/1e3', 'a');
      await store.put('shards/g/slot/0', 'a');
      await store.put('shards/g/nonsense', 'a');
      await store.put('shards/h/table', JSON.stringify({ v: 1, nodes: ['a'], weights: [1], runs: [0, 2e9] }));
      await store.put('shards/i/table', '{not json');
      await store.put('election/noslash', 'x');
      await store.put('mutex/', 'x');
      await store.put('members/nogroup', '{}');
      await store.put('semaphore/crawl/k', 'x');
      await store.put('suspicion/web/x', '{"phi": 5');
    });
    const r = spawnSync(process.execPath, ['--max-old-space-size=96', CLI, 'status', '--store', url], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ok\s+leader-a/);
    expect(r.stdout).toMatch(/SKIPPED/);
    expect(r.stdout).toContain('shards/g/slot/20000000');
    expect(r.stdout).toContain('shards/h/table');
    const json = spawnSync(
      process.execPath,
      ['--max-old-space-size=96', CLI, 'status', '--json', '--store', url],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(json.status).toBe(0);
    const parsed = JSON.parse(json.stdout) as { skipped: { key: string; reason: string }[] };
    const keys = parsed.skipped.map((s) => s.key);
    for (const key of [
      'shards/g/slot/20000000',
      'shards/g/slot/-1',
      'shards/g/slot/abc',
      'shards/g/slot/1e3',
      'shards/g/nonsense',
      'shards/h/table',
      'shards/i/table',
      'election/noslash',
      'mutex/',
      'members/nogroup',
      'suspicion/web/x',
    ])
      expect(keys).toContain(key);
  });
});

describe('status --json and watch --json', () => {
  it('status --json names the term, rounds its numbers, and shows member address and zone', async () => {
    const path = join(tmp.dir, 'numbers.db');
    const store = new SqliteStore({ path });
    const session = await Session.create(store, { ttlMs: 3000 });
    try {
      await store.put('election/billing/k', 'node-a', { lease: session.lease });
      const membership = await Membership.open(store, 'web');
      await membership.join(session, { id: 'w1', address: '10.0.0.7:7946', zone: 'eu-1' });
      await new Promise((r) => setTimeout(r, 120));
      const r = cli(['status', '--json'], `sqlite://${path}`);
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout) as {
        sessions: { remainingMs: number }[];
        elections: { term: number; leader: { revision: number } }[];
        members: { address: string; zone: string; suspicion: number }[];
      };
      expect(s.elections[0]!.term).toBe(s.elections[0]!.leader.revision);
      for (const x of s.sessions) expect(Number.isInteger(x.remainingMs)).toBe(true);
      expect(s.members[0]).toMatchObject({ address: '10.0.0.7:7946', zone: 'eu-1' });
      expect(Math.round(s.members[0]!.suspicion * 100)).toBeCloseTo(s.members[0]!.suspicion * 100, 9);
      // No number with more than two decimals anywhere in the document.
      expect(r.stdout).not.toMatch(/\d\.\d{3,}/);
      const text = cli(['status'], `sqlite://${path}`);
      expect(text.stdout).toMatch(/billing\s+node-a\s+term \d+/);
      expect(text.stdout).toMatch(/GROUP\s+ID\s+ADDRESS\s+ZONE\s+SUSPICION/);
      expect(text.stdout).toMatch(/web\s+w1\s+10\.0\.0\.7:7946\s+eu-1\s+lease \d\.\d\d/);
      await membership.close();
    } finally {
      await session.close();
      await store.close();
    }
  });

  it("status lists locks (tenure lock --layout etcd) and elections ({ layout: 'etcd' }) in etcd's layout", async () => {
    const path = join(tmp.dir, 'etcd-layout.db');
    const url = `sqlite://${path}`;
    const holder = startNode(CLI, [
      'lock',
      '--layout',
      'etcd',
      '--store',
      url,
      'billing/lock',
      '--',
      'sh',
      '-c',
      'echo held; exec sleep 60',
    ]);
    try {
      await holder.waitFor((l) => l === 'held');
      const store = new SqliteStore({ path });
      const session = await Session.create(store, { ttlMs: 30_000 });
      try {
        await new Election(session, 'jobs', { layout: 'etcd' }).campaign('node-a');
        const text = cli(['status'], url);
        expect(text.code).toBe(0);
        expect(text.stdout).toMatch(/jobs \(etcd layout\)\s+node-a\s+term \d+/);
        // etcd's Mutex writes an empty value: the holder is named by its session's lease.
        expect(text.stdout).toMatch(/mutex\s+billing\/lock \(etcd layout\)\s+\(lease \d+\)\s+\d+\s+-/);
        const json = JSON.parse(cli(['status', '--json'], url).stdout) as {
          locks: { name: string; kind: string; layout?: string; holders: unknown[] }[];
          elections: { name: string; layout?: string; leader: { value: string } }[];
        };
        expect(json.locks).toMatchObject([{ name: 'billing/lock', kind: 'mutex', layout: 'etcd' }]);
        expect(json.locks[0]!.holders).toHaveLength(1);
        expect(json.elections).toMatchObject([{ name: 'jobs', layout: 'etcd', leader: { value: 'node-a' } }]);
      } finally {
        await session.close();
        await store.close();
      }
    } finally {
      holder.proc.kill('SIGTERM');
      await holder.exited;
    }
  });

  it('watch --json prints one object per change with named fields', async () => {
    const path = join(tmp.dir, 'watch-json.db');
    const store = new SqliteStore({ path });
    try {
      const watch = startNode(CLI, ['watch', '--json', '--store', `sqlite://${path}`]);
      try {
        await new Promise((r) => setTimeout(r, 700));
        const a = await store.put('election/billing/a', 'node-a');
        await store.put('election/billing/b', 'node-b');
        const lock = await store.put('mutex/invoices/x', 'host:1');
        await watch.waitFor((l) => l.includes('"lock"'));
        await store.delete('election/billing/a');
        await watch.waitFor((l) => l.includes('"from":"node-a"'));
        await new Promise((r) => setTimeout(r, 500));
        const events = watch.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        const leaders = events.filter((e) => e.type === 'leader');
        expect(leaders).toHaveLength(2);
        expect(leaders[0]).toMatchObject({
          election: 'billing',
          to: 'node-a',
          term: a,
          from: null,
          fromTerm: null,
        });
        expect(leaders[1]).toMatchObject({ election: 'billing', to: 'node-b', from: 'node-a', fromTerm: a });
        expect(events.filter((e) => e.type === 'lock')).toEqual([
          expect.objectContaining({
            lock: 'invoices',
            lockKind: 'mutex',
            to: 'host:1',
            fencingToken: lock,
            waiting: 0,
          }),
        ]);
        for (const e of events) {
          expect(e.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          expect(new Date(e.at as string).getTime()).toBe(e.atMs);
          expect(e).not.toHaveProperty('kind');
        }
      } finally {
        watch.proc.kill('SIGTERM');
        await watch.exited;
      }
    } finally {
      await store.close();
    }
  });
});

describe('tenure dashboard --token', () => {
  it('refuses a token shorter than 16 characters, naming the flag', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'dashboard', '--port', '0', '--store', 'memory:', '--token', 'short'],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^tenure: --token .*at least 16 characters, got 5/);
    const env = spawnSync(process.execPath, [CLI, 'dashboard', '--port', '0', '--store', 'memory:'], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { ...process.env, TENURE_DASHBOARD_TOKEN: 'short' },
    });
    expect(env.status).toBe(2);
    expect(env.stderr).toMatch(/TENURE_DASHBOARD_TOKEN/);
  });
});
