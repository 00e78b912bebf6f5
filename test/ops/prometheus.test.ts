/**
 * The shipped operations files (ops/) against Debian's real Prometheus: the alert rules pass
 * `promtool check rules` and their unit tests (`promtool test rules`), every metric the rules and
 * the Grafana dashboard query is one tenure exports, a live scrape of `tenure demo` passes
 * `promtool check metrics`, and a Prometheus server scraping the demo fires
 * TenureLeaderUnresponsive when the demo kills the leader, and clears it once a successor leads.
 * Each check has its negative control: a broken or weakened copy of the rules must fail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/async.js';
import { freePort } from '../helpers/etcd-cluster.js';
import { startNode, type Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '..', '..');
const RULES = join(root, 'ops/prometheus/tenure-alerts.yml');
const RULE_TESTS = join(root, 'ops/prometheus/tenure-alerts.test.yml');
const GRAFANA = join(root, 'ops/grafana/tenure-fleet.json');
const CLI = join(root, 'dist/pkg/cli.cjs');

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The rules and their unit tests copied to a temp dir, the rules changed by `edit`. */
function editedRules(edit: (rules: string) => string): { rules: string; tests: string } {
  const tmp = tempDir('tenure-rules-');
  cleanups.push(() => tmp.cleanup());
  const original = readFileSync(RULES, 'utf8');
  const changed = edit(original);
  expect(changed, 'the edit changed the rules').not.toBe(original);
  const rules = join(tmp.dir, 'tenure-alerts.yml');
  writeFileSync(rules, changed);
  const tests = join(tmp.dir, 'tenure-alerts.test.yml');
  copyFileSync(RULE_TESTS, tests);
  return { rules, tests };
}

/** Every tenure metric a PromQL text names, as exported (histogram series by their family name). */
function metricNamesIn(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\btenure_[a-z_]+/g)) names.add(m[0].replace(/_(bucket|count|sum)$/, ''));
  return names;
}

/** The metric families of a Prometheus text exposition (its `# TYPE` lines). */
function familiesIn(exposition: string): Set<string> {
  return new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

describe('ops/prometheus rules', () => {
  it('pass promtool check rules; a rule with a broken expression does not', () => {
    const ok = promtool('check', 'rules', RULES);
    expect(ok.out).toContain('SUCCESS: 6 rules found');
    expect(ok.status).toBe(0);
    const broken = editedRules((r) =>
      r.replace('expr: tenure_group_slots_unowned > 0', 'expr: tenure_group_slots_unowned >'),
    );
    expect(promtool('check', 'rules', broken.rules).status).not.toBe(0);
  });

  it('pass their unit tests; weakened thresholds fail them', () => {
    const ok = promtool('test', 'rules', RULE_TESTS);
    expect(ok.out).toContain('SUCCESS');
    expect(ok.status).toBe(0);
    for (const edit of [
      (r: string) =>
        r.replace(
          'tenure_election_leaderless_seconds > 2 * tenure_election_ttl_seconds',
          'tenure_election_leaderless_seconds > 4 * tenure_election_ttl_seconds',
        ),
      (r: string) =>
        r.replace(
          'expr: tenure_election_leaderless_seconds > 0',
          'expr: tenure_election_leaderless_seconds > 10',
        ),
      (r: string) => r.replace('departure="expired"}[10m]', 'departure="let-go"}[10m]'),
      (r: string) => r.replace('for: 2m', 'for: 0m'),
      (r: string) =>
        r.replace(
          'tenure_election_last_failover_seconds > 2 *',
          'tenure_election_last_failover_seconds > 3 *',
        ),
      (r: string) => r.replace('[5m])))\n          > 10', '[5m])))\n          > 60'),
    ]) {
      const weak = editedRules(edit);
      const r = promtool('test', 'rules', weak.tests);
      expect(r.status, r.out).not.toBe(0);
    }
  });
});

describe('ops against a running demo', () => {
  it('a live scrape passes promtool check metrics and has every metric the rules and the Grafana dashboard use', async () => {
    const port = await freePort();
    const demo = startDemo(port, '16s');
    const exposition = await scrapeWhen(port, (text) =>
      /^tenure_fleet_lock_wait_seconds_count\{/m.test(text),
    );
    const check = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.status).toBe(0);
    const families = familiesIn(exposition);
    const used = new Set([
      ...metricNamesIn(readFileSync(RULES, 'utf8')),
      ...metricNamesIn(readFileSync(GRAFANA, 'utf8')),
    ]);
    expect(used.size).toBeGreaterThan(15);
    const missing = [...used].filter((name) => !families.has(name));
    expect(missing).toEqual([]);
    // The check's negative control: a name the fleet does not export is reported.
    expect(
      [...metricNamesIn('rate(tenure_no_such_metric_total[5m])')].filter((n) => !families.has(n)),
    ).toEqual(['tenure_no_such_metric_total']);
    // A scrape with a broken exposition fails promtool (so the check above can fail).
    const bad = spawnSync('promtool', ['check', 'metrics'], {
      input: '# TYPE tenure_x counter\ntenure_x{a="1"} 1\n',
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
    demo.proc.kill('SIGINT');
    await demo.exited;
  }, 60_000);

  it('Prometheus fires TenureLeaderUnresponsive when the demo kills the leader, and clears it after', async () => {
    const tmp = tempDir('tenure-prometheus-');
    cleanups.push(() => tmp.cleanup());
    const demoPort = await freePort();
    const promPort = await freePort();
    const config = join(tmp.dir, 'prometheus.yml');
    // Scraped and evaluated every 100 ms: the demo's leaderless window is about a third of its 2 s ttl.
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 100ms',
        '  scrape_timeout: 100ms',
        '  evaluation_interval: 100ms',
        'rule_files:',
        `  - ${JSON.stringify(RULES)}`,
        'scrape_configs:',
        '  - job_name: tenure',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${demoPort}']`,
        '',
      ].join('\n'),
    );
    const prometheus = startPrometheus(config, join(tmp.dir, 'data'), promPort);
    const api = `http://127.0.0.1:${promPort}`;
    await until(async () => (await fetch(`${api}/-/ready`).catch(() => undefined))?.ok === true, 30_000);

    const demo = startDemo(demoPort, '24s');
    type Alert = { labels: Record<string, string>; state: string };
    const alerts = async (): Promise<Alert[]> => {
      const r = await fetch(`${api}/api/v1/alerts`);
      return ((await r.json()) as { data: { alerts: Alert[] } }).data.alerts;
    };
    const firing = (list: Alert[], name: string) =>
      list.some(
        (a) => a.labels.alertname === name && a.labels.election === 'demo-leader' && a.state === 'firing',
      );
    // Prometheus scrapes the demo before the fault: the rules have data to evaluate.
    await until(async () => {
      const r = await fetch(
        `${api}/api/v1/query?query=${encodeURIComponent('tenure_election_leaderless_seconds')}`,
      );
      const body = (await r.json()) as { data: { result: unknown[] } };
      return body.data.result.length > 0;
    }, 30_000);
    let firedBeforeKill = false;
    let killedAt = -1;
    let firedAt = -1;
    let clearedAt = -1;
    let noLeaderFired = false;
    const t0 = performance.now();
    while (performance.now() - t0 < 30_000 && clearedAt < 0) {
      const list = await alerts();
      const killed = demo.lines.some((l) => l.includes('fault: SIGKILL of the leader'));
      if (killed && killedAt < 0) killedAt = performance.now();
      const now = firing(list, 'TenureLeaderUnresponsive');
      if (now && !killed) firedBeforeKill = true;
      if (now && killed && firedAt < 0) firedAt = performance.now();
      if (!now && firedAt >= 0) clearedAt = performance.now();
      if (firing(list, 'TenureNoLeader')) noLeaderFired = true;
      await sleep(50);
    }
    expect(firedBeforeKill, 'no alert while the leader is healthy').toBe(false);
    expect(killedAt, `the demo killed its leader:\n${demo.lines.join('\n')}`).toBeGreaterThan(0);
    expect(firedAt, 'the alert fired after the kill').toBeGreaterThan(0);
    expect(clearedAt, 'the alert cleared once a successor led').toBeGreaterThan(firedAt);
    // The successor took over within two ttls: the critical alert stayed silent.
    expect(noLeaderFired).toBe(false);
    // Cleared while the demo still runs (its target up): cleared by a new leader, not by silence.
    expect(demo.lines.some((l) => l.includes('Verdict'))).toBe(false);
    demo.proc.kill('SIGINT');
    await demo.exited;
    prometheus.kill('SIGTERM');
  }, 120_000);
});

function startDemo(port: number, duration: string): Child {
  const demo = startNode(CLI, [
    'demo',
    '--workers',
    '3',
    '--ttl',
    '2s',
    '--duration',
    duration,
    '--port',
    String(port),
  ]);
  cleanups.push(() => {
    if (demo.proc.exitCode === null && demo.proc.signalCode === null) demo.proc.kill('SIGINT');
    return demo.exited;
  });
  return demo;
}

function startPrometheus(config: string, data: string, port: number): ChildProcess {
  const proc = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${data}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  );
  return proc;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** The demo's /metrics once `ready` holds for it. */
async function scrapeWhen(port: number, ready: (text: string) => boolean): Promise<string> {
  let text = '';
  await until(async () => {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    text = await r.text();
    return r.ok && ready(text);
  }, 40_000);
  return text;
}
