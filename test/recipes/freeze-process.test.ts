/**
 * Signals after a real freeze: a process holding a lock or a leadership is stopped (SIGSTOP) past
 * its ttl and resumed (SIGCONT). On resume it runs code before any timer (it spins while stopped),
 * so its signal has not aborted yet: `throwIfLost()` must throw anyway, and abort the signal.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { sleep } from '../helpers/async.js';
import { startNode } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const fixture = fileURLToPath(new URL('../fixtures/freeze-checker.mjs', import.meta.url));
const TTL = 800;

async function freezeAndResume(kind: 'lock' | 'leader') {
  const t = tempDir();
  try {
    new SqliteStore({ path: join(t.dir, 'store.db') }).close();
    const child = startNode(fixture, [join(t.dir, 'store.db'), String(TTL), kind]);
    await child.waitFor((l) => l.includes('"held"'));
    child.proc.kill('SIGSTOP');
    await sleep(TTL * 2);
    child.proc.kill('SIGCONT');
    const line = await child.waitFor((l) => l.includes('"resumed"'));
    expect(await child.exited).toBe(0);
    return JSON.parse(line) as { abortedBefore: boolean; code: string | null; abortedAfter: boolean };
  } finally {
    t.cleanup();
  }
}

describe('throwIfLost() right after SIGCONT (real processes, SQLite)', () => {
  it('a lock: TENURE_LOCK_LOST at once, and the signal agrees from then on', async () => {
    const r = await freezeAndResume('lock');
    expect(r.abortedBefore).toBe(false); // the lag: no timer has run yet
    expect(r.code).toBe('TENURE_LOCK_LOST');
    expect(r.abortedAfter).toBe(true);
  });

  it('a leadership: TENURE_NOT_LEADER at once, and the signal agrees from then on', async () => {
    const r = await freezeAndResume('leader');
    expect(r.abortedBefore).toBe(false);
    expect(r.code).toBe('TENURE_NOT_LEADER');
    expect(r.abortedAfter).toBe(true);
  });
});
