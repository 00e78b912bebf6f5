/**
 * A real PostgreSQL 15 server for tests: Debian's binaries (`/usr/lib/postgresql/15/bin`, or
 * PG_BIN), `initdb` in a temp dir, a free loopback port, its Unix socket in the same temp dir, run
 * as the `postgres` OS user when the tests run as root (the server refuses root). Password
 * authentication over TCP (scram-sha-256) for a superuser `tenure`, so that a wrong password is a
 * real refusal. Kill (real signals), restart on the same data directory, fresh databases per test;
 * everything is killed on stop() and, as a last resort, when the test process exits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { makeCertificates } from './certificates.js';
import { freePort } from './etcd-cluster.js';
import { tempDir } from './tmp.js';

/** Where the server's programs are. */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The superuser the harness creates, and its password. */
export const PG_USER = 'tenure';
export const PG_PASSWORD = 'tenure-test-password';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** uid/gid of the `postgres` OS user when running as root (the server refuses root), else none. */
function serverIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** The process ids of `pid`'s children (the server's backends and workers). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link PostgresServer.start}. */
export interface PostgresServerOptions {
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
  /** Start from a base backup of this server (a streaming replica of it). */
  replicaOf?: PostgresServer;
  /** Serve TLS with a certificate for 127.0.0.1 signed by a CA made here (see `caPath`). */
  tls?: boolean;
}

/** A running server. */
export class PostgresServer {
  readonly dir: string;
  readonly dataDir: string;
  readonly port: number;
  readonly #cleanup: () => void;
  readonly #identity: { uid: number; gid: number } | undefined;
  readonly #settings: Record<string, string | number>;
  #proc: ChildProcess | undefined;
  /** The CA certificate that signed the server's, when started with `tls`. */
  caPath: string | undefined;
  #log = '';
  #databases = 0;

  private constructor(
    dir: string,
    cleanup: () => void,
    port: number,
    settings: Record<string, string | number>,
  ) {
    this.dir = dir;
    this.dataDir = join(dir, 'data');
    this.#cleanup = cleanup;
    this.port = port;
    this.#identity = serverIdentity();
    this.#settings = settings;
  }

  /** Runs initdb (or a base backup of `replicaOf`), starts the server and waits until it accepts connections. */
  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const tmp = tempDir('tenure-pg-');
    const server = new PostgresServer(tmp.dir, tmp.cleanup, await freePort(), {
      fsync: 'off', // a crash of the server (not the host) loses nothing without it; tests run faster
      max_connections: 200,
      shared_buffers: '32MB',
      wal_level: 'replica',
      max_wal_senders: 4,
      wal_keep_size: '64MB',
      ...options.settings,
    });
    try {
      if (server.#identity !== undefined) chownSync(tmp.dir, server.#identity.uid, server.#identity.gid);
      if (options.replicaOf === undefined) {
        const pwfile = join(tmp.dir, 'pwfile');
        writeFileSync(pwfile, `${PG_PASSWORD}\n`);
        if (server.#identity !== undefined) chownSync(pwfile, server.#identity.uid, server.#identity.gid);
        server.#run('initdb', [
          '-D',
          server.dataDir,
          '-U',
          PG_USER,
          `--pwfile=${pwfile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '-E',
          'UTF8',
          '--locale=C',
          '--no-sync',
        ]);
        // Replication connections over loopback for the replica of the failover tests.
        writeFileSync(
          join(server.dataDir, 'pg_hba.conf'),
          'local all all trust\nlocal replication all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n',
          { flag: 'a' },
        );
      } else {
        const primary = options.replicaOf;
        server.#run('pg_basebackup', [
          '-h',
          primary.dir,
          '-p',
          String(primary.port),
          '-U',
          PG_USER,
          '-D',
          server.dataDir,
          '-R',
          '-X',
          'stream',
          '-c',
          'fast',
          '--no-sync',
        ]);
      }
      if (options.tls === true) server.#makeCertificates();
      await server.#spawn();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /** A CA and a server certificate for 127.0.0.1 (openssl), and the settings that serve them. */
  #makeCertificates(): void {
    const certificates = makeCertificates(this.dir);
    for (const file of [certificates.serverKeyPath, certificates.serverCertPath]) {
      if (this.#identity !== undefined) chownSync(file, this.#identity.uid, this.#identity.gid);
      chmodSync(file, 0o600);
    }
    this.#settings.ssl = 'on';
    this.#settings.ssl_cert_file = certificates.serverCertPath;
    this.#settings.ssl_key_file = certificates.serverKeyPath;
    this.caPath = certificates.caPath;
  }

  #run(program: string, args: string[]): void {
    execFileSync(join(PG_BIN, program), args, {
      stdio: 'pipe',
      ...(this.#identity ?? {}),
      env: { ...process.env, LC_ALL: 'C' },
    });
  }

  async #spawn(): Promise<void> {
    const args = [
      '-D',
      this.dataDir,
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
    ];
    for (const [name, value] of Object.entries(this.#settings)) args.push('-c', `${name}=${value}`);
    const proc = spawn(join(PG_BIN, 'postgres'), args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(this.#identity ?? {}),
      env: { ...process.env, LC_ALL: 'C' },
    });
    proc.stderr!.on('data', (d: Buffer) => {
      this.#log = (this.#log + d.toString()).slice(-20_000);
    });
    live.add(proc);
    proc.on('exit', () => live.delete(proc));
    this.#proc = proc;
    await this.waitReady();
  }

  /** What the server wrote to stderr (its log). */
  get log(): string {
    return this.#log;
  }

  /** The postmaster's process id, or undefined when it is not running. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** Waits until the server accepts a query. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const proc = this.#proc;
      if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`postgres exited:\n${this.#log}`);
      const client = new pg.Client(this.config('postgres'));
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return;
      } catch {
        if (performance.now() > deadline)
          throw new Error(`postgres not ready in ${timeoutMs} ms:\n${this.#log}`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }

  /** node-postgres client settings for `database` as the superuser. */
  config(database: string): pg.ClientConfig {
    return {
      host: '127.0.0.1',
      port: this.port,
      user: PG_USER,
      password: PG_PASSWORD,
      database,
      connectionTimeoutMillis: 5000,
    };
  }

  /** A `postgres://` URL of `database` (`user`/`password` default to the superuser's). */
  url(database: string, query = '', user = PG_USER, password = PG_PASSWORD): string {
    const q = query === '' ? '' : `?${query}`;
    return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${database}${q}`;
  }

  /** Runs SQL as the superuser on `database` and returns the rows. */
  async sql<T = Record<string, unknown>>(
    database: string,
    text: string,
    values: unknown[] = [],
  ): Promise<T[]> {
    const client = new pg.Client(this.config(database));
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * How many times statements whose text matches the SQL pattern `like` ran on `database` since
   * it was created: pg_stat_statements' count, kept by the server itself, of every top-level
   * statement any client sent (the server must be started with
   * `settings: { shared_preload_libraries: 'pg_stat_statements' }`).
   */
  async statementCalls(database: string, like: string): Promise<number> {
    await this.sql(database, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const rows = await this.sql<{ n: string }>(
      database,
      'SELECT coalesce(sum(calls), 0) AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) AND query LIKE $2',
      [database, like],
    );
    return Number(rows[0]!.n);
  }

  /** Creates a new empty database and returns its name. */
  async createDatabase(prefix = 'db'): Promise<string> {
    const name = `${prefix}_${process.pid}_${++this.#databases}`;
    await this.sql('postgres', `CREATE DATABASE ${name}`);
    return name;
  }

  /** Sends `signal` to the postmaster; for SIGKILL and SIGTERM, waits for it (and, with SIGKILL, its backends) to go. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      proc.kill(signal);
      return;
    }
    // The backends outlive a SIGKILLed postmaster for a moment, and a new postmaster refuses to
    // start while one still holds the old shared memory: kill them too, as the host's crash would.
    const children = signal === 'SIGKILL' ? childrenOf(proc.pid!) : [];
    const exited =
      proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : once(proc, 'exit');
    proc.kill(signal);
    await exited;
    this.#proc = undefined;
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 200 && children.some(alive); i++) await new Promise((r) => setTimeout(r, 25));
  }

  /** Starts the server again on its data directory and port; waits until it accepts queries. */
  async restart(): Promise<void> {
    if (this.#proc !== undefined) await this.kill('SIGKILL');
    await this.#spawn();
  }

  /** Promotes a replica to primary (a new timeline), and waits until it accepts writes. */
  async promote(): Promise<void> {
    this.#run('pg_ctl', ['promote', '-w', '-D', this.dataDir]);
    const deadline = performance.now() + 30_000;
    while ((await this.sql<{ r: boolean }>('postgres', 'SELECT pg_is_in_recovery() AS r'))[0]!.r) {
      if (performance.now() > deadline) throw new Error(`the replica did not leave recovery:\n${this.#log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills the server and removes the temp directory. Idempotent. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc !== undefined && proc.signalCode === 'SIGSTOP') proc.kill('SIGCONT');
    await this.kill('SIGKILL');
    this.#cleanup();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
