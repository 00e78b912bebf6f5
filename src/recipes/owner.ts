import { hostname } from 'node:os';

/** How a process describes itself in the queue keys it writes (shown by `tenure status`). */
export function defaultOwner(): string {
  return `${hostname()}:${process.pid}`;
}
