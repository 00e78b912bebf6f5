/**
 * The network fault of `tenure verify --faults partition`: a TCP proxy per client process between
 * it and each store endpoint, which can blackhole that client for a while.
 *
 * A blackhole holds every byte in both directions, and the connections stay open (no reset, no
 * close): to the client the store stops answering, as when a link drops packets. When the
 * blackhole ends the held bytes are delivered in order, as TCP's retransmissions would deliver
 * them after a partition heals: requests sent during the partition arrive late (a keepalive
 * after its lease expired, a write after its lock was lost), which is what fencing and the
 * client's deadline must survive. Connections opened during the blackhole are accepted and held
 * the same way.
 *
 * Written here rather than taken from a library: the npm TCP proxies (node-tcp-proxy,
 * tcp-proxy.js) forward bytes but have no way to hold them on demand, and Toxiproxy, which can,
 * is a separate server the CLI would have to ship and start; this is a hundred lines of `node:net`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { UsageError } from './usage-error.js';

/** Where a proxy forwards to. */
export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

interface Held {
  readonly to: Socket;
  readonly chunk: Buffer;
}

/** A TCP proxy on a free loopback port that can blackhole its connections. */
export class BlackholeProxy {
  readonly #server: Server;
  readonly #target: ProxyTarget;
  readonly #sockets = new Set<Socket>();
  #held: Held[] | undefined;
  #closing: Promise<void> | undefined;

  private constructor(server: Server, target: ProxyTarget) {
    this.#server = server;
    this.#target = target;
    server.on('connection', (client) => this.#accept(client));
  }

  /** Starts a proxy to `target` on 127.0.0.1, on a port the system picks. */
  static async start(target: ProxyTarget): Promise<BlackholeProxy> {
    const server = createServer({ pauseOnConnect: false });
    const proxy = new BlackholeProxy(server, target);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  /** The loopback port clients connect to. */
  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** True while bytes are held. */
  get blackholed(): boolean {
    return this.#held !== undefined;
  }

  #accept(client: Socket): void {
    const upstream = connect(this.#target.port, this.#target.host);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.setNoDelay(true);
      // One side's end or error ends the other: the proxy adds no failure of its own.
      s.on('error', () => undefined);
      s.on('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (this.#held !== undefined) this.#held.push({ to, chunk });
      else to.write(chunk);
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
  }

  /** Holds every byte, both ways, until {@link heal}. Idempotent. */
  blackhole(): void {
    this.#held ??= [];
  }

  /** Delivers the held bytes in order and forwards again. Idempotent. */
  heal(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const { to, chunk } of held ?? []) if (!to.destroyed) to.write(chunk);
  }

  /** Closes the listener and every connection through it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#held = undefined;
      for (const s of this.#sockets) s.destroy();
      this.#server.close(() => resolve());
    });
    return this.#closing;
  }
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  etcd: 2379,
  redis: 6379,
  postgres: 5432,
  postgresql: 5432,
};

/**
 * The endpoints of a network store URL, and a function that writes the same URL with each
 * endpoint replaced (credentials, path and query kept).
 * @throws UsageError for a store the proxy cannot stand in front of: a file or in-memory store,
 * or TLS (the certificate names the server, not the proxy's loopback address).
 */
export function proxiableUrl(url: string): {
  endpoints: ProxyTarget[];
  rewrite: (ports: readonly number[]) => string;
} {
  const m = /^([a-z]+):\/\/([^/?#]*)(.*)$/i.exec(url);
  const scheme = m?.[1]?.toLowerCase() ?? '';
  if (m === null || !(scheme in DEFAULT_PORTS)) {
    const tls = ['etcds', 'rediss'].includes(scheme);
    throw new UsageError(
      tls
        ? `--faults partition needs a plain TCP store URL (${scheme}:// is TLS, whose certificate would not match the proxy's address)`
        : `--faults partition needs a network store (etcd://, redis://, postgres://); ${scheme || 'this'}:// has no network to cut`,
    );
  }
  const authority = m[2]!;
  const rest = m[3]!;
  if (scheme.startsWith('postgres') && /sslmode=(require|verify-ca|verify-full)/.test(rest))
    throw new UsageError(
      "--faults partition needs a plain TCP store URL (this one asks for TLS with sslmode, whose certificate would not match the proxy's address)",
    );
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hosts = (at >= 0 ? authority.slice(at + 1) : authority).split(',').filter((h) => h !== '');
  if (hosts.length === 0) throw new UsageError('--faults partition: the store URL names no host');
  const endpoints = hosts.map((h) => {
    const hp = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(h);
    if (hp === null) throw new UsageError(`--faults partition: cannot read the host ${JSON.stringify(h)}`);
    const host = hp[1]!.replace(/^\[|\]$/g, '');
    return { host, port: hp[2] === undefined ? DEFAULT_PORTS[scheme]! : Number(hp[2]) };
  });
  return {
    endpoints,
    rewrite: (ports) => `${m[1]}://${userinfo}${ports.map((p) => `127.0.0.1:${p}`).join(',')}${rest}`,
  };
}
