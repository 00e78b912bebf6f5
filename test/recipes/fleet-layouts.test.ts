/** The membership and published-suspicion layouts: keys, codecs, describe() on malformed keys. */
import { describe as suite, expect, it } from 'vitest';
import * as members from '../../src/recipes/fleet/membership-layout.js';
import * as suspicion from '../../src/recipes/fleet/suspicion-layout.js';
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
    lease: 'L',
  };
}

suite('membership layout', () => {
  it('builds keys and round-trips a value', () => {
    expect(members.memberKey('web', 'w1')).toBe('members/web/w1');
    expect(members.groupPrefix('web')).toBe('members/web/');
    expect(members.memberId('web', 'members/web/w1')).toBe('w1');
    expect(members.memberId('web', 'members/webx/w1')).toBeUndefined();
    const v = members.encodeMemberValue({ address: '10.0.0.1:1', zone: 'z', data: { a: [1] } });
    expect(members.decodeMemberValue(enc.encode(v))).toEqual({
      address: '10.0.0.1:1',
      weight: 1,
      zone: 'z',
      data: { a: [1] },
    });
  });

  it('decodes a bad weight as 1 and non-string fields as absent', () => {
    expect(members.decodeMemberValue(enc.encode('{"weight": -3, "address": 5}'))).toEqual({
      address: undefined,
      weight: 1,
      zone: undefined,
      data: undefined,
    });
    expect(members.decodeMemberValue(enc.encode('null'))).toBeUndefined();
    expect(members.decodeMemberValue(enc.encode('{nope'))).toBeUndefined();
  });

  it('describes members sorted by group and id, reporting bad keys and values', () => {
    const d = members.describe([
      kv('members/web/w2', '{"zone":"b"}', 5),
      kv('members/api/a1', '{"weight":2}', 6),
      kv('members/web/w1', '{"zone":"a","data":{"x":1}}', 7),
      kv('members/nogroup', '{}'),
      kv('members//id', '{}'),
      kv('members/web/', '{}'),
      kv('members/web/bad', 'not json'),
    ]);
    expect(d.members.map((m) => [m.group, m.id, m.zone, m.weight, m.joinRevision])).toEqual([
      ['api', 'a1', undefined, 2, 6],
      ['web', 'w1', 'a', 1, 7],
      ['web', 'w2', 'b', 1, 5],
    ]);
    expect(d.members[1]!.value).toEqual({ zone: 'a', data: { x: 1 } });
    expect(d.members[1]!.data).toEqual({ x: 1 });
    expect(d.undecoded.map((u) => u.key)).toEqual([
      'members/nogroup',
      'members//id',
      'members/web/',
      'members/web/bad',
    ]);
  });
});

suite('suspicion layout', () => {
  it('decodes opinions, keeping only finite phis and defaulting the threshold', () => {
    expect(suspicion.suspicionKey('web', 'w1')).toBe('suspicion/web/w1');
    const d = suspicion.describe([
      kv('suspicion/web/w1', '{"phi":{"w2":1.5,"w3":"high","w4":null}}'),
      kv('suspicion/web/w2', '{"threshold":5,"phi":{"w1":9}}'),
      kv('suspicion/nogroup', '{"phi":{}}'),
      kv('suspicion/web/w3', '{"phi": 5'),
      kv('suspicion/web/w4', '{"phi": 5}'),
    ]);
    expect(d.opinions).toEqual([
      { group: 'web', observer: 'w1', threshold: 8, phi: { w2: 1.5 } },
      { group: 'web', observer: 'w2', threshold: 5, phi: { w1: 9 } },
    ]);
    expect(d.undecoded.map((u) => u.key)).toEqual([
      'suspicion/nogroup',
      'suspicion/web/w3',
      'suspicion/web/w4',
    ]);
  });

  it('takes the highest phi of live observers only, counting them', () => {
    const opinions: suspicion.Opinion[] = [
      { group: 'g', observer: 'a', threshold: 8, phi: { c: 1, b: 3 } },
      { group: 'g', observer: 'b', threshold: 8, phi: { c: 4 } },
      { group: 'g', observer: 'dead', threshold: 8, phi: { c: 99 } },
    ];
    const live = (_g: string, id: string) => id !== 'dead';
    const out = suspicion.highestPhi(opinions, live);
    expect(out.get('g/c')).toEqual({ phi: 4, observers: 2, threshold: 8 });
    expect(out.get('g/b')).toEqual({ phi: 3, observers: 1, threshold: 8 });
  });
});
