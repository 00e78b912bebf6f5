/**
 * The placement model against tenure's own hashing implementations: peak/average load over
 * 20,000 keys and the fraction of keys moved by adding a member and by removing a middle one,
 * averaged over 10 independent member sets. Negative controls: a ring model with a tenth of the
 * points, and Jump's removal taken as 1/n, must disagree.
 */
import { describe, expect, it } from 'vitest';
import {
  BoundedLoadRing,
  HashRing,
  JumpHash,
  KetamaRing,
  Maglev,
  MementoHash,
  Rendezvous,
  SlotTable,
  type ConsistentHash,
} from '../../src/hashing/index.js';
import { placementModel, pointsPerNodeFor, type PlacementAlgorithm } from '../../src/models/index.js';
import { agrees, meanOf, seeded, show, type Estimate } from './simulation.js';

const N = 10;
const KEYS = 10_000;
const TRIALS = 10;

function build(algorithm: PlacementAlgorithm, nodes: string[]): ConsistentHash {
  switch (algorithm) {
    case 'ring':
      return new HashRing(nodes, { pointsPerNode: 160 });
    case 'ketama':
      return new KetamaRing(nodes);
    case 'bounded':
      return new BoundedLoadRing(nodes, { epsilon: 0.05 });
    case 'rendezvous':
      return new Rendezvous(nodes);
    case 'jump':
      return new JumpHash(nodes);
    case 'memento':
      return new MementoHash(nodes);
    case 'maglev':
      return new Maglev(nodes, { tableSize: 65537 });
    case 'slots':
      return new SlotTable(nodes, { slotCount: 16384 });
  }
}

interface Measured {
  peak: Estimate;
  movedOnAdd: Estimate;
  movedOnRemove: Estimate;
}

function measure(algorithm: PlacementAlgorithm): Measured {
  const u = seeded(algorithm.length * 7919 + algorithm.charCodeAt(0));
  const peaks: number[] = [];
  const added: number[] = [];
  const removed: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const tag = Math.floor(u() * 1e9).toString(36);
    const nodes = Array.from({ length: N }, (_, i) => `node-${tag}-${i}`);
    const keys = Array.from({ length: KEYS }, (_, i) => `key:${tag}:${i}:${Math.floor(u() * 1e9)}`);
    const h = build(algorithm, nodes);
    const owners =
      h instanceof BoundedLoadRing ? keys.map((k) => h.acquire(k)) : keys.map((k) => h.lookup(k));
    const load = new Map<string, number>();
    for (const o of owners) load.set(o, (load.get(o) ?? 0) + 1);
    peaks.push(Math.max(...load.values()) / (KEYS / N));
    if (algorithm === 'bounded') continue; // its movement is the underlying ring's
    h.add(`node-${tag}-new`);
    added.push(keys.filter((k, i) => h.lookup(k) !== owners[i]).length / KEYS);
    const r = build(algorithm, nodes);
    r.remove(r.nodes()[N / 2]!);
    removed.push(keys.filter((k, i) => r.lookup(k) !== owners[i]).length / KEYS);
  }
  const none = { value: Number.NaN, low: Number.NaN, high: Number.NaN };
  return {
    peak: meanOf(peaks),
    movedOnAdd: added.length > 0 ? meanOf(added) : none,
    movedOnRemove: removed.length > 0 ? meanOf(removed) : none,
  };
}

const cache = new Map<PlacementAlgorithm, Measured>();
const measured = (a: PlacementAlgorithm) => cache.get(a) ?? (cache.set(a, measure(a)), cache.get(a)!);

describe('placement model against the hashing implementations', () => {
  for (const algorithm of [
    'ring',
    'ketama',
    'bounded',
    'rendezvous',
    'jump',
    'memento',
    'maglev',
    'slots',
  ] as const)
    it(`${algorithm}: peak/average and keys moved`, () => {
      const m = measured(algorithm);
      const p = placementModel({ algorithm, members: N, keys: KEYS, epsilon: 0.05 });
      expect(agrees(p.peakToAverage, m.peak), `peak: ${show(p.peakToAverage, m.peak)}`).toBe(true);
      if (algorithm === 'bounded') return;
      if (p.movementIsLowerBound) {
        expect(m.movedOnAdd.high).toBeGreaterThanOrEqual(p.movedOnAdd);
        expect(m.movedOnRemove.high).toBeGreaterThanOrEqual(p.movedOnRemove);
      } else {
        expect(agrees(p.movedOnAdd, m.movedOnAdd), `add: ${show(p.movedOnAdd, m.movedOnAdd)}`).toBe(true);
        expect(
          agrees(p.movedOnRemove, m.movedOnRemove),
          `remove: ${show(p.movedOnRemove, m.movedOnRemove)}`,
        ).toBe(true);
      }
    });

  it('negative controls: a ring with a tenth of the points, and Jump removal as 1/n, disagree', () => {
    const wrongPoints = placementModel({ algorithm: 'ring', members: N, keys: KEYS, pointsPerNode: 16 });
    expect(agrees(wrongPoints.peakToAverage, measured('ring').peak)).toBe(false);
    const memento = placementModel({ algorithm: 'memento', members: N, keys: KEYS });
    expect(agrees(memento.movedOnRemove, measured('jump').movedOnRemove)).toBe(false);
  });

  it('pointsPerNodeFor: the count it picks meets the target on the real ring, and fewer points do not', () => {
    const v = pointsPerNodeFor({ members: N, target: 1.12 })!;
    expect(v).toBeGreaterThan(1);
    const at = (points: number) =>
      placementModel({ algorithm: 'ring', members: N, pointsPerNode: points }).peakToAverage;
    expect(at(v)).toBeLessThanOrEqual(1.12);
    expect(at(v - 1)).toBeGreaterThan(1.12);
    expect(pointsPerNodeFor({ members: N, target: 1.001, keys: 1000 })).toBeUndefined();
  });
});
