/**
 * The part of etcd v3's gRPC API this backend speaks (KV, Watch, Lease and Authenticate), written
 * as a protobuf.js JSON descriptor so that it compiles into the package with no `.proto` file to
 * ship. Field numbers follow etcd's published `etcdserverpb` and `mvccpb` wire format; message
 * names are ours (only package, service and method names and field numbers reach the wire), and
 * fields this backend never sets or reads are left out (protobuf skips unknown fields).
 *
 * @see https://etcd.io/docs/v3.4/dev-guide/api_reference_v3/
 */
import type { fromJSON } from '@grpc/proto-loader';

type INamespace = Parameters<typeof fromJSON>[0];

type Fields = Record<string, { type: string; id: number; rule?: 'repeated' }>;

const f = (type: string, id: number): { type: string; id: number } => ({ type, id });
const repeated = (type: string, id: number) => ({ type, id, rule: 'repeated' as const });
const message = (fields: Fields, extra: Record<string, unknown> = {}) => ({ fields, ...extra });
const header = { header: f('ResponseHeader', 1) };
const unary = (requestType: string, responseType: string) => ({ requestType, responseType, comment: '' });
const bidi = (requestType: string, responseType: string) => ({
  requestType,
  requestStream: true,
  responseType,
  responseStream: true,
  comment: '',
});

/** The descriptor, loaded with `@grpc/proto-loader`'s `fromJSON`. */
export const ETCD_PROTO: INamespace = {
  nested: {
    etcdserverpb: {
      nested: {
        KV: {
          methods: {
            Range: unary('RangeRequest', 'RangeResponse'),
            Put: unary('PutRequest', 'PutResponse'),
            DeleteRange: unary('DeleteRangeRequest', 'DeleteRangeResponse'),
            Txn: unary('TxnRequest', 'TxnResponse'),
            Compact: unary('CompactionRequest', 'CompactionResponse'),
          },
        },
        Watch: { methods: { Watch: bidi('WatchRequest', 'WatchResponse') } },
        Lease: {
          methods: {
            LeaseGrant: unary('LeaseGrantRequest', 'LeaseGrantResponse'),
            LeaseRevoke: unary('LeaseRevokeRequest', 'LeaseRevokeResponse'),
            LeaseKeepAlive: bidi('LeaseKeepAliveRequest', 'LeaseKeepAliveResponse'),
            LeaseTimeToLive: unary('LeaseTimeToLiveRequest', 'LeaseTimeToLiveResponse'),
          },
        },
        Auth: { methods: { Authenticate: unary('AuthenticateRequest', 'AuthenticateResponse') } },

        ResponseHeader: message({
          cluster_id: f('uint64', 1),
          member_id: f('uint64', 2),
          revision: f('int64', 3),
          raft_term: f('uint64', 4),
        }),
        KeyValue: message({
          key: f('bytes', 1),
          create_revision: f('int64', 2),
          mod_revision: f('int64', 3),
          version: f('int64', 4),
          value: f('bytes', 5),
          lease: f('int64', 6),
        }),
        Event: message(
          { type: f('EventType', 1), kv: f('KeyValue', 2) },
          { nested: { EventType: { values: { PUT: 0, DELETE: 1 } } } },
        ),

        RangeRequest: message(
          {
            key: f('bytes', 1),
            range_end: f('bytes', 2),
            limit: f('int64', 3),
            revision: f('int64', 4),
            sort_order: f('SortOrder', 5),
            sort_target: f('SortTarget', 6),
            serializable: f('bool', 7),
            keys_only: f('bool', 8),
            count_only: f('bool', 9),
            min_create_revision: f('int64', 12),
            max_create_revision: f('int64', 13),
          },
          {
            nested: {
              SortOrder: { values: { NONE: 0, ASCEND: 1, DESCEND: 2 } },
              SortTarget: { values: { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } },
            },
          },
        ),
        RangeResponse: message({
          ...header,
          kvs: repeated('KeyValue', 2),
          more: f('bool', 3),
          count: f('int64', 4),
        }),
        PutRequest: message({ key: f('bytes', 1), value: f('bytes', 2), lease: f('int64', 3) }),
        PutResponse: message({ ...header }),
        DeleteRangeRequest: message({ key: f('bytes', 1), range_end: f('bytes', 2) }),
        DeleteRangeResponse: message({ ...header, deleted: f('int64', 2) }),
        RequestOp: message(
          {
            request_range: f('RangeRequest', 1),
            request_put: f('PutRequest', 2),
            request_delete_range: f('DeleteRangeRequest', 3),
          },
          { oneofs: { request: { oneof: ['request_range', 'request_put', 'request_delete_range'] } } },
        ),
        ResponseOp: message(
          {
            response_range: f('RangeResponse', 1),
            response_put: f('PutResponse', 2),
            response_delete_range: f('DeleteRangeResponse', 3),
          },
          { oneofs: { response: { oneof: ['response_range', 'response_put', 'response_delete_range'] } } },
        ),
        Compare: message(
          {
            result: f('CompareResult', 1),
            target: f('CompareTarget', 2),
            key: f('bytes', 3),
            version: f('int64', 4),
            create_revision: f('int64', 5),
            mod_revision: f('int64', 6),
            value: f('bytes', 7),
            lease: f('int64', 8),
          },
          {
            oneofs: {
              target_union: { oneof: ['version', 'create_revision', 'mod_revision', 'value', 'lease'] },
            },
            nested: {
              CompareResult: { values: { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } },
              CompareTarget: { values: { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } },
            },
          },
        ),
        TxnRequest: message({
          compare: repeated('Compare', 1),
          success: repeated('RequestOp', 2),
          failure: repeated('RequestOp', 3),
        }),
        TxnResponse: message({ ...header, succeeded: f('bool', 2), responses: repeated('ResponseOp', 3) }),
        CompactionRequest: message({ revision: f('int64', 1), physical: f('bool', 2) }),
        CompactionResponse: message({ ...header }),

        WatchRequest: message(
          {
            create_request: f('WatchCreateRequest', 1),
            cancel_request: f('WatchCancelRequest', 2),
            progress_request: f('WatchProgressRequest', 3),
          },
          { oneofs: { request_union: { oneof: ['create_request', 'cancel_request', 'progress_request'] } } },
        ),
        WatchCreateRequest: message({
          key: f('bytes', 1),
          range_end: f('bytes', 2),
          start_revision: f('int64', 3),
          progress_notify: f('bool', 4),
        }),
        WatchCancelRequest: message({ watch_id: f('int64', 1) }),
        WatchProgressRequest: message({}),
        WatchResponse: message({
          ...header,
          watch_id: f('int64', 2),
          created: f('bool', 3),
          canceled: f('bool', 4),
          compact_revision: f('int64', 5),
          cancel_reason: f('string', 6),
          events: repeated('Event', 11),
        }),

        LeaseGrantRequest: message({ TTL: f('int64', 1), ID: f('int64', 2) }),
        LeaseGrantResponse: message({
          ...header,
          ID: f('int64', 2),
          TTL: f('int64', 3),
          error: f('string', 4),
        }),
        LeaseRevokeRequest: message({ ID: f('int64', 1) }),
        LeaseRevokeResponse: message({ ...header }),
        LeaseKeepAliveRequest: message({ ID: f('int64', 1) }),
        LeaseKeepAliveResponse: message({ ...header, ID: f('int64', 2), TTL: f('int64', 3) }),
        LeaseTimeToLiveRequest: message({ ID: f('int64', 1), keys: f('bool', 2) }),
        LeaseTimeToLiveResponse: message({
          ...header,
          ID: f('int64', 2),
          TTL: f('int64', 3),
          grantedTTL: f('int64', 4),
        }),

        AuthenticateRequest: message({ name: f('string', 1), password: f('string', 2) }),
        AuthenticateResponse: message({ ...header, token: f('string', 2) }),
      },
    },
  },
};

/** A KeyValue as decoded (int64 as decimal strings, bytes as Buffers). */
export interface WireKeyValue {
  key: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  value: Buffer;
  lease: string;
}

/** The header every response carries. */
export interface WireHeader {
  revision: string;
  member_id: string;
}

export interface WireRangeResponse {
  header: WireHeader;
  kvs: WireKeyValue[];
  more: boolean;
}

export interface WireTxnResponse {
  header: WireHeader;
  succeeded: boolean;
  responses: {
    response?: 'response_range' | 'response_put' | 'response_delete_range';
    response_range?: WireRangeResponse;
    response_delete_range?: { deleted: string };
  }[];
}

export interface WireWatchResponse {
  header: WireHeader | null;
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  events: { type: 'PUT' | 'DELETE'; kv: WireKeyValue }[];
}

export interface WireLeaseResponse {
  header: WireHeader;
  ID: string;
  TTL: string;
  error?: string;
}
