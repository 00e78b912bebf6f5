/**
 * The TCP proxy behind `tenure verify --faults partition`: bytes pass both ways, a blackhole
 * holds them (the connection stays open) and a heal delivers them in order; store URLs are
 * rewritten to go through it, and stores it cannot stand in front of are refused.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BlackholeProxy, proxiableUrl } from '../../src/cli/verify-proxy.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** An echo server on a free loopback port. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.pipe(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return { server, port: (server.address() as { port: number }).port };
}

/** Everything `socket` receives, as text. */
function received(socket: Socket): { text: () => string } {
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString()));
  return { text: () => text };
}

const until = async (check: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return check();
};

describe('BlackholeProxy', () => {
  it('forwards, holds during a blackhole without closing, and delivers in order on heal', async () => {
    const { port } = await echoServer();
    const proxy = await BlackholeProxy.start({ host: '127.0.0.1', port });
    closers.push(() => proxy.close());
    const socket = connect(proxy.port, '127.0.0.1');
    closers.push(async () => void socket.destroy());
    await once(socket, 'connect');
    const got = received(socket);
    socket.write('a');
    expect(await until(() => got.text() === 'a')).toBe(true);

    proxy.blackhole();
    expect(proxy.blackholed).toBe(true);
    socket.write('b');
    socket.write('c');
    // Negative control of the hold: nothing comes back while blackholed, and the socket stays open.
    expect(await until(() => got.text() !== 'a', 300)).toBe(false);
    expect(socket.destroyed).toBe(false);

    proxy.heal();
    expect(await until(() => got.text() === 'abc')).toBe(true);
    socket.write('d');
    expect(await until(() => got.text() === 'abcd')).toBe(true);
  });

  it('holds a connection opened during the blackhole too; close() ends every connection', async () => {
    const { port } = await echoServer();
    const proxy = await BlackholeProxy.start({ host: '127.0.0.1', port });
    proxy.blackhole();
    const socket = connect(proxy.port, '127.0.0.1');
    await once(socket, 'connect');
    const got = received(socket);
    socket.write('x');
    expect(await until(() => got.text() !== '', 300)).toBe(false);
    proxy.heal();
    expect(await until(() => got.text() === 'x')).toBe(true);
    const closed = once(socket, 'close');
    await proxy.close();
    await proxy.close(); // idempotent
    await closed;
  });
});

describe('proxiableUrl', () => {
  it('rewrites every etcd endpoint, keeping credentials, path and query', () => {
    const { endpoints, rewrite } = proxiableUrl('etcd://u:p@10.0.0.1:2379,node2,[::1]:2380?namespace=x');
    expect(endpoints).toEqual([
      { host: '10.0.0.1', port: 2379 },
      { host: 'node2', port: 2379 },
      { host: '::1', port: 2380 },
    ]);
    expect(rewrite([1, 2, 3])).toBe('etcd://u:p@127.0.0.1:1,127.0.0.1:2,127.0.0.1:3?namespace=x');
    expect(proxiableUrl('redis://h/2').rewrite([9])).toBe('redis://127.0.0.1:9/2');
    expect(proxiableUrl('postgres://u:p@db/tenure').endpoints).toEqual([{ host: 'db', port: 5432 }]);
  });

  it('refuses stores it cannot stand in front of, saying why', () => {
    expect(() => proxiableUrl('sqlite:///tmp/x.db')).toThrow(/needs a network store/);
    expect(() => proxiableUrl('memory://')).toThrow(/needs a network store/);
    expect(() => proxiableUrl('etcds://h:2379')).toThrow(/plain TCP store URL.*TLS/);
    expect(() => proxiableUrl('postgres://u@h/db?sslmode=verify-full')).toThrow(/sslmode/);
  });
});
