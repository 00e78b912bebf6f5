/** The shard layout: key builders, the table codec, and describe() on good and malformed keys. */
import { describe as suite, expect, it } from 'vitest';
import { assignSlots } from '../../src/hashing/index.js';
import {
  MAX_SLOT_COUNT,
  MAX_UNDECODED,
  decodeTable,
  describe,
  describeGroups,
  encodeTable,
  groupPrefix,
  parseKey,
  slotKey,
  tableKey,
} from '../../src/recipes/fleet/shard-layout.js';
import type { KeyValue } from '../../src/store/types.js';

const enc = new TextEncoder();
let rev = 0;
function kv(key: string, value: string, createRevision = ++rev): KeyValue {
  return {
    key,
    value: enc.encode(value),
    createRevision,
    modRevision: createRevision,
    version: 1,
    lease: null,
  };
}

/** A table over `nodes` for `slotCount` slots, as ShardManager writes it. */
function table(group: string, nodes: string[], slotCount: number, revision = 5): KeyValue {
  const a = assignSlots(
    nodes.map((node) => ({ node, weight: 1 })),
    { slotCount },
  );
  return kv(tableKey(group), encodeTable(a, 3), revision);
}

suite('shard layout keys', () => {
  it('pads slot indices to the width of slotCount - 1', () => {
    expect(slotKey('g', 7, 256)).toBe('shards/g/slot/007');
    expect(slotKey('g', 7, 10)).toBe('shards/g/slot/7');
    expect(slotKey('g', 0, 1)).toBe('shards/g/slot/0');
    expect(slotKey('g', 65_535, MAX_SLOT_COUNT)).toBe('shards/g/slot/65535');
    expect(tableKey('g')).toBe('shards/g/table');
    expect(groupPrefix('g')).toBe('shards/g/');
  });

  it('parses only the canonical spelling of a slot below the count', () => {
    expect(parseKey('g', 'shards/g/slot/007', 256)).toEqual({ kind: 'slot', slot: 7 });
    expect(parseKey('g', 'shards/g/table', 256)).toEqual({ kind: 'table' });
    for (const rest of ['', '7', '07', '0007', ' 07', '1e2', '0x1', '-01', '256', '300', '007/x', '00٣'])
      expect(parseKey('g', `shards/g/slot/${rest}`, 256).kind).toBe('undecodable');
    expect(parseKey('g', 'shards/g/slot/007', undefined).kind).toBe('undecodable');
    expect(parseKey('g', 'shards/other/slot/007', 256).kind).toBe('undecodable');
    expect(parseKey('g', 'shards/g/tables', 256).kind).toBe('undecodable');
  });
});

suite('shard table codec', () => {
  it('round-trips, stating its slot count', () => {
    const a = assignSlots(
      ['a', 'b', 'c'].map((node) => ({ node, weight: 1 })),
      { slotCount: 100 },
    );
    const text = encodeTable(a, 42);
    expect(JSON.parse(text)).toMatchObject({ v: 1, slotCount: 100 });
    const t = decodeTable(enc.encode(text), undefined, 9);
    expect(t.owners).toEqual(a.owners);
    expect(t.nodes).toEqual(['a', 'b', 'c']);
    expect(t).toMatchObject({ membersRevision: 42, modRevision: 9 });
    expect(decodeTable(enc.encode(text), 100, 9).owners.length).toBe(100);
  });

  it('refuses, as TENURE_CORRUPT, tables it cannot read without allocating by their numbers', () => {
    const bad = (value: unknown, slotCount?: number) => {
      let err: unknown;
      try {
        decodeTable(enc.encode(JSON.stringify(value)), slotCount, 1);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'TENURE_CORRUPT' });
    };
    const ok = { v: 1, slotCount: 4, nodes: ['a'], weights: [1], runs: [0, 4], membersRevision: 1 };
    expect(decodeTable(enc.encode(JSON.stringify(ok)), undefined, 1).owners.length).toBe(4);
    bad({ ...ok, slotCount: 2 ** 31 }); // would be an 8 GiB Uint32Array
    bad({ ...ok, slotCount: MAX_SLOT_COUNT + 1, runs: [0, MAX_SLOT_COUNT + 1] }); // consistent, too big
    bad({ ...ok, slotCount: 1.5 });
    bad({ ...ok, slotCount: 8 }, 4); // another count than the reader's
    bad({ ...ok, runs: [0, 1e12] });
    bad({ ...ok, runs: [0, -4, 0, 8] });
    bad({ ...ok, runs: [1, 4] }); // owner index out of range
    bad({ ...ok, runs: [0, 3] }); // too few slots
    bad({ ...ok, nodes: [7] });
    bad({ ...ok, weights: [] });
    bad({ ...ok, v: 2 });
    bad(null);
    bad('table');
    const { slotCount: _omitted, ...old } = ok; // written before the count was stored
    bad(old);
    expect(decodeTable(enc.encode(JSON.stringify(old)), 4, 1).owners.length).toBe(4);
  });
});

suite('describe()', () => {
  it('decodes holders, tokens and planned owners, taking the slot count from the table', () => {
    const kvs = [
      table('g', ['a', 'b'], 16),
      kv(slotKey('g', 0, 16), 'a', 11),
      kv(slotKey('g', 15, 16), 'b', 12),
    ];
    const d = describe(kvs, { group: 'g' });
    expect(d.slotCount).toBe(16);
    expect(d.table?.nodes).toEqual(['a', 'b']);
    expect(d.table?.modRevision).toBe(5);
    expect(d.slots).toHaveLength(16);
    expect(d.slots[0]).toEqual({ slot: 0, holder: 'a', token: 11, planned: 'a' });
    expect(d.slots[15]).toEqual({ slot: 15, holder: 'b', token: 12, planned: 'b' });
    expect(d.slots[1]).toEqual({ slot: 1, holder: undefined, token: undefined, planned: 'a' });
    expect(d.undecoded).toEqual([]);
    expect(d.undecodedCount).toBe(0);
  });

  it('reports malformed keys and out-of-range indices instead of using them', () => {
    const kvs = [
      table('g', ['a'], 16),
      kv('shards/g/slot/03', 'a'),
      kv('shards/g/slot/3', 'x'), // not padded to 2 digits
      kv('shards/g/slot/16', 'x'), // = slotCount
      kv('shards/g/slot/99', 'x'),
      kv('shards/g/slot/', 'x'),
      kv('shards/g/slot/1e1', 'x'),
      kv('shards/g/slot/99999999999999999999', 'x'),
      kv('shards/g/slot/03/extra', 'x'),
      kv('shards/g/junk', 'x'),
      kv('shards/h/slot/03', 'x'), // another group
    ];
    const d = describe(kvs, { group: 'g' });
    expect(d.slots).toHaveLength(16);
    expect(d.slots.filter((s) => s.holder !== undefined)).toEqual([
      { slot: 3, holder: 'a', token: kvs[1]!.createRevision, planned: 'a' },
    ]);
    expect(d.undecoded.map((u) => u.key)).toEqual(kvs.slice(2).map((k) => k.key));
    expect(d.undecodedCount).toBe(9);
    expect(d.undecoded.find((u) => u.key === 'shards/g/slot/16')?.reason).toMatch(
      /not below the slot count 16/,
    );
  });

  it('never guesses the slot count: without a readable table or the reader’s count, no slot decodes', () => {
    // A table as written before tables stated their count: its runs add up to 4, which is no proof.
    const old = { v: 1, nodes: ['a'], weights: [1], runs: [0, 4], membersRevision: 1 };
    const kvs = [kv('shards/g/table', JSON.stringify(old)), kv('shards/g/slot/3', 'a')];
    const d = describe(kvs, { group: 'g' });
    expect(d.slotCount).toBeUndefined();
    expect(d.table).toBeUndefined();
    expect(d.slots).toEqual([]);
    expect(d.undecoded.map((u) => u.key)).toEqual(['shards/g/table', 'shards/g/slot/3']);
    // The reader's count decodes the slots (and the table is still reported).
    const withCount = describe(kvs, { group: 'g', slotCount: 4 });
    expect(withCount.slots[3]?.holder).toBe('a');
    expect(withCount.table?.nodes).toEqual(['a']);
    expect(withCount.undecoded).toEqual([]);
  });

  it('a table with another count than the reader’s is reported, and the reader’s count used', () => {
    const d = describe([table('g', ['a'], 32), kv(slotKey('g', 5, 16), 'a')], { group: 'g', slotCount: 16 });
    expect(d.slotCount).toBe(16);
    expect(d.table).toBeUndefined();
    expect(d.slots[5]?.holder).toBe('a');
    expect(d.undecoded[0]?.reason).toMatch(/table has 32 slots, the reader has 16/);
  });

  it('lists at most MAX_UNDECODED undecodable keys, counting the rest', () => {
    const kvs = Array.from({ length: 10_000 }, (_, i) => kv(`shards/g/slot/x${i}`, 'x'));
    const d = describe([table('g', ['a'], 4), ...kvs], { group: 'g' });
    expect(d.undecoded).toHaveLength(MAX_UNDECODED);
    expect(d.undecodedCount).toBe(10_000);
    expect(d.slots).toHaveLength(4);
  });

  it('describeGroups splits a range of shards/ by group, sorted', () => {
    const kvs = [
      table('zeta', ['b'], 2),
      kv(slotKey('zeta', 1, 2), 'b'),
      table('alpha', ['a'], 4),
      kv(slotKey('alpha', 0, 4), 'a'),
    ];
    const groups = describeGroups(kvs);
    expect(groups.map((g) => [g.group, g.slotCount])).toEqual([
      ['alpha', 4],
      ['zeta', 2],
    ]);
    expect(groups[1]!.slots.map((s) => s.holder)).toEqual([undefined, 'b']);
  });
});
