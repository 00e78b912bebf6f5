/**
 * The etcd v3 gRPC methods this backend calls (KV, Watch, Lease and Authenticate), with their
 * codecs: static protobuf code generated at development time from etcd.proto (codecs.ts, by
 * `npm run codegen`) and checked in, so that opening a store neither parses a schema nor
 * generates code (which cost about 80 ms of CPU per process with a runtime descriptor). Field
 * numbers follow etcd's published `etcdserverpb` and `mvccpb` wire format; message names are ours
 * (only package, service and method names and field numbers reach the wire).
 *
 * Messages convert as `@grpc/proto-loader` converted them (`keepCase`, `longs: String`,
 * `enums: String`, `defaults: true`, `oneofs: true`): int64 fields as exact decimal strings,
 * bytes as Buffers, enums by name, and each oneof's member named in a virtual field.
 *
 * @see https://etcd.io/docs/v3.4/dev-guide/api_reference_v3/
 */
import { etcdserverpb } from './codecs.js';

/** A message type of the generated code, as this backend uses it. */
interface MessageCodec {
  fromObject(object: unknown): object;
  encode(message: object): { finish(): Uint8Array };
  decode(bytes: Uint8Array): object;
  toObject(message: object, options: typeof TO_OBJECT): unknown;
}

/** How decoded messages become plain objects (see the module's documentation). */
const TO_OBJECT = Object.freeze({ longs: String, enums: String, defaults: true, oneofs: true });

const codecs = etcdserverpb as unknown as Record<string, MessageCodec>;

/** Each method's request and response message. */
const METHODS = {
  'KV.Range': ['RangeRequest', 'RangeResponse'],
  'KV.Put': ['PutRequest', 'PutResponse'],
  'KV.DeleteRange': ['DeleteRangeRequest', 'DeleteRangeResponse'],
  'KV.Txn': ['TxnRequest', 'TxnResponse'],
  'KV.Compact': ['CompactionRequest', 'CompactionResponse'],
  'Watch.Watch': ['WatchRequest', 'WatchResponse'],
  'Lease.LeaseGrant': ['LeaseGrantRequest', 'LeaseGrantResponse'],
  'Lease.LeaseRevoke': ['LeaseRevokeRequest', 'LeaseRevokeResponse'],
  'Lease.LeaseKeepAlive': ['LeaseKeepAliveRequest', 'LeaseKeepAliveResponse'],
  'Lease.LeaseTimeToLive': ['LeaseTimeToLiveRequest', 'LeaseTimeToLiveResponse'],
  'Auth.Authenticate': ['AuthenticateRequest', 'AuthenticateResponse'],
} as const;

/** A method of etcd's API that this backend calls, as `Service.Method`. */
export type EtcdRpc = keyof typeof METHODS;

/** What a gRPC client needs to call one method: its path and its two codecs. */
export interface EtcdMethodCodec {
  /** The gRPC path, `/etcdserverpb.Service/Method`. */
  readonly path: string;
  /** A plain request object to its wire bytes. */
  readonly requestSerialize: (value: unknown) => Buffer;
  /** A response's wire bytes to a plain object (the `Wire…` shapes below). */
  readonly responseDeserialize: (bytes: Buffer) => unknown;
  /** The wire bytes of a request to a plain object (tests and tools). */
  readonly requestDeserialize: (bytes: Buffer) => unknown;
  /** A plain response object to its wire bytes (tests and tools). */
  readonly responseSerialize: (value: unknown) => Buffer;
}

function codec(name: string): MessageCodec {
  const type = codecs[name];
  if (type === undefined) throw new Error(`unreachable: etcd message ${name} missing from codecs.ts`);
  return type;
}

const serializer =
  (type: MessageCodec) =>
  (value: unknown): Buffer => {
    const bytes = type.encode(type.fromObject(value)).finish();
    // protobufjs writes Buffers under Node; a Uint8Array is wrapped without copying.
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  };

const deserializer =
  (type: MessageCodec) =>
  (bytes: Buffer): unknown =>
    type.toObject(type.decode(bytes), TO_OBJECT);

const methodCache = new Map<EtcdRpc, EtcdMethodCodec>();

/**
 * The path and codecs of `name`.
 * @example
 * ```ts
 * const { path, requestSerialize, responseDeserialize } = etcdMethod('KV.Range');
 * ```
 */
export function etcdMethod(name: EtcdRpc): EtcdMethodCodec {
  const cached = methodCache.get(name);
  if (cached !== undefined) return cached;
  const [service, rpc] = name.split('.') as [string, string];
  const [request, response] = METHODS[name].map(codec) as [MessageCodec, MessageCodec];
  const method: EtcdMethodCodec = Object.freeze({
    path: `/etcdserverpb.${service}/${rpc}`,
    requestSerialize: serializer(request),
    responseDeserialize: deserializer(response),
    requestDeserialize: deserializer(request),
    responseSerialize: serializer(response),
  });
  methodCache.set(name, method);
  return method;
}

/** Every method this backend calls. */
export const ETCD_RPCS = Object.freeze(Object.keys(METHODS) as EtcdRpc[]);

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
