import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { GCProfiler, getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  BoundedLoadRing,
  HashRing,
  JumpHash,
  KetamaRing,
  Maglev,
  MementoHash,
  Rendezvous,
  SlotTable,
  murmur3,
  murmur3i32,
  restore,
  slotOf,
  type ConsistentHash,
} from '../../src/hashing/index.js';

// Keys of every shape the hash reads differently: ASCII of every length modulo 4, non-ASCII in the
// body and in the tail, surrogate pairs and lone surrogates.
const KEYS = [
  ...Array.from({ length: 3000 }, (_, i) => `user:${i}`),
  ...Array.from({ length: 500 }, (_, i) => 'k'.repeat(i % 9) + `-${i * 7919}`),
  ...Array.from({ length: 300 }, (_, i) => `ключ-${i}`),
  ...Array.from({ length: 100 }, (_, i) => `${i}é`),
  ...Array.from({ length: 100 }, (_, i) => `emoji-${i}-😀`),
  ...Array.from({ length: 50 }, (_, i) => `lone-${i}-\ud800`),
  '',
];

const members = (n: number) => Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}:6379`);

function digest(h: ConsistentHash): string {
  const sha = createHash('sha256');
  for (const key of KEYS) sha.update(`${h.lookup(key)} ${h.lookupN(key, 3).join(',')}\n`);
  return sha.digest('hex').slice(0, 16);
}

function placements(): [string, ConsistentHash][] {
  const weighted = members(37).map((node, i) => ({ node, weight: 1 + (i % 4) }));
  const memento = new MementoHash(members(50));
  for (const i of [3, 30, 11, 49, 0]) memento.remove(members(50)[i]!);
  const jump = new JumpHash(members(50));
  jump.remove(members(50)[7]!);
  return [
    ['ketama', new KetamaRing(weighted)],
    ['ring', new HashRing(weighted)],
    ['ring-1000', new HashRing(members(1000))],
    ['bounded', new BoundedLoadRing(members(20))],
    ['rendezvous', new Rendezvous(weighted)],
    ['jump', jump],
    ['jump-1000', new JumpHash(members(1000))],
    ['memento', memento],
    ['maglev', new Maglev(weighted)],
    ['maglev-5003', new Maglev(members(100), { tableSize: 5003 })],
    ['slots', new SlotTable(weighted)],
    ['slots-1000', new SlotTable(members(10), { slotCount: 1000 })],
  ];
}

/**
 * Each algorithm's mapping of the keys above, as released: a lookup made faster must still send
 * every key to the member it went to before, or fleets that upgrade one process at a time would
 * disagree on owners.
 */
const RELEASED: Record<string, string> = {
  ketama: '0e4ffe657d472fb3',
  ring: 'dbe12fbd0e86b7cb',
  'ring-1000': '366f3805bf511232',
  bounded: '45c1a084a0974f99',
  rendezvous: '9285b008efadafa4',
  jump: 'c7539c712802b244',
  'jump-1000': '6d8ee922db37492d',
  memento: 'e38aa71f1836e574',
  maglev: '00f481b20c462d72',
  'maglev-5003': '11e6d8fc76083373',
  slots: '31c3985ad3b4772b',
  'slots-1000': 'e63f9c236751a8e3',
};

describe('lookups keep the released mappings', () => {
  it('every algorithm maps the keys exactly as before', () => {
    const got = Object.fromEntries(placements().map(([name, h]) => [name, digest(h)]));
    expect(got).toEqual(RELEASED);
  });
});

// --- allocation -------------------------------------------------------------------------------

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
// Optimised code is what is measured. V8 optimises hot functions on a background thread, which on
// a loaded machine may not be done by the end of the warm-up: a function still unoptimised (a
// lookup's rarely taken scan, say) boxes every unsigned 32-bit number it reads. So each warm-up
// round ends by waiting for the optimisations under way and installing them.
setFlagsFromString('--allow-natives-syntax');
const finishOptimizations = new Function('%FinalizeOptimization();') as () => void;
/** Where results go, so that the optimising compiler cannot drop the calls. */
export let escape: unknown;

/**
 * Bytes of the young generation in use. JavaScript objects (a boxed number, an array, a string) are
 * born there; what the engine itself adds while a loop runs (feedback, deoptimisation data, code
 * installed by a background compile) goes to the old and code spaces. Counting the whole heap
 * measured that engine work too: on a loaded machine one measured run gained 166 KB of old space
 * (0.8 B per lookup) while the young generation grew by its usual 5 KB.
 */
function youngBytes(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space')
      used += space.space_used_size;
  }
  return used;
}

/**
 * Bytes allocated per call of `fn` over `calls` calls. The loop is compiled afresh for each
 * measurement (one call target, so nothing deoptimises) and warmed up until the optimising compiler
 * is done with it; garbage collections during the measured loop would free what was allocated and
 * hide it, so any collection counts as allocation (Infinity).
 */
function bytesPerCall(fn: (key: string) => unknown, keys: readonly string[], calls: number): number {
  const loop = new Function(
    'fn',
    'keys',
    'calls',
    'let r; for (let i = 0; i < calls; i++) r = fn(keys[i % keys.length]); return r;',
  ) as (f: typeof fn, k: readonly string[], c: number) => unknown;
  for (let warm = 0; warm < 5; warm++) {
    escape = loop(fn, keys, 50_000);
    finishOptimizations();
  }
  // Allocation per call is deterministic and what else the heap gains meanwhile only adds to it:
  // the least of three runs is the estimate.
  let least = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    gc();
    const profiler = new GCProfiler();
    profiler.start();
    const before = youngBytes();
    escape = loop(fn, keys, calls);
    const grown = youngBytes() - before;
    const collections = profiler.stop().statistics.length;
    least = Math.min(least, collections > 0 ? Number.POSITIVE_INFINITY : Math.max(0, grown) / calls);
  }
  return least;
}

const ALLOCATION_KEYS = Array.from({ length: 4096 }, (_, i) => `session:${(i * 2654435761) >>> 0}`);

describe('lookups allocate nothing', () => {
  // Rendezvous scores every member: 8 weighted members keep this test fast.
  const eight = members(8).map((node, i) => ({ node, weight: 1 + (i % 4) }));
  const cases = placements().map(([name, h]): [string, ConsistentHash] =>
    name === 'rendezvous' ? [name, new Rendezvous(eight)] : [name, h],
  );

  it.each(cases)('%s: lookup', (_name, h) => {
    // 0.25 B per lookup is one 16-byte allocation every 64 lookups; what the loop itself leaves
    // (code and feedback installed while it runs) measures 0.001–0.1.
    expect(bytesPerCall((key) => h.lookup(key), ALLOCATION_KEYS, 200_000)).toBeLessThan(0.25);
  });

  it('the measurement sees an allocation of 16 bytes per call (negative control)', () => {
    const h = new Maglev(members(10));
    // A one-element array that escapes: what boxing a hash as a heap number costs, and more.
    expect(bytesPerCall((key) => [h.lookup(key)], ALLOCATION_KEYS, 200_000)).toBeGreaterThan(8);
  });

  it('the measurement sees one allocation every 64 lookups, below any collection (negative control)', () => {
    const h = new Maglev(members(10));
    let calls = 0;
    const sometimes = (key: string) => (++calls % 64 === 0 ? [h.lookup(key)] : h.lookup(key));
    const bytes = bytesPerCall(sometimes, ALLOCATION_KEYS, 200_000);
    expect(bytes).toBeGreaterThanOrEqual(0.25);
    expect(bytes).toBeLessThan(Number.POSITIVE_INFINITY);
  });
});

describe('lookupHash', () => {
  it.each(placements())('%s: lookupHash(hashOf(key)) is lookup(key), signed or unsigned', (_name, h) => {
    for (const key of KEYS) {
      const hash = h.hashOf(key);
      expect(hash).toBe(hash | 0);
      const owner = h.lookup(key);
      expect(h.lookupHash(hash)).toBe(owner);
      expect(h.lookupHash(hash >>> 0)).toBe(owner);
    }
  });

  it('Maglev maps a hash to entry ⌊u · M / 2^32⌋ exactly, for the default M = 65537 and another M', () => {
    // The default table size takes an integer-only path: for every 257th a, the u = a · 2^16 + c
    // whose a + c is just below, at and just above 2^16 (the carry); the ends of the range; and
    // hashes, against the exact product in BigInt. (Checked once for all 2^32 u, signed and not.)
    const us = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffeffff, 0xffff0000, 0xffffffff];
    for (let a = 0; a < 65536; a += 257)
      for (const d of [-1, 0, 1]) us.push(a * 65536 + ((65536 - a + d) & 0xffff));
    for (let i = 0; i < 20000; i++) us.push(murmur3(`u${i}`));
    for (const m of [65537, 5003]) {
      const maglev = new Maglev(members(3), { tableSize: m }) as unknown as { entryOf(h: number): number };
      for (const u of us) expect(maglev.entryOf(u | 0)).toBe(Number((BigInt(u) * BigInt(m)) >> 32n));
    }
  });

  it('hashOf is murmur3i32 (the ketama ring: the first MD5 word), the signed murmur3', () => {
    for (const key of KEYS) expect(new Maglev(['a']).hashOf(key)).toBe(murmur3(key) | 0);
    for (const key of KEYS) expect(murmur3i32(key)).toBe(murmur3(key) | 0);
    expect(slotOf('user:42')).toBe(murmur3('user:42') % 16384);
  });

  it.each(placements())('%s: a hash that is not a 32-bit integer is a typed error', (_name, h) => {
    for (const bad of [0.5, -2147483649, 4294967296, Number.NaN, Infinity]) {
      expect(() => h.lookupHash(bad)).toThrow(
        expect.objectContaining({
          code: 'TENURE_INVALID_ARGUMENT',
          details: expect.objectContaining({ reason: 'bad-hash' }),
        }),
      );
    }
    // The bounds themselves are accepted.
    for (const good of [-2147483648, 4294967295, 0]) expect(typeof h.lookupHash(good)).toBe('string');
  });

  it.each([
    ['maglev', new Maglev()],
    ['slots', new SlotTable()],
    ['jump', new JumpHash()],
    ['memento', new MementoHash()],
    ['ring', new HashRing()],
    ['ketama', new KetamaRing()],
    ['rendezvous', new Rendezvous()],
    ['bounded', new BoundedLoadRing()],
  ] as [string, ConsistentHash][])('%s: lookupHash on no members is a typed error', (_name, h) => {
    expect(() => h.lookupHash(1)).toThrow(
      expect.objectContaining({
        code: 'TENURE_INVALID_ARGUMENT',
        details: expect.objectContaining({ reason: 'no-nodes' }),
      }),
    );
  });
});

describe('weighted rings with few members', () => {
  const weights = [1, 2, 3, 4];
  const worstError = (ring: HashRing | KetamaRing, members: { node: string; weight: number }[]) => {
    const shares = ring.shares();
    return Math.max(...members.map((m) => Math.abs(shares.get(m.node)! / (m.weight / 10) - 1)));
  };
  const sets = Array.from({ length: 10 }, (_, set) =>
    weights.map((weight, i) => ({ node: `cache-${set}-${i}.example:11211`, weight })),
  );

  it('weights 1, 2, 3, 4 get their share within ±5 % with enough points (ketama 10240 a server, fast ring 2560 a unit)', () => {
    for (const members of sets) {
      expect(worstError(new KetamaRing(members, { pointsPerServer: 10240 }), members)).toBeLessThanOrEqual(
        0.05,
      );
      expect(worstError(new HashRing(members, { pointsPerNode: 2560 }), members)).toBeLessThanOrEqual(0.05);
    }
  });

  it('the default points miss ±5 % (negative control: the check can fail)', () => {
    const ketama = sets.map((members) => worstError(new KetamaRing(members), members));
    const ring = sets.map((members) => worstError(new HashRing(members), members));
    expect(Math.max(...ketama)).toBeGreaterThan(0.05);
    expect(Math.max(...ring)).toBeGreaterThan(0.05);
  });

  it('pointsPerServer 160 is libketama itself; another value is a different ring, kept by snapshots', () => {
    const members = sets[0]!;
    const compatible = new KetamaRing(members, { pointsPerServer: 160 });
    const dense = new KetamaRing(members, { pointsPerServer: 1024 });
    const plain = new KetamaRing(members);
    expect(KEYS.map((k) => compatible.lookup(k))).toEqual(KEYS.map((k) => plain.lookup(k)));
    expect(KEYS.map((k) => dense.lookup(k))).not.toEqual(KEYS.map((k) => plain.lookup(k)));
    expect(dense.pointCount).toBeGreaterThan(4 * plain.pointCount);
    const copy = restore(JSON.parse(JSON.stringify(dense.snapshot())) as unknown);
    expect(KEYS.map((k) => copy.lookup(k))).toEqual(KEYS.map((k) => dense.lookup(k)));
  });

  it.each([0, 3, 6, 65540, 1.5, Number.NaN])(
    'pointsPerServer %s is a typed error naming the option',
    (bad) => {
      expect(() => new KetamaRing(['a'], { pointsPerServer: bad })).toThrow(
        expect.objectContaining({
          code: 'TENURE_INVALID_ARGUMENT',
          message: expect.stringContaining('pointsPerServer must be a multiple of 4 in 4..65536') as unknown,
        }),
      );
    },
  );
});
