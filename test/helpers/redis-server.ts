/**
 * A real Redis server for tests: Debian's `redis-server` (7.0) in the foreground on a free
 * loopback port, in a temp directory, with the persistence each test asks for. It can be killed
 * (SIGKILL), stopped (SIGSTOP/SIGCONT) and restarted on the same port and directory. Every server
 * is killed on stop() and, as a last resort, when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './etcd-cluster.js';
import { tempDir } from './tmp.js';

const REDIS = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface RedisServerOptions {
  /**
   * Persistence: `'none'` (no RDB, no AOF: a restart starts empty), `'everysec'` (AOF fsynced
   * every second, Redis's default AOF policy: a crash may lose the last second), `'always'`
   * (AOF fsynced before every reply). @default 'none'
   */
  persistence?: 'none' | 'everysec' | 'always';
  /** `requirepass`. @default none */
  password?: string;
  /** Extra `--name value` arguments. */
  args?: string[];
}

/** One redis-server process (and its restarts) on one port and directory. */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #cleanup: () => void;
  readonly #options: RedisServerOptions;
  #proc: ChildProcess | undefined;
  #log = '';

  private constructor(port: number, dir: string, cleanup: () => void, options: RedisServerOptions) {
    this.port = port;
    this.dir = dir;
    this.#cleanup = cleanup;
    this.#options = options;
  }

  /** Starts a server and waits until it accepts connections. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const t = tempDir('tenure-redis-');
    const server = new RedisServer(await freePort(), t.dir, t.cleanup, options);
    await server.#spawn();
    return server;
  }

  /** `host:port`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** A `redis://` URL of this server (with the password, if any). */
  get url(): string {
    const auth =
      this.#options.password === undefined ? '' : `:${encodeURIComponent(this.#options.password)}@`;
    return `redis://${auth}127.0.0.1:${this.port}`;
  }

  /** The process id of the running server. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  async #spawn(): Promise<void> {
    const persistence = this.#options.persistence ?? 'none';
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--daemonize',
      'no',
      '--save',
      '',
      '--appendonly',
      persistence === 'none' ? 'no' : 'yes',
      '--appendfsync',
      persistence === 'always' ? 'always' : 'everysec',
      '--logfile',
      '',
      ...(this.#options.password === undefined ? [] : ['--requirepass', this.#options.password]),
      ...(this.#options.args ?? []),
    ];
    const proc = spawn(REDIS, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    this.#proc = proc;
    this.#log = '';
    proc.stdout!.on('data', (d: Buffer) => (this.#log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.#log += d.toString()));
    proc.once('exit', () => live.delete(proc));
    const deadline = performance.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`redis-server exited at start: ${this.#log}`);
      if (/Ready to accept connections/.test(this.#log) && (await this.#accepts())) return;
      if (performance.now() > deadline) throw new Error(`redis-server did not start in 10 s: ${this.#log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect(this.port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  }

  /** SIGKILL: the server dies at once, with whatever its persistence had not written yet. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await once(proc, 'exit');
  }

  /** Starts the server again on the same port and directory (after {@link kill}). */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  /** SIGSTOP: the server freezes, connections stay open. */
  freeze(): void {
    this.#proc?.kill('SIGSTOP');
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    this.#proc?.kill('SIGCONT');
  }

  /** The server's output so far (for failure messages). */
  get log(): string {
    return this.#log;
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    this.thaw();
    await this.kill();
    this.#cleanup();
  }
}

/**
 * One Redis Sentinel (`redis-server <config> --sentinel`: Debian's redis-server runs as a
 * Sentinel without the separate redis-sentinel package) on a free loopback port, monitoring one
 * master under `name` with a quorum of 1, so a single Sentinel can fail it over. Fast detection:
 * `down-after-milliseconds` 500.
 */
export class RedisSentinel {
  readonly port: number;
  readonly #proc: ChildProcess;
  readonly #cleanup: () => void;
  #log = '';

  private constructor(port: number, proc: ChildProcess, cleanup: () => void) {
    this.port = port;
    this.#proc = proc;
    this.#cleanup = cleanup;
    proc.stdout!.on('data', (d: Buffer) => (this.#log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.#log += d.toString()));
  }

  /** Starts a Sentinel monitoring the master at `127.0.0.1:masterPort` as `name`. */
  static async start(name: string, masterPort: number): Promise<RedisSentinel> {
    const t = tempDir('tenure-sentinel-');
    const port = await freePort();
    const config = join(t.dir, 'sentinel.conf');
    // Sentinel rewrites its configuration file as it learns replicas and epochs.
    writeFileSync(
      config,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${t.dir}`,
        'logfile ""',
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${name} 500`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const proc = spawn(REDIS, [config, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const sentinel = new RedisSentinel(port, proc, t.cleanup);
    const deadline = performance.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`redis-server --sentinel exited at start: ${sentinel.#log}`);
      if (/Sentinel ID is/.test(sentinel.#log) && (await accepts(port))) return sentinel;
      if (performance.now() > deadline)
        throw new Error(`redis-server --sentinel did not start in 10 s: ${sentinel.#log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The Sentinel's output so far (for failure messages). */
  get log(): string {
    return this.#log;
  }

  /** Kills the Sentinel and removes its directory. */
  async stop(): Promise<void> {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) {
      this.#proc.kill('SIGKILL');
      await once(this.#proc, 'exit');
    }
    this.#cleanup();
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
