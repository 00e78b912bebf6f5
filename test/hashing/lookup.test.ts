import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import {
  BoundedLoadRing,
  HashRing,
  JumpHash,
  KetamaRing,
  Maglev,
  MementoHash,
  Rendezvous,
  SlotTable,
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
