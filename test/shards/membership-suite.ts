/** Membership on every backend, against real time. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTenureError } from '../../src/errors.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { memberKey } from '../../src/recipes/fleet/membership-layout.js';
import { Session } from '../../src/recipes/coordination/session.js';
import type { Store } from '../../src/store/types.js';
import { codeOf, eventually, sleep } from '../helpers/async.js';
import { cuttable } from './cuttable.js';

export function membershipSuite(
  name: string,
  open: () => Promise<Store>,
  ttlMs: number,
  cleanup?: () => void,
) {
  describe(`Membership on ${name}`, () => {
    let store: Store;
    let n = 0;
    const group = () => `g${++n}`;
    const closers: { close(): Promise<void> }[] = [];
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      for (const c of closers.reverse()) await c.close().catch(() => undefined);
      await store.close();
      cleanup?.();
    });
    const session = async (s = store) => {
      const x = await Session.create(s, { ttlMs });
      closers.push(x);
      return x;
    };
    const view = async (g: string, s = store, bufferSize?: number) => {
      const v = await Membership.open(s, g, { bufferSize });
      closers.push(v);
      return v;
    };

    it('everyone sees joins with metadata and immediate leaves, as events and through observe()', async () => {
      const g = group();
      const watcher = await view(g);
      const it = watcher.observe();
      const events: string[] = [];
      watcher.on('join', (m) => events.push(`join ${m.id}`));
      watcher.on('leave', (m) => events.push(`leave ${m.id}`));
      const a = await (
        await view(g)
      ).join(await session(), { id: 'a', address: '127.0.0.1:9001', weight: 2, zone: 'z1' });
      const b = await (await view(g)).join(await session(), { id: 'b' });
      await eventually(() => watcher.members().length === 2, 2000);
      expect(watcher.get('a')).toMatchObject({ id: 'a', address: '127.0.0.1:9001', weight: 2, zone: 'z1' });
      expect(watcher.get('b')).toMatchObject({ weight: 1, address: undefined });
      const t0 = performance.now();
      await a.close();
      expect(a.status).toBe('released');
      expect(a.signal.aborted).toBe(true);
      await eventually(() => watcher.members().length === 1, 2000);
      expect(performance.now() - t0).toBeLessThan(ttlMs); // immediate, not by expiry
      expect(events).toEqual(['join a', 'join b', 'leave a']);
      const seen = [];
      for (let i = 0; i < 3; i++) {
        const e = await it.next();
        seen.push(`${e.value.type} ${e.value.member.id}`);
      }
      expect(seen).toEqual(['join a', 'join b', 'leave a']);
      await b.close();
    });

    it('a member updates its metadata in place: a change, not a leave and a join; a member that left cannot', async () => {
      const g = group();
      const watcher = await view(g);
      const events: string[] = [];
      watcher.on('join', (m) => events.push(`join ${m.id}`));
      watcher.on('leave', (m) => events.push(`leave ${m.id}`));
      const a = await (
        await view(g)
      ).join(await session(), { id: 'a', address: '127.0.0.1:9001', zone: 'z1' });
      await eventually(() => watcher.get('a') !== undefined, 2000);
      const info = await a.update({ weight: 3, zone: 'z2' });
      expect(info).toMatchObject({ id: 'a', address: '127.0.0.1:9001', weight: 3, zone: 'z2' });
      expect(a.info).toBe(info);
      await eventually(() => watcher.get('a')?.weight === 3, 2000);
      expect(watcher.members().map((m) => m.weight)).toEqual([3]);
      expect(watcher.get('a')).toMatchObject({
        address: '127.0.0.1:9001',
        zone: 'z2',
        joinRevision: info.joinRevision,
      });
      expect(events).toEqual(['join a']);
      expect(await codeOf(a.update({ weight: -1 }))).toBe('TENURE_INVALID_ARGUMENT');
      await expect(a.update({ address: 'nowhere' })).rejects.toThrow(/metadata\.address/);
      expect(watcher.get('a')?.weight).toBe(3); // refused updates changed nothing
      await a.close();
      expect(await codeOf(a.update({ weight: 1 }))).toBe('TENURE_MEMBER_LOST');
    });

    it('update() on a member whose key was deleted under it throws TENURE_MEMBER_LOST, not a lock code', async () => {
      const g = group();
      const m = await (await view(g)).join(await session(), { id: 'gone' });
      await store.delete(memberKey(g, 'gone'));
      const err = await m.update({ weight: 2 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'TENURE_MEMBER_LOST', retryable: false, details: { id: 'gone' } });
      await m.close();
    });

    it('refuses a duplicate live id with TENURE_MEMBER_EXISTS (retryable), and accepts it after the leave', async () => {
      const g = group();
      const v = await view(g);
      const first = await v.join(await session(), { id: 'same' });
      const err = await v.join(await session(), { id: 'same' }).catch((e: unknown) => e);
      expect(isTenureError(err, 'TENURE_MEMBER_EXISTS')).toBe(true);
      expect((err as { retryable: boolean }).retryable).toBe(true);
      expect((err as { details: { id: string } }).details.id).toBe('same');
      await first.close();
      const again = await v.join(await session(), { id: 'same' });
      expect(again.info.joinRevision).toBeGreaterThan(first.info.joinRevision);
      await again.close();
    });

    it('validates metadata, naming the field', async () => {
      const v = await view(group());
      const s = await session();
      expect(await codeOf(v.join(s, { id: 'bad id' }))).toBe('TENURE_INVALID_ARGUMENT');
      await expect(v.join(s, { id: 'x', weight: 0 })).rejects.toThrow(/metadata\.weight/);
      await expect(v.join(s, { id: 'x', address: 'nohost' })).rejects.toThrow(/metadata\.address/);
    });

    it('refuses data JSON cannot encode or the store cannot hold, on join and on update, naming metadata.data', async () => {
      const v = await view(group());
      const s = await session();
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      const limit = store.capabilities.maxValueBytes;
      const huge = 'x'.repeat(limit);
      const refusal = async (p: Promise<unknown>) => {
        const err = await p.catch((e: unknown) => e);
        expect(isTenureError(err, 'TENURE_INVALID_ARGUMENT')).toBe(true);
        return err as Error & { details: Record<string, unknown> };
      };
      for (const data of [10n, { nested: [1n] }, cycle]) {
        const err = await refusal(v.join(s, { id: 'x', data }));
        expect(err.message).toMatch(/^metadata\.data /);
        expect(err.details.argument).toBe('metadata.data');
      }
      const big = await refusal(v.join(s, { id: 'x', data: huge }));
      expect(big.message).toMatch(/^metadata\.data /);
      expect(big.message).toContain(`${limit} bytes`);
      expect(big.details).toMatchObject({ argument: 'metadata.data', maxBytes: limit });
      expect(v.get('x')).toBeUndefined(); // nothing was written

      const m = await v.join(s, { id: 'y', data: { ok: true } });
      const upd = await refusal(m.update({ data: cycle }));
      expect(upd.message).toMatch(/^changes\.data /);
      const bigUpd = await refusal(m.update({ data: huge }));
      expect(bigUpd.details).toMatchObject({ argument: 'changes.data', maxBytes: limit });
      expect(m.info.data).toEqual({ ok: true }); // refused updates changed nothing
      await m.close();
    });

    it('a member cut off from the store leaves when its lease expires; its own signal aborts first', async () => {
      const g = group();
      const watcher = await view(g);
      const part = cuttable(store);
      const s = await session(part.store);
      const crashed = await (await view(g, part.store)).join(s, { id: 'crashy' });
      await eventually(() => watcher.get('crashy') !== undefined, 2000);
      let leftAt = 0;
      let aliveAtLeave: boolean | undefined;
      watcher.on('leave', (m) => {
        if (m.id !== 'crashy') return;
        leftAt = performance.now();
        // The guarantee: when others see it gone, the member already counts itself dead (its
        // deadline passed); its signal's timer fires within the same tick or the next.
        aliveAtLeave = s.alive;
      });
      const cutAt = performance.now();
      part.cut();
      await eventually(() => leftAt > 0, ttlMs * 2 + 2000);
      expect(aliveAtLeave).toBe(false);
      await eventually(() => crashed.signal.aborted, 100);
      expect(crashed.status).toBe('lost');
      expect(leftAt - cutAt).toBeLessThan(ttlMs + store.capabilities.expiryBoundMs + 1500);
    });

    it('observe() never blocks the watch: a slow consumer skips the oldest events and is told how many', async () => {
      const g = group();
      const watcher = await view(g, store, 2);
      const it = watcher.observe();
      const v = await view(g);
      const members = [];
      for (let i = 0; i < 5; i++) members.push(await v.join(await session(), { id: `m${i}` }));
      await eventually(() => watcher.members().length === 5, 2000);
      await sleep(20);
      const first = await it.next();
      const second = await it.next();
      expect(it.skipped).toBe(3);
      expect(first.value.skipped + second.value.skipped).toBe(3);
      expect(second.value.member.id).toBe('m4');
      for (const m of members) await m.close();
    });
  });
}
