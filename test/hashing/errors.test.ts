import { describe, it, expect } from 'vitest';
import {
  BoundedLoadRing,
  HashRing,
  JumpHash,
  KetamaRing,
  Maglev,
  MementoHash,
  Rendezvous,
  SlotTable,
  restore,
  type ConsistentHash,
} from '../../src/hashing/index.js';
import { TenureError } from '../../src/errors.js';

const makers: [string, (nodes?: string[]) => ConsistentHash][] = [
  ['ketama', (n) => new KetamaRing(n)],
  ['ring', (n) => new HashRing(n)],
  ['bounded', (n) => new BoundedLoadRing(n)],
  ['rendezvous', (n) => new Rendezvous(n)],
  ['jump', (n) => new JumpHash(n)],
  ['memento', (n) => new MementoHash(n)],
  ['maglev', (n) => new Maglev(n)],
  ['slots', (n) => new SlotTable(n)],
];

function expectInvalid(f: () => unknown, reason: string): void {
  let thrown: unknown;
  try {
    f();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(TenureError);
  const e = thrown as TenureError;
  expect(e.code).toBe('TENURE_INVALID_ARGUMENT');
  expect(e.retryable).toBe(false);
  expect(e.details.reason).toBe(reason);
}

describe.each(makers)('%s rejects bad input with typed errors', (_name, make) => {
  it('no nodes', () => {
    const h = make();
    expect(h.size).toBe(0);
    expectInvalid(() => h.lookup('k'), 'no-nodes');
    expectInvalid(() => h.lookupN('k', 1), 'no-nodes');
  });

  it('duplicate node, in the constructor and in add', () => {
    expectInvalid(() => make(['a', 'b', 'a']), 'duplicate-node');
    const h = make(['a']);
    expectInvalid(() => h.add('a'), 'duplicate-node');
    expect(h.size).toBe(1);
  });

  it('weight ≤ 0, NaN or infinite; empty or non-string ids', () => {
    const h = make(['a']);
    for (const w of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expectInvalid(() => h.add('b', w), 'bad-weight');
    expectInvalid(() => h.add(''), 'bad-node');
    expectInvalid(() => h.add(42 as unknown as string), 'bad-node');
    expect(h.nodes()).toEqual(['a']);
  });

  it('n larger than the node count, zero or fractional', () => {
    const h = make(['a', 'b']);
    expectInvalid(() => h.lookupN('k', 3), 'bad-count');
    expectInvalid(() => h.lookupN('k', 0), 'bad-count');
    expectInvalid(() => h.lookupN('k', 1.5), 'bad-count');
  });

  it('removing a non-member', () => {
    expectInvalid(() => make(['a']).remove('zz'), 'unknown-node');
  });
});

describe('algorithm-specific checks', () => {
  it('unweighted algorithms refuse weights other than 1, and say which to use', () => {
    expectInvalid(() => new JumpHash().add('a', 2), 'bad-weight');
    expectInvalid(() => new MementoHash([{ node: 'a', weight: 3 }]), 'bad-weight');
    expect(() => new JumpHash().add('a', 2)).toThrow(/rendezvous, maglev or a ring/);
  });

  it('bad options name the option and the accepted range', () => {
    expectInvalid(() => new Maglev(['a'], { tableSize: 65536 }), 'bad-option');
    expect(() => new Maglev(['a'], { tableSize: 65536 })).toThrow(/tableSize must be a prime/);
    expectInvalid(() => new Maglev(['a', 'b', 'c', 'd'], { tableSize: 3 }), 'bad-option');
    expectInvalid(() => new HashRing(['a'], { pointsPerNode: 0 }), 'bad-option');
    expectInvalid(() => new BoundedLoadRing(['a'], { epsilon: 0 }), 'bad-option');
    expectInvalid(() => new KetamaRing(['a'], { compatibility: 'x' as 'hashring' }), 'bad-option');
    expectInvalid(() => new SlotTable(['a'], { slotCount: 0 }), 'bad-option');
    expectInvalid(() => new BoundedLoadRing(['a']).release('a'), 'bad-option');
  });

  it('a maglev add that would not fit leaves the members unchanged', () => {
    const m = new Maglev(['a', 'b', 'c'], { tableSize: 3 });
    expectInvalid(() => m.add('d'), 'bad-option');
    expect(m.nodes()).toEqual(['a', 'b', 'c']);
  });

  it('restore rejects what it does not understand with TENURE_CORRUPT', () => {
    for (const bad of [
      null,
      {},
      { format: 'tenure.hashing/2', algorithm: 'ring', options: {}, nodes: [] },
      { format: 'tenure.hashing/1', algorithm: 'nope', options: {}, nodes: [] },
      {
        format: 'tenure.hashing/1',
        algorithm: 'bounded',
        options: {},
        nodes: [{ node: 'a', weight: 1 }],
        state: { loads: [-1] },
      },
      {
        format: 'tenure.hashing/1',
        algorithm: 'memento',
        options: {},
        nodes: [],
        state: { buckets: ['a', ''], removals: [0] },
      },
      {
        format: 'tenure.hashing/1',
        algorithm: 'slots',
        options: { slotCount: 4 },
        nodes: [{ node: 'a', weight: 1 }],
        state: { owners: [0, 0, 0, 7] },
      },
    ]) {
      expect(() => restore(bad)).toThrow(expect.objectContaining({ code: 'TENURE_CORRUPT' }));
    }
  });
});
