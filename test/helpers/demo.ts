/** `tenure demo --json` run to its end through the built CLI (needs `npm run build` first). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';

/** The built CLI's entry point. */
export const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');

/** The demo's JSON report, as far as the tests read it. */
export interface DemoReport {
  ok: boolean;
  ttlMs: number;
  ttlNote: string;
  elapsedMs: number;
  bounds: { runMs: number; failoverMs: number };
  failovers: { cause: string; ms?: number; toTerm?: number; fromTerm: number }[];
  leaderships: number;
  staleWritesRejected: number;
  lockCycles: number;
  counter: { value: number };
  checks: { name: string; ok: boolean; detail: string; kind: 'safety' | 'liveness' }[];
  slotCount: number;
  slotChanges: { cause: string; moved: number; ideal: number; ms?: number }[];
  slots: { takes: number; writes: number; staleAccepted: number; liveDoubleOwners: number };
}

/** Runs `tenure demo --no-dashboard --json ...args` to its end; resolves with its exit code and output. */
export function runDemo(
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const demo = spawn(process.execPath, [CLI, 'demo', '--no-dashboard', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  demo.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    demo.on('exit', (status) => resolve({ status, stdout, stderr, ms: performance.now() - started })),
  );
}

/**
 * Runs a demo of three workers on `storeUrl` and checks that every check held, that it exited 0,
 * had leaders and lock cycles, and never printed `secret`.
 */
export async function expectDemoPasses(storeUrl: string, duration: string, secret: string): Promise<void> {
  const r = await runDemo(['--store', storeUrl, '--workers', '3', '--duration', duration]);
  const report = JSON.parse(r.stdout) as DemoReport;
  expect(
    report.checks.filter((c) => !c.ok),
    r.stderr,
  ).toEqual([]);
  expect(r.status).toBe(0);
  expect(report.leaderships).toBeGreaterThanOrEqual(3);
  expect(report.lockCycles).toBeGreaterThan(0);
  expect(r.stdout + r.stderr).not.toContain(secret);
}
