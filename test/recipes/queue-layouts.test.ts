/**
 * The queue recipes' layouts (election, mutex, semaphore, rwlock): key builders, value codecs,
 * and each describe()'s holder rule, on good and malformed keys.
 */
import { describe as suite, expect, expectTypeOf, it } from 'vitest';
import { Mutex, RWLock, Semaphore, Session, type QueueEntry, type SemaphoreEntry } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import * as election from '../../src/recipes/coordination/election-layout.js';
import * as mutex from '../../src/recipes/coordination/mutex-layout.js';
import {
  decodeTagged,
  encodeTagged,
  parseQueueKey,
  queuePrefix,
} from '../../src/recipes/coordination/queue-layout.js';
import * as rwlock from '../../src/recipes/coordination/rwlock-layout.js';
import * as semaphore from '../../src/recipes/coordination/semaphore-layout.js';
import { MAX_UNDECODED } from '../../src/recipes/undecoded-keys.js';
import type { KeyValue } from '../../src/store/types.js';

const enc = new TextEncoder();
let rev = 100;
function kv(key: string, value: string, createRevision = ++rev, lease: string | null = 'L1'): KeyValue {
  return { key, value: enc.encode(value), createRevision, modRevision: createRevision, version: 1, lease };
}
const owners = (list: readonly { owner: string }[]) => list.map((e) => e.owner);

suite('queue layout', () => {
  it('builds and parses <kind>/<name>/<unique>', () => {
    expect(queuePrefix('mutex', 'm')).toBe('mutex/m/');
    expect(election.electionPrefix('e')).toBe('election/e/');
    expect(mutex.mutexPrefix('m')).toBe('mutex/m/');
    expect(mutex.markerKey('m')).toBe('mutex-holder/m');
    expect(semaphore.semaphorePrefix('s')).toBe('semaphore/s/');
    expect(rwlock.rwlockPrefix('r')).toBe('rwlock/r/');
    expect(parseQueueKey('mutex', 'mutex/m/abc-1-2')).toEqual({
      kind: 'entry',
      name: 'm',
      unique: 'abc-1-2',
    });
    for (const key of ['mutex/noslash', 'mutex//k', 'mutex/name/', 'election/m/k', 'mutex'])
      expect(parseQueueKey('mutex', key).kind).toBe('undecodable');
  });

  it('round-trips a tagged value, the owner keeping its spaces', () => {
    expect(decodeTagged(encodeTagged(3, 'host a:1'))).toEqual(['3', 'host a:1']);
    expect(decodeTagged('untagged')).toEqual(['', 'untagged']);
  });
});

suite('election layout', () => {
  it('the leader is the lowest create revision, its term that revision, candidates in order', () => {
    const d = election.describe([
      kv('election/b/k3', 'node-c', 30),
      kv('election/b/k1', 'node-a', 10),
      kv('election/b/k2', 'node-b', 20),
      kv('election/a/k9', 'solo', 5),
    ]);
    expect(d.elections.map((e) => e.name)).toEqual(['a', 'b']);
    const b = d.elections[1]!;
    expect(b.leader).toEqual({ key: 'election/b/k1', owner: 'node-a', token: 10, lease: 'L1' });
    expect(b.term).toBe(10);
    expect(owners(b.candidates)).toEqual(['node-a', 'node-b', 'node-c']);
    expect(d.undecodedCount).toBe(0);
  });

  it('reports malformed keys without losing the good ones', () => {
    const d = election.describe([
      kv('election/noslash', 'x'),
      kv('election//k', 'x'),
      kv('election/name/', 'x'),
      kv('election/ok/k1', 'leader-a', 7),
    ]);
    expect(d.elections).toHaveLength(1);
    expect(d.elections[0]!.leader?.owner).toBe('leader-a');
    expect(d.undecoded.map((u) => u.key)).toEqual(['election/noslash', 'election//k', 'election/name/']);
    expect(d.undecodedCount).toBe(3);
  });

  it(`lists at most ${MAX_UNDECODED} undecodable keys, counting the rest, each clipped`, () => {
    const bad = Array.from({ length: 1000 }, (_, i) => kv(`election/bad${i}${'x'.repeat(300)}`, 'x'));
    const d = election.describe(bad);
    expect(d.undecoded).toHaveLength(MAX_UNDECODED);
    expect(d.undecodedCount).toBe(1000);
    expect(d.undecoded[0]!.key.length).toBeLessThanOrEqual(201);
  });
});

suite('mutex layout', () => {
  it('the first entry holds, the rest wait in order', () => {
    const d = mutex.describe([
      kv('mutex/m/b', 'w2', 12),
      kv('mutex/m/a', 'h', 11),
      kv('mutex/m/c', 'w3', 13),
    ]);
    expect(d.mutexes).toHaveLength(1);
    expect(d.mutexes[0]!.holder).toMatchObject({ owner: 'h', token: 11 });
    expect(owners(d.mutexes[0]!.waiters)).toEqual(['w2', 'w3']);
  });

  it('reports keys without a name or a unique part', () => {
    const d = mutex.describe([kv('mutex/x', 'a'), kv('mutex/m/a', 'h')]);
    expect(d.undecoded).toEqual([{ key: 'mutex/x', reason: 'not mutex/<name>/<key>' }]);
    expect(d.mutexes[0]!.holder?.owner).toBe('h');
  });
});

suite('semaphore layout', () => {
  it('the first N by the permit count hold', () => {
    const d = semaphore.describe(
      ['a', 'b', 'c', 'd'].map((o, i) =>
        kv(`semaphore/s/${o}`, semaphore.encodeSemaphoreValue(2, o), 20 + i),
      ),
    );
    const s = d.semaphores[0]!;
    expect(s.permits).toBe(2);
    expect(owners(s.holders)).toEqual(['a', 'b']);
    expect(owners(s.waiters)).toEqual(['c', 'd']);
    expect(s.permitsDeclared).toBeUndefined();
  });

  it('reports disagreement on N, counting by the smallest', () => {
    const d = semaphore.describe([
      kv('semaphore/s/a', '3 a', 1),
      kv('semaphore/s/b', '1 b', 2),
      kv('semaphore/s/c', '3 c', 3),
    ]);
    const s = d.semaphores[0]!;
    expect(s.permits).toBe(1);
    expect(s.permitsDeclared).toEqual([1, 3]);
    expect(owners(s.holders)).toEqual(['a']);
  });

  it('reports an entry without a readable permit count and leaves it out', () => {
    const d = semaphore.describe([
      kv('semaphore/s/a', 'two a', 1),
      kv('semaphore/s/b', '0 b', 2),
      kv('semaphore/s/c', '99999999999 c', 3),
      kv('semaphore/s/d', '2 d', 4),
      kv('semaphore/only-bad/x', 'nope', 5),
    ]);
    expect(d.semaphores.map((s) => s.name)).toEqual(['s']);
    expect(owners(d.semaphores[0]!.holders)).toEqual(['d']);
    expect(d.undecoded.map((u) => u.key)).toEqual([
      'semaphore/only-bad/x',
      'semaphore/s/a',
      'semaphore/s/b',
      'semaphore/s/c',
    ]);
  });
});

suite('rwlock layout', () => {
  const q = (modes: string[]) =>
    rwlock.describe(
      modes.map((m, i) => kv(`rwlock/r/${i}`, rwlock.encodeRWValue(m as 'read', `o${i}`), 40 + i)),
    ).rwlocks[0]!;

  it('readers ahead of the first writer hold together', () => {
    const d = q(['read', 'read', 'write', 'read']);
    expect(owners(d.holders)).toEqual(['o0', 'o1']);
    expect(owners(d.waiters)).toEqual(['o2', 'o3']);
  });

  it('a writer at the head holds alone; readers alone all hold', () => {
    expect(owners(q(['write', 'read', 'read']).holders)).toEqual(['o0']);
    expect(owners(q(['read', 'read', 'read']).holders)).toEqual(['o0', 'o1', 'o2']);
  });

  it('reports an entry of neither mode', () => {
    const d = rwlock.describe([kv('rwlock/r/a', 'writer a', 1), kv('rwlock/r/b', 'read b', 2)]);
    expect(owners(d.rwlocks[0]!.holders)).toEqual(['b']);
    expect(d.undecoded).toEqual([
      { key: 'rwlock/r/a', reason: 'a read-write lock entry that is neither read nor write' },
    ]);
    expect(rwlock.isWriterValue(enc.encode('write x'))).toBe(true);
    expect(rwlock.isWriterValue(enc.encode('read x'))).toBe(false);
  });
});

suite('queue() returns decoded entries', () => {
  it('owner and fencing token; a semaphore entry its permits, an rwlock entry its mode', async () => {
    expectTypeOf<Awaited<ReturnType<Mutex['queue']>>>().toEqualTypeOf<QueueEntry[]>();
    expectTypeOf<Awaited<ReturnType<Semaphore['queue']>>>().toEqualTypeOf<SemaphoreEntry[]>();
    expectTypeOf<Awaited<ReturnType<RWLock['queue']>>[number]['mode']>().toEqualTypeOf<'read' | 'write'>();
    const store = new MemoryStore();
    const s = await Session.create(store, { ttlMs: 5000 });
    try {
      const lock = await new Mutex(s, 'm', { owner: 'host-a:1' }).lock();
      const waiting = new Mutex(s, 'm', { owner: 'host b:2' }).lock();
      const m = new Mutex(s, 'm');
      for (let i = 0; i < 100 && (await m.queue()).length < 2; i++)
        await new Promise((r) => setTimeout(r, 5));
      const q = await m.queue();
      expect(q.map((e) => e.owner)).toEqual(['host-a:1', 'host b:2']);
      expect(q[0]!.token).toBe(lock.fencingToken);
      expect(q[1]!.token).toBeGreaterThan(q[0]!.token);
      expect(q[0]!.lease).toBe(s.lease);
      await lock.unlock();
      await (await waiting).unlock();

      await new Semaphore(s, 'sem', 2, { owner: 'x' }).acquire();
      expect(await new Semaphore(s, 'sem', 2).queue()).toMatchObject([{ owner: 'x', permits: 2 }]);
      await new RWLock(s, 'rw', { owner: 'r' }).readLock();
      expect(await new RWLock(s, 'rw').queue()).toMatchObject([{ owner: 'r', mode: 'read' }]);
    } finally {
      await s.close();
      await store.close();
    }
  });
});
