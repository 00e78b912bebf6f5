/**
 * Whether something that broke off a connection is a PostgreSQL server at all. Asked only after
 * a failed connect, so that "not PostgreSQL" (a configuration error: TENURE_STORE_UNUSABLE) is
 * told apart from a server that went away (TENURE_UNAVAILABLE).
 *
 * It sends the protocol's SSLRequest, which every PostgreSQL server since 7.0 answers with one
 * byte, `S` or `N`, before anything else (see "SSL Session Encryption" in the frontend/backend
 * protocol chapter of the PostgreSQL manual).
 */
import { connect } from 'node:net';
import type { Clock } from '../../clock.js';

/** True: answered as PostgreSQL does; false: answered otherwise; undefined: no answer in time. */
export function speaksPostgres(
  host: string,
  port: number,
  timeoutMs: number,
  clock: Clock,
): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answer: boolean | undefined) => {
      clock.clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = clock.setTimeout(() => done(undefined), timeoutMs);
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
    socket.once('data', (data: Buffer) => done(data.length >= 1 && (data[0] === 0x53 || data[0] === 0x4e)));
    const request = Buffer.alloc(8);
    request.writeInt32BE(8, 0);
    request.writeInt32BE(80877103, 4);
    socket.write(request);
  });
}
