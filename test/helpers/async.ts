/** Small async helpers for tests. */
import { isTenureError, type TenureError, type TenureErrorCode } from '../../src/errors.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Awaits `p` and returns the TenureError it rejected with (fails if it resolved or threw something else). */
export async function rejectionOf(p: Promise<unknown> | (() => unknown)): Promise<TenureError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (isTenureError(err)) return err;
    throw new Error(`expected a TenureError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a rejection, but it resolved');
}

/** Awaits `p` and returns the TenureError code it rejected with (fails if it resolved or threw something else). */
export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<TenureErrorCode> {
  return (await rejectionOf(p)).code;
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  stepMs = 5,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

export type { TenureErrorCode };
