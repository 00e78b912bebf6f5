/**
 * `tenure lock --json` and `tenure elect --json`: every status line on stderr is one JSON object
 * with an `event`, in the order things happened, carrying the fencing token, term, cause and exit
 * code a program needs (docs/cli.md). Needs `npm run build` first.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { statusLine } from '../../src/cli/status-line.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { startNode, type Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');
const CMD = join(import.meta.dirname, '../fixtures/cli/command.mjs');

let tmp: ReturnType<typeof tempDir>;
let url: string;
let dbPath: string;
const children: Child[] = [];

beforeAll(() => {
  tmp = tempDir('tenure-cli-json-');
  dbPath = join(tmp.dir, 'store.db');
  url = `sqlite://${dbPath}`;
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
});
afterAll(() => tmp.cleanup());

function cli(args: string[]) {
  return runCli(CLI, args, { cwd: tmp.dir, env: { TENURE_STORE: url } });
}

function start(args: string[]): Child {
  const c = startNode(CLI, args, { TENURE_STORE: url });
  children.push(c);
  return c;
}

interface Event {
  event: string;
  time: string;
  [fact: string]: unknown;
}

/** Every stderr line, each of which must be one JSON object with an event and a time. */
function events(stderr: string): Event[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const e = JSON.parse(l) as Event;
      expect(typeof e.event).toBe('string');
      expect(Number.isNaN(Date.parse(e.time))).toBe(false);
      return e;
    });
}

/** Deletes every key of the store, as an operator or an expired lease would. */
async function deleteEverything(): Promise<void> {
  const store = new SqliteStore({ path: dbPath });
  try {
    expect(await store.delete('', { prefix: true })).toBeGreaterThan(0);
  } finally {
    await store.close();
  }
}

describe('tenure lock --json', () => {
  it('acquired with the fencing token CMD got, CMD exited, released, exit with the code', () => {
    const r = cli(['lock', 'job', '--json', '--', process.execPath, CMD, 'exit:7']);
    expect(r.code).toBe(7);
    const token = Number(/token=(\d+)/.exec(r.stdout)?.[1]);
    const got = events(r.stderr);
    expect(got.map((e) => e.event)).toEqual(['acquired', 'cmd-exited', 'released', 'exit']);
    expect(got[0]).toMatchObject({ lock: 'job', fencingToken: token });
    expect(got[1]).toMatchObject({ code: 7, signal: null });
    expect(got[2]).toMatchObject({ lock: 'job', fencingToken: token });
    expect(got[3]).toMatchObject({ lock: 'job', code: 7 });
  });

  it('not acquired while another holds it: the holder and its token, exit 3', async () => {
    const holder = start(['lock', 'busy', '--', process.execPath, CMD, 'wait']);
    const token = Number(/token=(\d+)/.exec(await holder.waitFor((l) => l.startsWith('ready')))?.[1]);
    const r = cli(['lock', 'busy', '--no-wait', '--json', '--', 'true']);
    expect(r.code).toBe(3);
    const got = events(r.stderr);
    expect(got.map((e) => e.event)).toEqual(['not-acquired', 'exit']);
    expect(got[0]).toMatchObject({ reason: 'held', holder: { fencingToken: token } });
    expect((got[0]!.holder as { owner: string }).owner).toMatch(new RegExp(`:${holder.proc.pid}$`));
    expect(got[1]).toMatchObject({ code: 3 });
    const late = cli(['lock', 'busy', '--timeout', '200ms', '--json', '--', 'true']);
    expect(late.code).toBe(3);
    expect(events(late.stderr)[0]).toMatchObject({
      event: 'not-acquired',
      reason: 'timeout',
      timeoutMs: 200,
    });
    holder.proc.kill('SIGINT');
    await holder.exited;
  });

  it('lost with its cause while CMD runs, then exit 4', async () => {
    const c = start(['lock', 'lose', '--json', '--grace', '2s', '--', process.execPath, CMD, 'wait']);
    const token = Number(/token=(\d+)/.exec(await c.waitFor((l) => l.startsWith('ready')))?.[1]);
    await deleteEverything();
    expect(await c.exited).toBe(4);
    const got = events(c.stderr());
    expect(got.map((e) => e.event)).toEqual(['acquired', 'lost', 'cmd-exited', 'lost-while-running', 'exit']);
    expect(got[1]).toMatchObject({
      lock: 'lose',
      fencingToken: token,
      causeCode: 'TENURE_LOCK_LOST',
      cmd: 'stopping',
    });
    expect(got[2]).toMatchObject({ code: 143 });
    expect(got[4]).toMatchObject({ code: 4 });
  });
});

describe('tenure elect --json', () => {
  it('leading with the term CMD got, each restart, giving up, resigned, exit 5', async () => {
    const c = start([
      'elect',
      'crashy',
      '--json',
      '--backoff',
      '50ms',
      '--max-failures',
      '2',
      '--',
      process.execPath,
      CMD,
      'exit:1',
    ]);
    expect(await c.exited).toBe(5);
    const term = Number(/term=(\d+)/.exec(c.lines.find((l) => l.startsWith('ready')) ?? '')?.[1]);
    const got = events(c.stderr());
    expect(got.map((e) => e.event)).toEqual([
      'leading',
      'cmd-exited',
      'restarting',
      'cmd-exited',
      'gave-up',
      'resigned',
      'exit',
    ]);
    expect(got[0]).toMatchObject({ election: 'crashy', term });
    expect(got[2]).toMatchObject({ term, code: 1, backoffMs: 50 });
    expect(got[4]).toMatchObject({ failures: 2 });
    expect(got[6]).toMatchObject({ code: 5 });
  });

  it('lost with its cause, campaigning again, leading in a new term; a stop signal exits 0', async () => {
    const c = start(['elect', 'lossy', '--json', '--grace', '1s', '--', process.execPath, CMD, 'wait']);
    await c.waitFor((l) => l.startsWith('ready'));
    await deleteEverything();
    await c.waitFor(
      (l) => c.lines.filter((x) => x.startsWith('ready')).length >= 2 && l.startsWith('ready'),
      10_000,
    );
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    const got = events(c.stderr());
    const names = got.map((e) => e.event);
    expect(names.slice(0, 4)).toEqual(['leading', 'cmd-exited', 'lost', 'leading']);
    expect(got[2]).toMatchObject({
      election: 'lossy',
      causeCode: 'TENURE_LOCK_LOST',
      next: 'campaigning again',
    });
    expect(got[3]!.term as number).toBeGreaterThan(got[0]!.term as number);
    expect(names).toContain('stopping');
    expect(got.at(-1)).toMatchObject({ event: 'exit', code: 0 });
  });
});

describe('status lines', () => {
  it('--json escapes every control character from the store (C0, DEL, C1, line separators); text mode writes only what has a sentence', () => {
    const out: string[] = [];
    const json = statusLine(true, (line) => out.push(line));
    const owner = 'evil\u0007\u001b[2J\u007f\u009b31m\u2028host:1';
    json({ event: 'not-acquired', holder: { owner, fencingToken: 3 } });
    expect(out).toHaveLength(1);
    expect(out[0]!.endsWith('\n')).toBe(true);
    // Nothing raw in the line, and the exact string back when parsed.
    expect(out[0]!.slice(0, -1)).toMatch(/^[\x20-\x7e]*$/);
    expect((JSON.parse(out[0]!) as { holder: { owner: string } }).holder.owner).toBe(owner);
    const text: string[] = [];
    const plain = statusLine(false, (line) => text.push(line));
    plain({ event: 'acquired', fencingToken: 3 });
    plain({ event: 'lost' }, 'lock x lost: its key was deleted');
    expect(text).toEqual(['tenure: lock x lost: its key was deleted\n']);
  });
});
