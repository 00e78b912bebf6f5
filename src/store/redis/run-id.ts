/**
 * The run id of the Redis process behind the driver's current connection, for the store script's
 * epoch check (script.lua.ts). A connection reaches one Redis process for its whole life, so a run
 * id read on a connection is that of the process every command written to it reaches; a reconnect
 * makes a new socket, and an id read on the old one says nothing about the new one.
 */
import type { Redis } from 'ioredis';

const RUN_ID = /run_id:([0-9a-f]+)/;

/** The run id of the process behind one socket of a driver connection. */
export class ConnectionRunId {
  readonly #redis: Redis;
  /** The socket the id was read on, and the id. Not `#`-private: a test replaces `argument()`. */
  protected known: { stream: object; id: string } | undefined;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /**
   * The socket a command sent now is written to, or undefined when the driver would queue it: it
   * writes at once only to a ready, writable connection, and a queued command goes to whichever
   * connection is made next.
   */
  #writableStream(): object | undefined {
    const stream = this.#redis.stream as Redis['stream'] | undefined;
    return this.#redis.status === 'ready' && stream !== undefined && stream.writable && !stream.writableEnded
      ? stream
      : undefined;
  }

  /**
   * Reads the run id on the connection that just became ready (call it on the driver's `ready`).
   * Kept only for that socket: the INFO was written to it, and its reply came back while it was
   * still the driver's connection.
   */
  learn(): void {
    const stream = this.#writableStream();
    if (stream === undefined) return;
    this.#redis.info('server').then(
      (text) => {
        const id = RUN_ID.exec(text)?.[1];
        if (id !== undefined && this.#redis.stream === stream) this.known = { stream, id };
      },
      () => undefined, // an ACL without INFO: every call then asks the script to read it
    );
  }

  /**
   * The run id for a command the caller writes now, in the same synchronous step: the id of the
   * process it reaches, or '' when that is not known for sure (the command would be queued for a
   * connection not made yet, or the id of this one was not read yet). The script reads INFO on ''.
   */
  argument(): string {
    const known = this.known;
    return known !== undefined && known.stream === this.#writableStream() ? known.id : '';
  }
}
