/**
 * A store password never reaches what the CLI shows: `status` (text and --json), `watch`, the
 * dashboard's line, page title and /api/snapshot, and every error, against a real etcd with
 * authentication on. The password may also come from TENURE_STORE_PASSWORD or
 * TENURE_STORE_PASSWORD_FILE. Needs `npm run build` first.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStore } from '../../src/store/etcd/index.js';
import { DEFAULT_ETCD_NAMESPACE } from '../../src/store/open.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { startNode } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');
const PASSWORD = 'Pw-5ecret-9x';

let cluster: EtcdCluster;
let tmp: ReturnType<typeof tempDir>;
let host: string;

beforeAll(async () => {
  tmp = tempDir('tenure-secrets-');
  cluster = await EtcdCluster.start({ size: 1 });
  host = cluster.endpoints[0]!;
  // Authentication on, through etcd's JSON gateway (etcdctl is not always installed).
  for (const [path, body] of [
    ['auth/user/add', { name: 'root', password: PASSWORD }],
    ['auth/role/add', { name: 'root' }],
    ['auth/user/grant', { user: 'root', role: 'root' }],
    ['auth/enable', {}],
  ] as const) {
    const res = await fetch(`http://${host}/v3/${path}`, { method: 'POST', body: JSON.stringify(body) });
    expect(res.status).toBe(200);
  }
  const store = new EtcdStore({ endpoints: [host], username: 'root', password: PASSWORD });
  // Under the namespace etcd URLs default to, where `status` reads.
  await store.put(`${DEFAULT_ETCD_NAMESPACE}election/billing/k1`, 'node-a');
  await store.close();
});
afterAll(async () => {
  await cluster?.stop();
  tmp?.cleanup();
});

function cli(args: string[], env: Record<string, string> = {}) {
  const r = runCli(CLI, args, {
    cwd: tmp.dir,
    env: { TENURE_STORE: '', TENURE_STORE_PASSWORD: '', TENURE_STORE_PASSWORD_FILE: '', ...env },
  });
  return { ...r, all: r.stdout + r.stderr };
}

describe('the store password is never shown', () => {
  it('status, text and --json, with etcd://user:password@host', () => {
    const url = `etcd://root:${PASSWORD}@${host}`;
    const text = cli(['status', '--store', url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/billing\s+node-a/);
    expect(text.stdout).toContain(`store etcd://root:***@${host} at revision`);
    expect(text.all).not.toContain(PASSWORD);
    const json = cli(['status', '--json', '--store', url]);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { store: string }).store).toBe(`etcd://root:***@${host}`);
    expect(json.all).not.toContain(PASSWORD);
    const query = cli(['status', '--json', '--store', `etcd://${host}?username=root&password=${PASSWORD}`]);
    expect(query.code).toBe(0);
    expect(query.all).not.toContain(PASSWORD);
    expect(query.stdout).toContain('password=***');
  });

  it('TENURE_STORE_PASSWORD, TENURE_STORE_PASSWORD_FILE and ?passwordFile=', () => {
    const file = join(tmp.dir, 'password');
    writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
    for (const [args, env] of [
      [['status', '--store', `etcd://root@${host}`], { TENURE_STORE_PASSWORD: PASSWORD }],
      [['status', '--store', `etcd://root@${host}`], { TENURE_STORE_PASSWORD_FILE: file }],
      [['status', '--store', `etcd://root@${host}?passwordFile=${file}`], {}],
      [['status'], { TENURE_STORE: `etcd://root@${host}`, TENURE_STORE_PASSWORD: PASSWORD }],
    ] as const) {
      const r = cli([...args], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/billing\s+node-a/);
      expect(r.all).not.toContain(PASSWORD);
    }
    const both = cli(['status', '--store', `etcd://root@${host}`], {
      TENURE_STORE_PASSWORD: PASSWORD,
      TENURE_STORE_PASSWORD_FILE: file,
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/not both/);
  });

  it('every error: a wrong password, an unreachable store, a malformed URL, a misplaced @', () => {
    const cases = [
      ['status', '--store', `etcd://root:${PASSWORD}x@${host}`],
      ['status', '--store', `etcd://root:${PASSWORD}@127.0.0.1:1?requestTimeoutMs=500&connectTimeoutMs=200`],
      ['status', '--store', `etcd://root:${PASSWORD}@${host}/path`],
      ['status', '--store', `etcd://root:${PASSWORD}@${host}?bogus=1`],
      ['status', '--store', `etcd://root:${PASSWORD.slice(0, 3)}/${PASSWORD.slice(3)}@${host}`],
      ['status', '--store', `sqlite://root:${PASSWORD}@host/x.db`],
      ['watch', '--store', `etcd://root:${PASSWORD}x@${host}`],
      ['dashboard', '--port', '0', '--store', `etcd://root:${PASSWORD}x@${host}`],
    ];
    for (const args of cases) {
      const r = cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^tenure: /);
      expect(r.stderr).toContain('***');
      expect(r.all).not.toContain(PASSWORD.slice(3));
    }
  });

  it('watch and the dashboard: the first line, the page title and /api/snapshot', async () => {
    const url = `etcd://root:${PASSWORD}@${host}`;
    const watch = startNode(CLI, ['watch', '--store', url]);
    try {
      const line = await watch.waitFor((l) => l.startsWith('watching'));
      expect(line).toContain(`etcd://root:***@${host}`);
    } finally {
      watch.proc.kill('SIGTERM');
      await watch.exited;
    }
    expect(watch.lines.join('\n') + watch.stderr()).not.toContain(PASSWORD);

    const dashboard = startNode(CLI, ['dashboard', '--port', '0', '--store', url]);
    try {
      const line = await dashboard.waitFor((l) => l.startsWith('dashboard of'));
      expect(line).toContain(`dashboard of etcd://root:***@${host}:`);
      const page = /(http:\/\/\S+)/.exec(line)![1]!;
      const snapshot = await (await fetch(new URL('/api/snapshot', page))).text();
      expect(snapshot).not.toContain(PASSWORD);
      expect((JSON.parse(snapshot) as { title: string }).title).toBe(`etcd://root:***@${host}`);
      const html = await (await fetch(page)).text();
      expect(html).not.toContain(PASSWORD);
    } finally {
      dashboard.proc.kill('SIGTERM');
      await dashboard.exited;
    }
    expect(dashboard.lines.join('\n') + dashboard.stderr()).not.toContain(PASSWORD);
  });
});
