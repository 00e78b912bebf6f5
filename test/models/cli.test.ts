/**
 * `tenure model` as a real process (the built CLI): tables, --json equal to the library's
 * numbers, an SVG, and every kind of bad flag reported in one line with exit code 2, naming the
 * flag. Needs `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runModel } from '../../src/cli/model.js';
import { compareDeployments, failoverTime } from '../../src/models/index.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');
const tmp = tempDir('tenure-model-cli-');
afterAll(() => tmp.cleanup());

/** `tenure model ARGS` in this process (for the many error cases): exit code and output. */
async function inProcess(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const out = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    return { code: await runModel(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

function model(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'model', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tenure model', () => {
  it('availability: the SQLite / etcd comparison as a table, and as JSON equal to the library', () => {
    const table = model('availability', '--mtbf', '2000', '--mttr', '4');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/sqlite \(1 host\)\s+1 of 1/);
    expect(table.stdout).toMatch(/etcd 5 members\s+3 of 5/);
    const json = model('availability', '--mtbf', '2000', '--mttr', '4', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(
      JSON.parse(JSON.stringify(compareDeployments({ mtbfHours: 2000, mttrHours: 4 }))),
    );
  });

  it('failover: JSON equal to the library, and an SVG of the distribution', () => {
    const svg = join(tmp.dir, 'failover.svg');
    const r = model('failover', '--ttl', '1s', '--stop', 'sigkill', '--json', '--svg', svg);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0].p99Ms).toBeCloseTo(
      failoverTime({ stop: 'sigkill', ttlMs: 1000 }).p99Ms,
      9,
    );
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
  });

  it('detector: a table of thresholds and the chart of detection time against false suspicions', () => {
    const svg = join(tmp.dir, 'detector.svg');
    const r = model('detector', '--interval', '100ms', '--jitter', '20ms', '--pause', '0', '--svg', svg);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('phi '))).toHaveLength(10);
    const text = readFileSync(svg, 'utf8');
    expect(text.match(/<circle/g)).toHaveLength(20); // p50 and p99 for ten thresholds
    expect(text).toContain('phi 8');
    // Nothing to plot on a log scale: a clear error, and no file.
    const none = join(tmp.dir, 'none.svg');
    const empty = model('detector', '--svg', none);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^tenure: --svg: /);
    expect(existsSync(none)).toBe(false);
  });

  it('detector --samples: measured intervals from a file (JSON array or one per line)', () => {
    const json = join(tmp.dir, 'samples.json');
    const lines = join(tmp.dir, 'samples.txt');
    const samples = Array.from({ length: 400 }, (_, i) => 90 + (i % 21));
    writeFileSync(json, JSON.stringify(samples));
    writeFileSync(lines, samples.join('\n'));
    const a = model(
      'detector',
      '--samples',
      json,
      '--detector',
      'fixed',
      '--timeout',
      '105ms',
      '--check',
      '0',
      '--json',
    );
    const b = model(
      'detector',
      '--samples',
      lines,
      '--detector',
      'fixed',
      '--timeout',
      '105ms',
      '--check',
      '0',
      '--json',
    );
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    // 5 of every 21 samples (106..110) exceed 105 ms.
    expect(JSON.parse(a.stdout)[0].falseSuspicionPerHeartbeat).toBeCloseTo(5 / 21, 2);
    const bad = join(tmp.dir, 'bad.txt');
    writeFileSync(bad, '12 x 30');
    const r = model('detector', '--samples', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tenure: --samples: /);
  });

  it('detector --target, placement --target and contention: tables', () => {
    const t = model(
      'detector',
      '--interval',
      '100ms',
      '--jitter',
      '20ms',
      '--pause',
      '0',
      '--target',
      '1',
      '--json',
    );
    expect(t.code).toBe(0);
    expect(JSON.parse(t.stdout).falseSuspicionsPerHour).toBeLessThanOrEqual(1);
    const p = model('placement', '--members', '20', '--target', '1.1');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/ring points per member for peak\/average ≤ 1.1: \d+/);
    const c = model('contention', '--rate', '5,200', '--hold', '10ms');
    expect(c.code).toBe(0);
    expect(c.stdout).toContain('(saturated)');
  });

  it('bad flags: exit 2, one line naming the flag (as a process, and in process for every kind)', async () => {
    const proc = model('availability', '--members', '3', '--quorum', '4');
    expect(proc.code).toBe(2);
    expect(proc.stderr).toBe('tenure: --quorum: quorum must be at most members (3), got 4\n');
    for (const [args, flag] of [
      [['availability', '--members', '3', '--quorum', '4'], '--quorum'],
      [['availability', '--availability', '1.5'], '--availability'],
      [['availability', '--mttr', '-1'], '--mttr'],
      [['failover', '--ttl', 'soon'], '--ttl'],
      [['failover', '--ttl', '2s', '--keepalive', '3s'], '--keepalive'],
      [['failover', '--watch-min', '20', '--watch-max', '5'], '--watch-max'],
      [['detector', '--threshold', '0'], '--threshold'],
      [['detector', '--detector', 'fixed', '--threshold', '3'], '--threshold'],
      [['placement', '--members', '0'], '--members'],
      [['placement', '--algorithm', 'chord'], '--algorithm'],
      [['contention', '--rate', '-1'], '--rate'],
      [['contention', '--bogus'], '--bogus'],
    ] as const) {
      const r = await inProcess(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toContain(flag);
      expect(r.stdout).toBe('');
    }
  });
});
