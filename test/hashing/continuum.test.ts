import { describe, it, expect } from 'vitest';
import { HashRing, KetamaRing, murmur3 } from '../../src/hashing/index.js';
import type { Continuum } from '../../src/hashing/continuum.js';

/** The ring's continuum and its layout (private fields, read for the test only). */
function continuumOf(ring: HashRing | KetamaRing): Continuum {
  return (ring as unknown as { continuum: Continuum }).continuum;
}
function layoutOf(c: Continuum): number {
  return (c as unknown as { layout: number }).layout;
}
function ownerTableOf(c: Continuum): Uint16Array {
  return (c as unknown as { ownerTable: Uint16Array }).ownerTable;
}
const OWNER_TABLE = 0;
const SPLIT = 1;
const DIRECT = 2;

/**
 * Hashes where an owner changes or a table bucket starts: every point, its neighbours, the ends of
 * the circle, the edges of 2^k buckets, and pseudo-random ones.
 */
function probes(c: Continuum): number[] {
  const out = [0, 1, 0xffffffff, 0xfffffffe, 0x80000000, 0x7fffffff];
  for (const p of c.points) out.push(p, (p + 1) >>> 0, (p - 1) >>> 0);
  for (let k = 1; k <= 20; k++) {
    for (let i = 0; i < 64; i++) {
      const edge = ((murmur3(`edge-${k}`, i) >>> (32 - k)) * 2 ** (32 - k)) >>> 0;
      out.push(edge, (edge - 1) >>> 0);
    }
  }
  for (let i = 0; i < 50_000; i++) out.push(murmur3('probe', i));
  return out;
}

/** Probes where `ownerOf` disagrees with a binary search of the sorted points (libketama's rule). */
function mismatches(c: Continuum): number {
  let bad = 0;
  for (const h of probes(c)) {
    const expected = c.owners[c.position(h)]!;
    if (c.ownerOf(h) !== expected || c.ownerOf(h | 0) !== expected) bad++;
  }
  return bad;
}

const members = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('continuum lookups equal a binary search of the points in every layout', () => {
  const cases: [string, () => HashRing | KetamaRing, number][] = [
    ['owner table, 1 member', () => new HashRing(['only']), OWNER_TABLE],
    ['owner table, 10 members', () => new HashRing(members(10)), OWNER_TABLE],
    ['owner table, 100 members', () => new HashRing(members(100)), OWNER_TABLE],
    [
      'owner table, weighted ketama',
      () => new KetamaRing(members(37).map((node, i) => ({ node, weight: 1 + (i % 4) }))),
      OWNER_TABLE,
    ],
    [
      'owner table, 1 point each (sparse buckets)',
      () => new HashRing(members(300), { pointsPerNode: 1 }),
      OWNER_TABLE,
    ],
    ['split with an owner table in front, 1000 members', () => new HashRing(members(1000)), SPLIT],
    [
      'split with an owner table in front, its smallest (16384 points)',
      () => new HashRing(members(16384), { pointsPerNode: 1 }),
      SPLIT,
    ],
    [
      'split with an owner table in front, its largest (262144 points)',
      () => new HashRing(members(1024), { pointsPerNode: 256 }),
      SPLIT,
    ],
    ['split alone, over 262144 points', () => new HashRing(members(1700)), SPLIT],
    [
      'direct, member numbers of 16384 and above',
      () => new HashRing(members(17000), { pointsPerNode: 1 }),
      DIRECT,
    ],
  ];

  it.each(cases)('%s', (_name, build, layout) => {
    const c = continuumOf(build());
    expect(layoutOf(c)).toBe(layout);
    // The owner table in front of a split ring: present up to 262144 points, absent beyond.
    if (layout === SPLIT) expect(ownerTableOf(c).length > 2).toBe(c.points.length <= 262144);
    expect(mismatches(c)).toBe(0);
  });

  it('after members leave and return (reused member numbers), still equal', () => {
    const ring = new HashRing(members(60));
    for (let i = 0; i < 60; i += 3) ring.remove(`m-${i}`);
    for (let i = 0; i < 10; i++) ring.add(`n-${i}`, 1 + (i % 3));
    const c = continuumOf(ring);
    expect(layoutOf(c)).toBe(OWNER_TABLE);
    expect(mismatches(c)).toBe(0);
  });

  it('negative control: one wrong owner-table entry is caught', () => {
    const c = continuumOf(new HashRing(members(10)));
    const table = (c as unknown as { ownerTable: Uint16Array }).ownerTable;
    // The bucket of a probe that the table answers alone (its entry is an owner, not mixed).
    const h = murmur3('probe', 7);
    const b = h >>> (c as unknown as { ownerShift: number }).ownerShift;
    expect(table[b]!).toBeLessThan(0x8000);
    table[b] = (table[b]! + 1) % 10;
    expect(mismatches(c)).toBeGreaterThan(0);
  });

  it('negative control: a mixed bucket resolved from the wrong position is caught', () => {
    const c = continuumOf(new HashRing(members(10)));
    const table = (c as unknown as { ownerTable: Uint16Array }).ownerTable;
    let changed = 0;
    for (let b = 0; b < table.length; b++) {
      // Starting the scan one point late skips the bucket's first point.
      if (table[b]! >= 0x8000 && (table[b]! & 0x7fff) + 1 < c.points.length) {
        table[b]!++;
        changed++;
      }
    }
    expect(changed).toBeGreaterThan(0);
    expect(mismatches(c)).toBeGreaterThan(0);
  });
});
