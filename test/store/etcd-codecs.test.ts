/**
 * The etcd backend's static protobuf codecs (src/store/etcd/proto.ts over the generated
 * codecs.ts), checked against wire bytes written out by hand from etcd's field numbers, so that
 * neither side is derived from the other; and the checked-in generated file against what
 * `npm run codegen` makes from etcd.proto. The live wire format is tested against real etcd
 * clusters by test/etcd/*.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ETCD_RPCS, etcdMethod } from '../../src/store/etcd/proto.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = join(import.meta.dirname, '../..');

/** A protobuf varint, written independently of protobufjs. */
function varint(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v === 0n ? byte : byte | 0x80);
  } while (v !== 0n);
  return out;
}
const tag = (field: number, wireType: number) => varint(BigInt((field << 3) | wireType));
const bytesField = (field: number, bytes: number[]) => [
  ...tag(field, 2),
  ...varint(BigInt(bytes.length)),
  ...bytes,
];
const varintField = (field: number, value: bigint) => [...tag(field, 0), ...varint(value)];
const ascii = (text: string) => [...Buffer.from(text)];

// Above 2^53: a double cannot hold these, so a codec that went through numbers would change them.
const LEASE = '7587869879890000001';
const MEMBER = '18364758544493064720'; // uint64 above 2^63
expect(Number(LEASE).toString()).not.toBe(LEASE);

describe('etcd codecs', () => {
  it('name every method by its gRPC path on etcd', () => {
    expect(ETCD_RPCS.map((name) => etcdMethod(name).path).sort()).toEqual(
      [
        '/etcdserverpb.Auth/Authenticate',
        '/etcdserverpb.KV/Compact',
        '/etcdserverpb.KV/DeleteRange',
        '/etcdserverpb.KV/Put',
        '/etcdserverpb.KV/Range',
        '/etcdserverpb.KV/Txn',
        '/etcdserverpb.Lease/LeaseGrant',
        '/etcdserverpb.Lease/LeaseKeepAlive',
        '/etcdserverpb.Lease/LeaseRevoke',
        '/etcdserverpb.Lease/LeaseTimeToLive',
        '/etcdserverpb.Watch/Watch',
      ].sort(),
    );
  });

  it('encode a put with a lease id above 2^53 exactly', () => {
    const bytes = etcdMethod('KV.Put').requestSerialize({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      lease: LEASE,
    });
    expect([...bytes]).toEqual([
      ...bytesField(1, ascii('k')),
      ...bytesField(2, ascii('v')),
      ...varintField(3, BigInt(LEASE)),
    ]);
  });

  it('encode a compare on create_revision 0 with the field present (a oneof member)', () => {
    // `key is missing` is CREATE = 0: the zero must reach etcd as the compare's target value.
    const bytes = etcdMethod('KV.Txn').requestSerialize({
      compare: [{ result: 'EQUAL', target: 'CREATE', key: Buffer.from('k'), create_revision: '0' }],
      success: [{ request_delete_range: { key: Buffer.from('k') } }],
      failure: [],
    });
    const compare = [...varintField(2, 1n), ...bytesField(3, ascii('k')), ...varintField(5, 0n)];
    const success = bytesField(3, bytesField(1, ascii('k')));
    expect([...bytes]).toEqual([...bytesField(1, compare), ...bytesField(2, success)]);
  });

  it('decode int64 and uint64 fields as exact decimal strings, with defaults', () => {
    const header = [...varintField(2, BigInt(MEMBER)), ...varintField(3, 42n)];
    const wire = Buffer.from([
      ...bytesField(1, header),
      ...varintField(2, BigInt(LEASE)),
      ...varintField(3, 10n),
    ]);
    expect(etcdMethod('Lease.LeaseGrant').responseDeserialize(wire)).toEqual({
      header: { cluster_id: '0', member_id: MEMBER, revision: '42', raft_term: '0' },
      ID: LEASE,
      TTL: '10',
      error: '',
    });
  });

  it('decode a negative int64 exactly', () => {
    const wire = Buffer.from(varintField(2, -5n));
    expect(etcdMethod('Lease.LeaseKeepAlive').responseDeserialize(wire)).toMatchObject({ ID: '-5' });
  });

  it('decode watch events with enum names, Buffers and the oneof member named', () => {
    const kv = [...bytesField(1, ascii('k')), ...varintField(3, 7n)];
    const event = [...varintField(1, 1n), ...bytesField(2, kv)];
    const watch = etcdMethod('Watch.Watch').responseDeserialize(
      Buffer.from([...varintField(2, 3n), ...bytesField(11, event)]),
    ) as {
      watch_id: string;
      events: { type: string; kv: { key: Buffer; value: Buffer; mod_revision: string } }[];
    };
    expect(watch.watch_id).toBe('3');
    expect(watch.events).toHaveLength(1);
    expect(watch.events[0]!.type).toBe('DELETE');
    expect(Buffer.isBuffer(watch.events[0]!.kv.key)).toBe(true);
    expect(watch.events[0]!.kv.key.toString()).toBe('k');
    expect(watch.events[0]!.kv.value).toEqual(Buffer.alloc(0));
    expect(watch.events[0]!.kv.mod_revision).toBe('7');

    const ops = etcdMethod('KV.Txn').responseDeserialize(
      Buffer.from([...varintField(2, 1n), ...bytesField(3, bytesField(3, varintField(2, 2n)))]),
    );
    expect(ops).toMatchObject({
      succeeded: true,
      responses: [{ response: 'response_delete_range', response_delete_range: { deleted: '2' } }],
    });
  });

  it('skip fields they do not know (newer etcd versions add some)', () => {
    const wire = Buffer.from([...varintField(2, 9n), ...varintField(99, 1n), ...bytesField(100, ascii('x'))]);
    expect(etcdMethod('KV.DeleteRange').responseDeserialize(wire)).toMatchObject({ deleted: '9' });
  });

  it('are what scripts/etcd-codecs.sh generates from etcd.proto (run `npm run codegen` after editing it)', () => {
    const tmp = tempDir('tenure-codecs-');
    try {
      const out = join(tmp.dir, 'codecs.ts');
      execFileSync('sh', [join(ROOT, 'scripts/etcd-codecs.sh'), out], { stdio: 'pipe' });
      const generated = readFileSync(out, 'utf8');
      expect(generated.length).toBeGreaterThan(1000);
      expect(readFileSync(join(ROOT, 'src/store/etcd/codecs.ts'), 'utf8') === generated).toBe(true);
    } finally {
      tmp.cleanup();
    }
  }, 60_000);
});
