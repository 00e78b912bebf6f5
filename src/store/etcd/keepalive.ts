/**
 * Lease renewal over etcd's LeaseKeepAlive stream: one stream per store carries every
 * `keepAlive(id)` call, so a process that keeps a thousand leases alive sends a thousand small
 * messages on one HTTP/2 stream instead of a thousand unary calls.
 *
 * etcd answers the requests of one stream in order, one answer per request; the answer for a
 * dead lease has TTL 0. A request without an answer by its deadline means the stream (or its
 * member) is stuck: the stream is dropped and the next call opens one on another member.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../clock.js';
import { TenureError } from '../../errors.js';
import { closedError } from '../errors.js';
import { etcdDetails, type EtcdConnection, type EtcdMember } from './connection.js';
import type { WireLeaseResponse } from './proto.js';

interface Waiter {
  resolve(ttlSeconds: number): void;
  reject(err: unknown): void;
}

interface OpenStream {
  call: grpc.ClientDuplexStream<{ ID: string }, WireLeaseResponse>;
  member: EtcdMember;
  /** Waiters by lease id, oldest first (answers for one id come back in request order). */
  pending: Map<string, Waiter[]>;
  broken: boolean;
}

/** Thrown inside when a stream breaks under a request; the request is retried if time is left. */
class StreamBroken extends Error {}

/** The keepalive stream of one store. */
export class LeaseKeepAlive {
  readonly #conn: EtcdConnection;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  #stream: OpenStream | undefined;
  #opening: Promise<OpenStream> | undefined;

  constructor(conn: EtcdConnection, timeoutMs: number, clock: Clock) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
  }

  /** Renews lease `id`; returns the granted ttl in seconds, or 0 when the lease is dead. */
  async keepAlive(id: string): Promise<number> {
    const deadline = this.#clock.now() + this.#timeoutMs;
    let last: unknown;
    while (this.#clock.now() < deadline) {
      const stream = await this.#open(deadline);
      try {
        return await this.#send(stream, id, deadline);
      } catch (err) {
        if (this.#conn.closed) throw closedError();
        if (!(err instanceof StreamBroken)) throw err;
        last = err;
      }
    }
    throw new TenureError(
      'TENURE_UNAVAILABLE',
      `keepalive of lease ${id} got no answer within options.requestTimeoutMs (${this.#timeoutMs} ms)${last instanceof Error ? `: ${last.message}` : ''}`,
      { cause: last, details: { lease: id } },
    );
  }

  #open(deadline: number): Promise<OpenStream> {
    if (this.#stream !== undefined && !this.#stream.broken) return Promise.resolve(this.#stream);
    this.#opening ??= (async () => {
      try {
        const { call, member } = await this.#conn.stream<{ ID: string }, WireLeaseResponse>(
          'Lease.LeaseKeepAlive',
          deadline,
        );
        const stream: OpenStream = { call, member, pending: new Map(), broken: false };
        call.on('data', (res: WireLeaseResponse) => {
          const queue = stream.pending.get(res.ID);
          const waiter = queue?.shift();
          if (queue?.length === 0) stream.pending.delete(res.ID);
          waiter?.resolve(Number(res.TTL));
        });
        const fail = (err?: unknown) =>
          this.#break(
            stream,
            err === undefined ? 'the keepalive stream ended' : etcdDetails(err) || String(err),
          );
        call.on('error', fail);
        call.on('end', () => fail());
        this.#stream = stream;
        return stream;
      } finally {
        this.#opening = undefined;
      }
    })();
    return this.#opening;
  }

  #break(stream: OpenStream, why: string): void {
    if (stream.broken) return;
    stream.broken = true;
    if (this.#stream === stream) this.#stream = undefined;
    if (/invalid auth token/.test(why)) this.#conn.invalidateToken();
    this.#conn.rotate(stream.member);
    stream.call.cancel();
    for (const queue of stream.pending.values())
      for (const w of queue) w.reject(new StreamBroken(`${stream.member.address}: ${why}`));
    stream.pending.clear();
  }

  #send(stream: OpenStream, id: string, deadline: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => {
          // No answer in time: the member or the path to it is stuck. Fail everything on this
          // stream over to a fresh one.
          this.#break(stream, `no keepalive answer within ${this.#timeoutMs} ms`);
        },
        Math.max(1, deadline - this.#clock.now()),
      );
      const waiter: Waiter = {
        resolve: (ttl) => {
          this.#clock.clearTimeout(timer);
          resolve(ttl);
        },
        reject: (err) => {
          this.#clock.clearTimeout(timer);
          reject(err);
        },
      };
      const queue = stream.pending.get(id);
      if (queue === undefined) stream.pending.set(id, [waiter]);
      else queue.push(waiter);
      stream.call.write({ ID: id });
    });
  }

  /** Ends the stream; pending renewals fail with TENURE_CLOSED. */
  close(): void {
    const stream = this.#stream;
    if (stream === undefined) return;
    stream.broken = true;
    this.#stream = undefined;
    stream.call.cancel();
    for (const queue of stream.pending.values()) for (const w of queue) w.reject(closedError());
  }
}
