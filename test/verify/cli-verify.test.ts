/**
 * `tenure verify` as a real process (needs `npm run build` first): on SQLite with SIGKILL and
 * SIGSTOP faults it passes and leaves nothing behind; with its register broken on purpose it
 * fails and names the violation; bad input is a one-line error.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { History } from '../../src/verify/index.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('tenure-verify-cli-');
});
afterAll(() => tmp.cleanup());

async function verify(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, 'verify', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('tenure verify', () => {
  it('passes on SQLite with clients killed and paused past the ttl, and removes its namespace', async () => {
    const db = join(tmp.dir, 'ok.db');
    const historyFile = join(tmp.dir, 'ok.jsonl');
    const r = await verify([
      '--store',
      `sqlite://${db}`,
      '--duration',
      '7s',
      '--faults',
      'kill,pause',
      '--ttl',
      '1s',
      '--history',
      historyFile,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      faults: { kills: number; pauses: number };
      register: { operations: number; verdict: string };
      locks: { holdings: number; writesAccepted: number; violations: string[] };
      elections: { leaderships: number; violations: string[] };
      namespace: string;
    };
    expect(report.register.verdict).toBe('linearizable');
    expect(report.locks.violations).toEqual([]);
    expect(report.elections.violations).toEqual([]);
    expect(report.ok).toBe(true);
    expect(r.code).toBe(0);
    expect(report.faults.kills).toBeGreaterThanOrEqual(1);
    expect(report.faults.pauses).toBeGreaterThanOrEqual(1);
    expect(report.register.operations).toBeGreaterThan(100);
    expect(report.locks.holdings).toBeGreaterThan(5);
    expect(report.locks.writesAccepted).toBeGreaterThan(5);
    expect(report.elections.leaderships).toBeGreaterThan(5);
    // The history it wrote reads back, with the nemesis's faults in it.
    const history = History.fromJsonLines(readFileSync(historyFile, 'utf8'));
    const ops = history.operations().map((o) => o.op);
    expect(ops).toContain('kill');
    expect(ops).toContain('pause');
    // Nothing left under its namespace (the killed clients' leases expire on their own).
    const store = new SqliteStore({ path: db });
    try {
      const left = await store.range(report.namespace);
      expect(left.kvs.map((kv) => kv.key)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('negative control: with the register losing writes, it fails and names the violation', async () => {
    const historyFile = join(tmp.dir, 'broken.jsonl');
    const r = await verify([
      '--store',
      `sqlite://${join(tmp.dir, 'broken.db')}`,
      '--duration',
      '3s',
      '--faults',
      'none',
      '--inject',
      'lost-writes',
      '--history',
      historyFile,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/register: \d+ operations, violation/);
    expect(r.stdout).toMatch(/not linearizable: key "register\/\d"/);
    expect(r.stdout).toContain('verdict: FAILED');
    expect(existsSync(`${historyFile}.svg`)).toBe(true);
    expect(readFileSync(`${historyFile}.svg`, 'utf8')).toContain('<svg');
  });

  it('passes on a 3-member etcd cluster with clients killed and paused', async () => {
    const cluster = await EtcdCluster.start({ size: 3 });
    try {
      const r = await verify([
        '--store',
        `etcd://${cluster.endpoints.join(',')}`,
        '--duration',
        '8s',
        '--faults',
        'kill,pause',
        '--ttl',
        '2s',
        '--json',
      ]);
      expect(r.stdout, r.stderr).not.toBe('');
      const report = JSON.parse(r.stdout) as {
        ok: boolean;
        faults: { kills: number; pauses: number };
        register: { verdict: string };
        locks: { holdings: number };
      };
      expect(report.register.verdict).toBe('linearizable');
      expect(report.ok).toBe(true);
      expect(r.code).toBe(0);
      expect(report.faults.kills + report.faults.pauses).toBeGreaterThanOrEqual(2);
      expect(report.locks.holdings).toBeGreaterThan(0);
    } finally {
      await cluster.stop();
    }
  });

  describe('partition: a client cut off from etcd past the ttl through its proxy', () => {
    let cluster: EtcdCluster;
    beforeAll(async () => {
      cluster = await EtcdCluster.start({ size: 1 });
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    it('passes, and the cut-off client lost its session', async () => {
      const historyFile = join(tmp.dir, 'partition.jsonl');
      const r = await verify([
        '--store',
        `etcd://${cluster.endpoints.join(',')}`,
        '--duration',
        '7s',
        '--faults',
        'partition',
        '--ttl',
        '2s',
        '--history',
        historyFile,
        '--json',
      ]);
      expect(r.stdout, r.stderr).not.toBe('');
      const report = JSON.parse(r.stdout) as {
        ok: boolean;
        faults: { partitions: number; partitionMs: number };
        register: { verdict: string };
        locks: { holdings: number; violations: string[] };
        elections: { violations: string[] };
      };
      expect(report.register.verdict).toBe('linearizable');
      expect(report.locks.violations).toEqual([]);
      expect(report.elections.violations).toEqual([]);
      expect(report.ok).toBe(true);
      expect(r.code).toBe(0);
      expect(report.faults.partitions).toBeGreaterThanOrEqual(1);
      expect(report.faults.partitionMs).toBeGreaterThanOrEqual(3000);
      // The fault bit: a cut-off client saw its session end (a cut longer than the ttl ends it):
      // a wait failed with TENURE_SESSION_EXPIRED, or a check found its lock or leadership lost.
      const history = History.fromJsonLines(readFileSync(historyFile, 'utf8'));
      const ops = history.operations();
      const cuts = ops.filter((o) => o.op === 'partition');
      expect(cuts.length).toBeGreaterThanOrEqual(1);
      const expiredByCut = ops.some((o) =>
        cuts.some(
          (cut) =>
            String(o.process).startsWith(`${String((cut.args as { process: string }).process)}/`) &&
            o.returnTime >= cut.invokeTime &&
            (o.op.endsWith('.lost') || JSON.stringify(o.result ?? '').includes('TENURE_SESSION_EXPIRED')),
        ),
      );
      expect(expiredByCut).toBe(true);
    });

    it('negative control: clients that never check their lock are caught when one is cut off holding it', async () => {
      const r = await verify([
        '--store',
        `etcd://${cluster.endpoints.join(',')}`,
        '--duration',
        '5s',
        '--faults',
        'partition',
        '--ttl',
        '2s',
        '--inject',
        'unchecked-lock',
      ]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/locks: \d+ holdings, .*: VIOLATION/);
      expect(r.stdout).toMatch(/overlap: lock lock: 2 holders at once/);
      expect(r.stdout).toContain('verdict: FAILED');
    });

    it('negative control: with the register losing writes, the same run fails', async () => {
      const r = await verify([
        '--store',
        `etcd://${cluster.endpoints.join(',')}`,
        '--duration',
        '4s',
        '--faults',
        'partition',
        '--ttl',
        '2s',
        '--inject',
        'lost-writes',
      ]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/partitions past the ttl/);
      expect(r.stdout).toMatch(/not linearizable: key "register\/\d"/);
      expect(r.stdout).toContain('verdict: FAILED');
    });
  });

  it('refuses unknown faults, and partition without a network store, with a one-line error and exit 2', async () => {
    const partition = await verify(['--store', `sqlite://${join(tmp.dir, 'x.db')}`, '--faults', 'partition']);
    expect(partition.code).toBe(2);
    expect(partition.stderr).toMatch(/^tenure: --faults partition needs a network store.*\n$/);
    expect(existsSync(join(tmp.dir, 'x.db'))).toBe(false);
    const bogus = await verify(['--store', `sqlite://${join(tmp.dir, 'x.db')}`, '--faults', 'kill,melt']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain("unknown fault 'melt'");
  });
});
