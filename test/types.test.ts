/**
 * Type-level tests: checked by `tsc -p tsconfig.test.json` (part of `npm test`), so a change that
 * breaks the public types fails the build; the runtime assertions keep vitest honest too.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  Election,
  Mutex,
  Session,
  TenureError,
  openStore,
  type Lease,
  type Leadership,
  type Lock,
  type Store,
  type TenureErrorCode,
  type WatchBatch,
} from '../src/index.js';

describe('public types', () => {
  it('tokens are numbers, leases are strings, disposables dispose', async () => {
    expectTypeOf<Lock['fencingToken']>().toEqualTypeOf<number>();
    expectTypeOf<Leadership['term']>().toEqualTypeOf<number>();
    expectTypeOf<Lease['id']>().toEqualTypeOf<string>();
    expectTypeOf<Session>().toMatchTypeOf<AsyncDisposable>();
    expectTypeOf<Lock>().toMatchTypeOf<AsyncDisposable>();
    expectTypeOf<Store>().toMatchTypeOf<AsyncDisposable>();
    expectTypeOf(openStore).returns.resolves.toEqualTypeOf<Store>();
    expectTypeOf<ReturnType<Store['watch']>>().toEqualTypeOf<AsyncIterable<WatchBatch>>();
    expectTypeOf<TenureError['code']>().toEqualTypeOf<TenureErrorCode>();

    const store = await openStore('memory:');
    await using session = await Session.create(store, { ttlMs: 1000 });
    // @ts-expect-error values are strings or bytes
    await expect(store.put('k', 5)).rejects.toMatchObject({ code: 'TENURE_INVALID_ARGUMENT' });
    // @ts-expect-error a campaign value is a string
    await expect(new Election(session, 'e').campaign({})).rejects.toMatchObject({
      code: 'TENURE_INVALID_ARGUMENT',
    });
    // @ts-expect-error options are named
    expect(() => new Mutex(session, 'm', 5)).toThrow();
    await store.close();
  });
});
