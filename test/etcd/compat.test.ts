/**
 * The etcd layout against the real thing: Debian's `etcdctl lock` and `etcdctl elect` (etcd's
 * own client/v3/concurrency) and tenure (the CLI's `--layout etcd`, the library's
 * `{ layout: 'etcd' }`) on one etcd member started here. Real processes; every wait is bounded.
 * Needs `npm run build` first (the CLI runs from dist/).
 *
 * Each critical section appends `in WHO` then, after holding a while, `out WHO` to one log file;
 * mutual exclusion means the log alternates in/out. The negative controls run the same scenes
 * without the layout (and with the layout in the wrong namespace) and must see both inside at once:
 * they show that the option is what makes the others pass.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TenureError } from '../../src/errors.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { EtcdStore } from '../../src/store/etcd/index.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { codeOf, eventually, sleep } from '../helpers/async.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');
/** The critical section every holder runs: `in WHO`, hold HOLD seconds, `out WHO`. */
const SECTION = 'echo "in $WHO" >> "$LOG"; sleep "$HOLD"; echo "out $WHO" >> "$LOG"';

const started = EtcdCluster.start({ size: 1 });
started.catch(() => undefined);
let raw: EtcdStore;
let tmp: ReturnType<typeof tempDir>;
let log: string;
const procs: Proc[] = [];
const closers: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  await raw?.close();
  await (await started).stop();
});
beforeEach(async () => {
  const { endpoints } = await started;
  raw ??= new EtcdStore({ endpoints });
  tmp = tempDir('tenure-compat-');
  log = join(tmp.dir, 'sections.log');
  writeFileSync(log, '');
});
afterEach(async () => {
  for (const p of procs.splice(0))
    if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  tmp.cleanup();
});

interface Proc {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | string>;
  stderr: () => string;
}

function start(file: string, args: string[], env: Record<string, string> = {}): Proc {
  const proc = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
  const exited = once(proc, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  const p = { proc, lines, exited, stderr: () => err };
  procs.push(p);
  return p;
}

async function endpointsArg(): Promise<string> {
  return `--endpoints=${(await started).endpoints.join(',')}`;
}

/** `etcdctl lock NAME -- sh -c SECTION` as WHO, holding `hold` seconds. */
async function etcdctlLock(name: string, who: string, hold: number): Promise<Proc> {
  return start('etcdctl', [await endpointsArg(), 'lock', name, '--', 'sh', '-c', SECTION], {
    ETCDCTL_API: '3',
    WHO: who,
    HOLD: String(hold),
    LOG: log,
  });
}

/** `tenure lock [--layout L] NAME -- sh -c SECTION` as WHO; `query` is appended to the store URL. */
async function tenureLock(
  name: string,
  who: string,
  hold: number,
  o: { layout?: 'etcd'; query?: string } = {},
): Promise<Proc> {
  const url = `etcd://${(await started).endpoints.join(',')}${o.query ?? ''}`;
  const layout = o.layout ? ['--layout', o.layout] : [];
  return start(
    process.execPath,
    [CLI, 'lock', '--store', url, '--ttl', '5s', ...layout, name, '--', 'sh', '-c', SECTION],
    { WHO: who, HOLD: String(hold), LOG: log },
  );
}

/** The log's lines. */
function sections(): string[] {
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

/** Whether two sections were ever inside at once. */
function overlapped(lines: readonly string[]): boolean {
  let inside = 0;
  for (const line of lines) {
    inside += line.startsWith('in ') ? 1 : -1;
    if (inside > 1) return true;
  }
  return false;
}

/** Waits (bounded) until the log has `line`. */
async function logged(line: string, timeoutMs = 15_000): Promise<void> {
  await eventually(() => sections().includes(line), timeoutMs, 20);
}

/** Waits (bounded) until `n` keys are queued under `prefix` (read at the root of the store). */
async function queued(prefix: string, n: number, timeoutMs = 15_000): Promise<void> {
  await eventually(async () => (await raw.range(prefix)).kvs.length >= n, timeoutMs, 20);
}

/** Waits (bounded) for every process to exit; returns their exit codes. */
async function ended(...ps: Proc[]): Promise<(number | string)[]> {
  const timeout = sleep(30_000).then(() => {
    throw new Error(`processes still running after 30 s: ${ps.map((p) => p.stderr()).join(' | ')}`);
  });
  return Promise.race([Promise.all(ps.map((p) => p.exited)), timeout]);
}

/** Opens the store the way a Go program without a namespace sees etcd: at the root. */
async function rootStore(): Promise<Store> {
  const store = await openStore(`etcd://${(await started).endpoints.join(',')}?namespace=`);
  closers.push(() => store.close());
  return store;
}

async function session(store: Store): Promise<Session> {
  const s = await Session.create(store, { ttlMs: 5000 });
  closers.push(() => s.close());
  return s;
}

/** Every key under `prefix` is `prefix` + its own lease in lowercase hex (etcd's `%x`). */
async function expectEtcdKeys(prefix: string, n: number): Promise<void> {
  const { kvs } = await raw.range(prefix);
  expect(kvs).toHaveLength(n);
  for (const kv of kvs) {
    expect(kv.lease).not.toBeNull();
    expect(kv.key).toBe(`${prefix}${BigInt(kv.lease!).toString(16)}`);
  }
}

describe('tenure lock --layout etcd and etcdctl lock', () => {
  it('exclude each other when etcdctl holds first: tenure waits for its delete', async () => {
    const a = await etcdctlLock('compat-1', 'etcdctl', 2);
    await logged('in etcdctl');
    const b = await tenureLock('compat-1', 'tenure', 0.3, { layout: 'etcd' });
    await queued('compat-1/', 2);
    // Both keys are in etcd's layout, one per session, at the root of the store.
    await expectEtcdKeys('compat-1/', 2);
    expect(await ended(a, b)).toEqual([0, 0]);
    expect(sections()).toEqual(['in etcdctl', 'out etcdctl', 'in tenure', 'out tenure']);
  });

  it('exclude each other when tenure holds first: etcdctl waits for its delete (a name with a slash, as etcd names go)', async () => {
    const a = await tenureLock('jobs/nightly', 'tenure', 2, { layout: 'etcd' });
    await logged('in tenure');
    const held = (await raw.range('jobs/nightly/')).kvs;
    expect(held).toHaveLength(1);
    expect(Buffer.from(held[0]!.value).toString()).toBe(''); // the value etcd's Mutex writes
    const b = await etcdctlLock('jobs/nightly', 'etcdctl', 0.3);
    await queued('jobs/nightly/', 2);
    await expectEtcdKeys('jobs/nightly/', 2);
    expect(await ended(a, b)).toEqual([0, 0]);
    expect(sections()).toEqual(['in tenure', 'out tenure', 'in etcdctl', 'out etcdctl']);
  });

  it('hand the lock over first-come first-served across both, by create revision', async () => {
    const order = ['tenure-1', 'etcdctl-2', 'tenure-3', 'etcdctl-4'];
    const ps: Proc[] = [];
    for (const [i, who] of order.entries()) {
      const hold = i === 0 ? 2 : 0.3;
      ps.push(
        who.startsWith('tenure')
          ? await tenureLock('compat-fifo', who, hold, { layout: 'etcd' })
          : await etcdctlLock('compat-fifo', who, hold),
      );
      if (i === 0) await logged('in tenure-1');
      else await queued('compat-fifo/', i + 1); // queued behind the previous one before the next starts
    }
    expect(await ended(...ps)).toEqual([0, 0, 0, 0]);
    expect(sections()).toEqual(order.flatMap((who) => [`in ${who}`, `out ${who}`]));
  });

  it('tenure lock --layout etcd --no-wait names the etcdctl holder by its key (etcd writes no owner)', async () => {
    const a = await etcdctlLock('compat-busy', 'etcdctl', 2);
    await logged('in etcdctl');
    const [held] = (await raw.range('compat-busy/')).kvs;
    const b = start(process.execPath, [
      CLI,
      'lock',
      '--store',
      `etcd://${(await started).endpoints.join(',')}`,
      '--layout',
      'etcd',
      '--no-wait',
      'compat-busy',
      '--',
      'true',
    ]);
    expect(await ended(b)).toEqual([3]);
    expect(b.stderr()).toContain(
      `held by the session of key ${held!.key} (fencing token ${held!.createRevision})`,
    );
    await ended(a);
  });

  it('negative control: without --layout etcd (same root namespace) both hold at once', async () => {
    const a = await tenureLock('compat-control', 'tenure', 2, { query: '?namespace=' });
    await logged('in tenure');
    const b = await etcdctlLock('compat-control', 'etcdctl', 0.3);
    await ended(a, b);
    expect(sections()).toEqual(['in tenure', 'in etcdctl', 'out etcdctl', 'out tenure']);
    expect(overlapped(sections())).toBe(true);
  });

  it("negative control: --layout etcd in another namespace than etcdctl's (an explicit ?namespace=tenure/) holds at once with it", async () => {
    const a = await tenureLock('compat-ns', 'tenure', 2, { layout: 'etcd', query: '?namespace=tenure/' });
    await logged('in tenure');
    expect((await raw.range('tenure/compat-ns/')).kvs).toHaveLength(1);
    const b = await etcdctlLock('compat-ns', 'etcdctl', 0.3);
    await ended(a, b);
    expect(overlapped(sections())).toBe(true);
  });
});

describe('Election { layout: etcd } and etcdctl elect', () => {
  it('elect one leader among them; etcdctl elect -l observes tenure leading, proclaiming and handing over', async () => {
    const store = await rootStore();
    const election = new Election(await session(store), 'compat-elect', { layout: 'etcd' });
    const first = await election.campaign('tenure-leader', { timeoutMs: 10_000 });
    expect(first.key).toBe(`compat-elect/${BigInt(election.session.lease).toString(16)}`);

    const observer = start('etcdctl', [await endpointsArg(), 'elect', '-l', 'compat-elect'], {
      ETCDCTL_API: '3',
    });
    // etcdctl prints the leader's key, then its value.
    await eventually(() => observer.lines.includes('tenure-leader'), 15_000, 20);
    expect(observer.lines.slice(0, 2)).toEqual([first.key, 'tenure-leader']);

    const rival = start('etcdctl', [await endpointsArg(), 'elect', 'compat-elect', 'etcd-proposal'], {
      ETCDCTL_API: '3',
    });
    await queued('compat-elect/', 2);
    await sleep(1000);
    expect(rival.lines).toEqual([]); // it prints its key and value only once elected
    expect((await election.leader())?.value).toBe('tenure-leader');

    await first.proclaim('tenure-proclaimed');
    await eventually(() => observer.lines.includes('tenure-proclaimed'), 15_000, 20);
    expect(rival.lines).toEqual([]);

    await first.resign();
    await eventually(() => rival.lines.includes('etcd-proposal'), 15_000, 20);
    await eventually(() => observer.lines.includes('etcd-proposal'), 15_000, 20);
    const leader = await election.leader();
    expect(leader?.value).toBe('etcd-proposal');
    expect(leader!.term).toBeGreaterThan(first.term);
    expect(rival.lines[0]).toBe(leader!.key);

    // etcdctl leads: a tenure candidate waits behind it...
    const second = new Election(await session(store), 'compat-elect', { layout: 'etcd' });
    expect(await codeOf(second.campaign('tenure-second', { timeoutMs: 1500 }))).toBe('TENURE_TIMEOUT');
    const campaign = second.campaign('tenure-second', { timeoutMs: 20_000 });
    await queued('compat-elect/', 2);
    // ...and takes over when etcdctl resigns (SIGINT makes it resign).
    rival.proc.kill('SIGINT');
    const next = await campaign;
    expect(next.term).toBeGreaterThan(leader!.term);
    await eventually(() => observer.lines.includes('tenure-second'), 15_000, 20);
    expect(await ended(rival)).toEqual([0]);
    observer.proc.kill('SIGINT');
  });

  it('tenure elect --layout etcd leads with its --value as etcdctl elect -l shows, and etcdctl elect waits behind it', async () => {
    const supervisor = start(process.execPath, [
      CLI,
      'elect',
      '--store',
      `etcd://${(await started).endpoints.join(',')}`,
      '--layout',
      'etcd',
      '--ttl',
      '5s',
      '--value',
      'tenure-cli',
      'compat-elect-cli',
      '--',
      'sleep',
      '30',
    ]);
    await queued('compat-elect-cli/', 1);
    const observer = start('etcdctl', [await endpointsArg(), 'elect', '-l', 'compat-elect-cli'], {
      ETCDCTL_API: '3',
    });
    await eventually(() => observer.lines.includes('tenure-cli'), 15_000, 20);
    const rival = start('etcdctl', [await endpointsArg(), 'elect', 'compat-elect-cli', 'etcd-proposal'], {
      ETCDCTL_API: '3',
    });
    await queued('compat-elect-cli/', 2);
    await sleep(1000);
    expect(rival.lines).toEqual([]);
    // The supervisor stops on SIGTERM and resigns: etcdctl takes over.
    supervisor.proc.kill('SIGTERM');
    expect(await ended(supervisor)).toEqual([0]);
    await eventually(() => rival.lines.includes('etcd-proposal'), 15_000, 20);
    await eventually(() => observer.lines.includes('etcd-proposal'), 15_000, 20);
    rival.proc.kill('SIGINT');
    observer.proc.kill('SIGINT');
    await ended(rival, observer);
  });

  it('negative control: without the layout, etcdctl elect is elected while tenure leads', async () => {
    const store = await rootStore();
    const election = new Election(await session(store), 'compat-elect-control');
    const leadership = await election.campaign('tenure-leader', { timeoutMs: 10_000 });
    const rival = start('etcdctl', [await endpointsArg(), 'elect', 'compat-elect-control', 'etcd-proposal'], {
      ETCDCTL_API: '3',
    });
    await eventually(() => rival.lines.includes('etcd-proposal'), 15_000, 20);
    expect(leadership.status).toBe('held'); // two leaders at once
    rival.proc.kill('SIGINT');
    await ended(rival);
  });
});

describe('one key per session per name under the etcd layout', () => {
  it('a second lock or campaign of the name in the same session is refused, and leaves the first holding', async () => {
    const s = await session(await rootStore());
    const lock = await new Mutex(s, 'compat-twice', { layout: 'etcd' }).lock({ timeoutMs: 10_000 });
    expect(await codeOf(new Mutex(s, 'compat-twice', { layout: 'etcd' }).lock({ timeoutMs: 2000 }))).toBe(
      'TENURE_INVALID_ARGUMENT',
    );
    expect(await codeOf(new Mutex(s, 'compat-twice', { layout: 'etcd' }).tryLock())).toBe(
      'TENURE_INVALID_ARGUMENT',
    );
    expect(
      await codeOf(new Election(s, 'compat-twice', { layout: 'etcd' }).campaign('x', { timeoutMs: 2000 })),
    ).toBe('TENURE_INVALID_ARGUMENT');
    // The refusals left the holder's key alone.
    expect(lock.status).toBe('held');
    const kv = await raw.get(lock.key);
    expect(kv?.createRevision).toBe(lock.fencingToken);
    await lock.unlock();
    // Once it is released the session may take the name again, with a new fencing token.
    const again = await new Mutex(s, 'compat-twice', { layout: 'etcd' }).lock({ timeoutMs: 10_000 });
    expect(again.fencingToken).toBeGreaterThan(lock.fencingToken);
    await again.unlock();
  });

  it("a release whose reply was lost, retried after the session locked the name again, leaves the new lock's key alone", async () => {
    const store = new EtcdStore({ endpoints: (await started).endpoints });
    closers.push(() => store.close());
    const s = await session(store);
    const mutex = new Mutex(s, 'compat-reuse', { layout: 'etcd' });
    const first = await mutex.lock({ timeoutMs: 10_000 });
    // The first delete of the key is applied, and its reply is lost until the name is locked again.
    let relockedBy!: () => void;
    const relocked = new Promise<void>((resolve) => (relockedBy = resolve));
    let lose = true;
    const lost = async <T>(applied: Promise<T>): Promise<T> => {
      const result = await applied;
      if (!lose) return result;
      lose = false;
      await relocked;
      throw new TenureError('TENURE_UNAVAILABLE', 'the reply was lost');
    };
    const txn = store.txn.bind(store);
    const del = store.delete.bind(store);
    store.txn = (req) => (req.success?.some((op) => op.type === 'delete') ? lost(txn(req)) : txn(req));
    store.delete = (key) => lost(del(key));
    const released = first.unlock();
    await eventually(async () => (await raw.get(first.key)) === undefined, 10_000, 10);
    const second = await mutex.lock({ timeoutMs: 10_000 });
    expect(second.key).toBe(first.key); // one key per session per name
    relockedBy();
    await released; // retried after the lost reply
    await sleep(200);
    const kv = await raw.get(second.key);
    expect(kv?.createRevision).toBe(second.fencingToken);
    expect(second.status).toBe('held');
    await second.unlock();
    expect(await raw.get(second.key)).toBeUndefined();
  });

  it('lock-delay is refused under the etcd layout, and names follow etcd (slashes yes, control characters no)', async () => {
    const s = await session(await rootStore());
    expect(await codeOf(() => new Mutex(s, 'x', { layout: 'etcd', lockDelayMs: 100 }))).toBe(
      'TENURE_INVALID_ARGUMENT',
    );
    expect(await codeOf(() => new Mutex(s, 'a\u0007b', { layout: 'etcd' }))).toBe('TENURE_INVALID_ARGUMENT');
    expect(await codeOf(() => new Mutex(s, '/locks/billing'))).toBe('TENURE_INVALID_ARGUMENT');
    expect(new Mutex(s, '/locks/billing', { layout: 'etcd' }).prefix).toBe('/locks/billing/');
    expect(await codeOf(() => new Election(s, 'x', { layout: 'zookeeper' as 'etcd' }))).toBe(
      'TENURE_INVALID_ARGUMENT',
    );
  });
});
