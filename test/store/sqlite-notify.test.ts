/**
 * How a SQLite store hears of another process's commit (notify.ts): the kernel reports the write
 * to the WAL file, and `data_version` confirms the commit. The commit becomes visible (in the WAL
 * index, shared memory) just after its last WAL write, so a look right after the write can see
 * the old version, and no further write event follows. These tests drive that ordering with a
 * data version under the test's control and a ManualClock: the real WAL file's write event comes
 * first, the version moves after the notifier has looked.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { ChangeNotifier } from '../../src/store/sqlite/notify.js';
import { eventually } from '../helpers/async.js';
import { tempDir } from '../helpers/tmp.js';

const REAP_MS = 100;

function notifier() {
  const t = tempDir();
  const path = join(t.dir, 's.db');
  writeFileSync(`${path}-wal`, '');
  const clock = new ManualClock();
  const state = { version: 1, looks: 0, notified: 0, closed: false };
  const n = new ChangeNotifier({
    clock,
    path,
    pollIntervalMs: 10,
    idlePollIntervalMs: 25,
    reapIntervalMs: REAP_MS,
    dataVersion: () => {
      state.looks++;
      return state.version;
    },
    watchers: () => 1,
    isClosed: () => state.closed,
    notify: () => state.notified++,
    onTick: () => undefined,
    onReapDue: () => undefined,
  });
  n.watchStarted();
  const writeWal = async () => {
    const before = state.looks;
    appendFileSync(`${path}-wal`, 'frame');
    await eventually(() => state.looks > before, 5000); // the kernel's event reached the notifier
  };
  const close = () => {
    state.closed = true;
    n.close();
    t.cleanup();
  };
  return { clock, state, writeWal, close };
}

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

describe('SQLite change notification', () => {
  it('a WAL write whose commit is already visible wakes the watchers at once', async () => {
    const n = notifier();
    cleanup = n.close;
    n.state.version = 2; // committed before the write event is read
    await n.writeWal();
    expect(n.state.notified).toBe(1);
  });

  it('a commit that becomes visible just after its WAL write is noticed within a millisecond, not at the next tick', async () => {
    const n = notifier();
    cleanup = n.close;
    await n.writeWal(); // the notifier looked: still the old version
    expect(n.state.notified).toBe(0);
    n.state.version = 2; // the commit is published in the WAL index after that look
    await n.clock.advance(1);
    expect(n.state.notified).toBe(1);
  });

  it('a commit published late (its writer descheduled) is still noticed within pollIntervalMs', async () => {
    const n = notifier();
    cleanup = n.close;
    await n.writeWal();
    await n.clock.advance(1); // the first look again: nothing yet
    expect(n.state.notified).toBe(0);
    n.state.version = 2;
    await n.clock.advance(9);
    expect(n.state.notified).toBe(0);
    await n.clock.advance(1);
    expect(n.state.notified).toBe(1);
  });

  it('a WAL write that never commits (rolled back) stops being looked at after reapIntervalMs', async () => {
    const n = notifier();
    cleanup = n.close;
    await n.writeWal();
    const first = n.state.looks;
    await n.clock.advance(REAP_MS - 1); // looks again at 1 ms, then every 10 ms: 1, 11, ..., 91
    expect(n.state.looks - first).toBe(10);
    await n.clock.advance(50); // the regular tick at 100 and the confirmation's last look, at 101
    expect(n.state.looks - first).toBe(12);
    expect(n.clock.pending).toBe(1); // only the ticker is left
    await n.clock.advance(49); // to 199: nothing looks between two regular ticks any more
    expect(n.state.looks - first).toBe(12);
    expect(n.state.notified).toBe(0);
  });
});
