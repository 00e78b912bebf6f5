/**
 * A real etcd cluster for tests: `/usr/bin/etcd` members on free loopback ports in a temp
 * directory, with kill/restart of single members (real signals), a TLS variant whose CA and
 * certificates are made by `openssl`, and a TCP proxy that adds latency or blackholes a client
 * (this kernel has no netem). Every process is killed on stop() and, as a last resort, when the
 * test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { makeCertificates, type TestCertificates } from './certificates.js';
import { tempDir } from './tmp.js';

const ETCD = process.env.ETCD_BIN ?? '/usr/bin/etcd';
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/**
 * A free loopback TCP port outside the kernel's ephemeral range. A member keeps its ports across
 * a restart; a port from the ephemeral range could meanwhile become the local end of some
 * outgoing connection (a client reconnecting, a peer probing), and the member could not bind it
 * again. Ports handed out are remembered so that one process never gets the same port twice.
 */
export async function freePort(): Promise<number> {
  const [low, high] = ephemeralRange();
  const [from, to] = low - 1024 >= 10_000 ? [10_000, low] : [high + 1, 65_536];
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (handedOut.has(port)) continue;
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    server.close();
    await once(server, 'close');
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free loopback port in [${from}, ${to})`);
}

const handedOut = new Set<number>();

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    return [Number(low), Number(high)];
  } catch {
    return [32_768, 60_999];
  }
}

/** PEM files made for a TLS cluster. */
export type EtcdTlsFiles = TestCertificates;

export interface EtcdClusterOptions {
  /** Members. @default 3 */
  size?: number;
  /** Serve clients over TLS and require client certificates. @default false */
  tls?: boolean;
  /** Extra etcd flags for every member. */
  flags?: string[];
}

interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  metricsPort: number;
  proc: ChildProcess | undefined;
  log: string;
}

/** A running cluster. */
export class EtcdCluster {
  readonly dir: string;
  readonly tls: EtcdTlsFiles | undefined;
  readonly #members: MemberSpec[];
  readonly #args: (m: MemberSpec) => string[];
  readonly #cleanup: () => void;

  private constructor(
    dir: string,
    cleanup: () => void,
    members: MemberSpec[],
    args: (m: MemberSpec) => string[],
    tls: EtcdTlsFiles | undefined,
  ) {
    this.dir = dir;
    this.#cleanup = cleanup;
    this.#members = members;
    this.#args = args;
    this.tls = tls;
  }

  /** Starts a cluster and waits until every member reports healthy. */
  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const size = options.size ?? 3;
    const tmp = tempDir('tenure-etcd-');
    const members: MemberSpec[] = [];
    for (let i = 0; i < size; i++)
      members.push({
        name: `m${i}`,
        clientPort: await freePort(),
        peerPort: await freePort(),
        metricsPort: await freePort(),
        proc: undefined,
        log: '',
      });
    const tls = options.tls ? makeCertificates(tmp.dir) : undefined;
    const scheme = tls ? 'https' : 'http';
    const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
    const token = `tenure-${process.pid}-${Date.now()}`;
    const args = (m: MemberSpec) => [
      `--name=${m.name}`,
      `--data-dir=${join(tmp.dir, m.name)}`,
      `--listen-client-urls=${scheme}://127.0.0.1:${m.clientPort}`,
      `--advertise-client-urls=${scheme}://127.0.0.1:${m.clientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--listen-metrics-urls=http://127.0.0.1:${m.metricsPort}`,
      `--initial-cluster=${initial}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${token}`,
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
      ...(tls
        ? [
            `--cert-file=${join(tmp.dir, 'server.crt')}`,
            `--key-file=${join(tmp.dir, 'server.key')}`,
            `--trusted-ca-file=${tls.caPath}`,
            '--client-cert-auth',
          ]
        : []),
      ...(options.flags ?? []),
    ];
    const cluster = new EtcdCluster(tmp.dir, tmp.cleanup, members, args, tls);
    try {
      for (let i = 0; i < size; i++) cluster.#spawn(i);
      await cluster.waitHealthy();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Client addresses, `127.0.0.1:port`, one per member. */
  get endpoints(): string[] {
    return this.#members.map((m) => `127.0.0.1:${m.clientPort}`);
  }

  get size(): number {
    return this.#members.length;
  }

  /** The process id of member `i`, or undefined when it is not running. */
  pid(i: number): number | undefined {
    return this.#members[i]?.proc?.pid;
  }

  /** What member `i` wrote to stderr. */
  log(i: number): string {
    return this.#members[i]!.log;
  }

  #spawn(i: number): void {
    const m = this.#members[i]!;
    const proc = spawn(ETCD, this.#args(m), { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => {
      m.log = (m.log + d.toString()).slice(-20_000);
    });
    live.add(proc);
    proc.on('exit', () => live.delete(proc));
    m.proc = proc;
  }

  async #metric(i: number, path: string): Promise<string | undefined> {
    const m = this.#members[i]!;
    try {
      const res = await fetch(`http://127.0.0.1:${m.metricsPort}${path}`, {
        signal: AbortSignal.timeout(1000),
      });
      return await res.text();
    } catch {
      return undefined;
    }
  }

  /** Member `i`'s Prometheus metrics text, or undefined when it does not answer. */
  metrics(i: number): Promise<string | undefined> {
    return this.#metric(i, '/metrics');
  }

  /** Waits until every running member is healthy. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const running = this.#members.map((m, i) => (m.proc !== undefined ? i : -1)).filter((i) => i >= 0);
      // Healthy: /health says so (a leader and quorum). The answers also go in the message if the
      // wait times out.
      const answers = await Promise.all(running.map((i) => this.#metric(i, '/health')));
      const ok = answers.map((body) => body !== undefined && /"health":\s*"true"/.test(body));
      if (ok.every(Boolean)) return;
      for (const i of running) {
        const proc = this.#members[i]!.proc!;
        if (proc.exitCode !== null)
          throw new Error(`etcd member m${i} exited with ${proc.exitCode}:\n${this.log(i)}`);
      }
      if (performance.now() > deadline)
        throw new Error(
          `etcd cluster not healthy within ${timeoutMs} ms; last /health answers: ${running
            .map(
              (i, k) =>
                `m${i} (port ${this.#members[i]!.metricsPort}): ${answers[k] ?? 'no answer within 1 s'}`,
            )
            .join('; ')}\n${running.map((i) => this.log(i)).join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The index of the current leader (waits up to `timeoutMs` for one). */
  async leader(timeoutMs = 10_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.#members.length; i++) {
        if (this.#members[i]!.proc === undefined) continue;
        const metrics = await this.#metric(i, '/metrics');
        if (metrics !== undefined && /^etcd_server_is_leader 1$/m.test(metrics)) return i;
      }
      if (performance.now() > deadline) throw new Error('no etcd leader');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends `signal` to member `i`; for SIGKILL and SIGTERM, waits for it to exit. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.#members[i]!;
    const proc = m.proc;
    if (proc === undefined) return;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      proc.kill(signal);
      return;
    }
    const exited =
      proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : once(proc, 'exit');
    proc.kill(signal);
    await exited;
    m.proc = undefined;
  }

  /** Starts member `i` again on its data directory and ports; waits until it is healthy. */
  async restart(i: number): Promise<void> {
    if (this.#members[i]!.proc !== undefined) await this.kill(i);
    this.#spawn(i);
    await this.waitHealthy();
  }

  /**
   * Brings the cluster back to full strength whatever a test left behind: resumes stopped
   * members, starts every member that is not running, and waits until all are healthy. Tests
   * call it in `finally` so that one failure does not cascade into the next test.
   */
  async heal(): Promise<void> {
    for (let i = 0; i < this.#members.length; i++) {
      const proc = this.#members[i]!.proc;
      if (proc !== undefined && proc.signalCode === null && proc.exitCode === null) proc.kill('SIGCONT');
      else {
        this.#members[i]!.proc = undefined;
        this.#spawn(i);
      }
    }
    await this.waitHealthy();
  }

  /** Kills every member and removes the temp directory. Idempotent. */
  async stop(): Promise<void> {
    for (let i = 0; i < this.#members.length; i++) {
      const proc = this.#members[i]!.proc;
      if (proc !== undefined && proc.signalCode === 'SIGSTOP') proc.kill('SIGCONT');
      await this.kill(i, 'SIGKILL');
    }
    this.#cleanup();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * A TCP proxy in front of one address: adds latency to every chunk, or blackholes the
 * connection (data is silently dropped both ways, sockets stay open, as in a partition).
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  /** Delay added to every chunk, each way. */
  latencyMs = 0;
  /** When true, nothing passes (both ways) and new connections hang. */
  blackholed = false;
  port = 0;

  private constructor(target: string) {
    const [host, port] = target.split(':') as [string, string];
    this.#target = { host, port: Number(port) };
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(target: string): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    proxy.port = (proxy.#server.address() as AddressInfo).port;
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  #accept(client: Socket): void {
    const upstream = connect(this.#target.port, this.#target.host);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const pipe = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (this.blackholed) return;
        if (this.latencyMs <= 0) to.write(chunk);
        else setTimeout(() => !this.blackholed && !to.destroyed && to.write(chunk), this.latencyMs);
      });
    pipe(client, upstream);
    pipe(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#server.close();
    await once(this.#server, 'close').catch(() => undefined);
  }
}
