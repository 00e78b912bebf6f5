import { createSocket } from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { FixedTimeoutDetector } from '../../src/detect/fixed-timeout.js';
import { HeartbeatMesh } from '../../src/recipes/fleet/heartbeat-mesh.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { codeOf, eventually } from '../helpers/async.js';

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const closers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => undefined);
});

describe('HeartbeatMesh', () => {
  it('peers found through membership heartbeat each other; a silent one is suspected, then recovers', async () => {
    const store = new MemoryStore();
    const meshes = new Map<string, HeartbeatMesh>();
    const members = new Map<
      string,
      { membership: Membership; member: Awaited<ReturnType<Membership['join']>> }
    >();
    for (const id of ['a', 'b', 'c']) {
      const session = await Session.create(store, { ttlMs: 5000 });
      const membership = await Membership.open(store, 'mesh');
      const member = await membership.join(session, { id, address: `127.0.0.1:${await freeUdpPort()}` });
      closers.push(session, membership);
      members.set(id, { membership, member });
    }
    await eventually(() => [...members.values()].every((m) => m.membership.members().length === 3), 2000);
    for (const [id, { membership, member }] of members) {
      const mesh = await HeartbeatMesh.start(membership, member, { intervalMs: 50 });
      closers.push(mesh);
      meshes.set(id, mesh);
    }
    const suspects: string[] = [];
    for (const [id, mesh] of meshes) mesh.on('suspect', (peer) => suspects.push(`${id}->${peer}`));
    const it = meshes.get('a')!.observe();
    await eventually(
      () => [...meshes.values()].every((m) => m.peers().every((p) => p.lastHeartbeatAt !== undefined)),
      2000,
    );
    expect(
      meshes
        .get('a')!
        .peers()
        .map((p) => p.id),
    ).toEqual(['b', 'c']);
    expect(
      meshes
        .get('a')!
        .peers()
        .every((p) => p.available),
    ).toBe(true);

    // c goes silent (its mesh stops; its membership stays, as for a hung process): suspected.
    await meshes.get('c')!.close();
    await eventually(() => suspects.includes('a->c') && suspects.includes('b->c'), 5000);
    expect(suspects.filter((s) => !s.endsWith('->c'))).toEqual([]);
    const e = await it.next();
    expect(e.value).toMatchObject({ type: 'suspect', peer: 'c' });
    expect(meshes.get('a')!.suspicion('c')!).toBeGreaterThanOrEqual(8);
    // Suspicion is advisory: c is still a member.
    expect(members.get('a')!.membership.get('c')).toBeDefined();

    // c comes back: recovers.
    const { membership, member } = members.get('c')!;
    const back = await HeartbeatMesh.start(membership, member, { intervalMs: 50 });
    closers.push(back);
    const r = await it.next();
    expect(r.value).toMatchObject({ type: 'recover', peer: 'c' });
  });

  it('takes another detector, and validates options', async () => {
    const store = new MemoryStore();
    const session = await Session.create(store, { ttlMs: 5000 });
    const membership = await Membership.open(store, 'opts');
    closers.push(session, membership);
    const noAddress = await membership.join(session, { id: 'n' });
    expect(await codeOf(HeartbeatMesh.start(membership, noAddress))).toBe('TENURE_INVALID_ARGUMENT');
    await noAddress.close();
    const m = await membership.join(session, { id: 'm', address: `127.0.0.1:${await freeUdpPort()}` });
    await expect(HeartbeatMesh.start(membership, m, { intervalMs: 0 })).rejects.toThrow(
      /options\.intervalMs/,
    );
    // The mesh must time its peers with the detectors the factory makes, not its default ones:
    // a fixed-timeout detector on a driven clock reports elapsed/timeout exactly (phi would not).
    const detectorClock = new ManualClock();
    const made: FixedTimeoutDetector[] = [];
    const mesh = await HeartbeatMesh.start(membership, m, {
      intervalMs: 20,
      detector: () => {
        const d = new FixedTimeoutDetector({ timeoutMs: 100, clock: detectorClock });
        made.push(d);
        return d;
      },
    });
    closers.push(mesh);
    expect(mesh.peers()).toEqual([]);
    const peerSession = await Session.create(store, { ttlMs: 5000 });
    closers.push(peerSession);
    await membership.join(peerSession, { id: 'p', address: `127.0.0.1:${await freeUdpPort()}` });
    await eventually(() => mesh.peers().length === 1, 2000);
    expect(made).toHaveLength(1);
    made[0]!.heartbeat(); // as if p's datagram had arrived at t=0
    await detectorClock.advance(150);
    expect(mesh.suspicion('p')).toBe(1.5);
    expect(mesh.peers()[0]).toMatchObject({ id: 'p', suspicion: 1.5, available: false, lastHeartbeatAt: 0 });
  });
});
