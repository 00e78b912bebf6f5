import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { FixedTimeoutDetector } from '../../src/detect/fixed-timeout.js';
import { PHI_ACCRUAL_DEFAULTS, PhiAccrualDetector } from '../../src/detect/phi-accrual.js';
import { codeOf } from '../helpers/async.js';

/**
 * Q(y) = P(Z > y) by Simpson's rule over the normal density: an independent computation (no
 * series, no continued fraction) of what the detector computes.
 */
function upperTail(y: number): number {
  const pdf = (z: number) => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
  const a = y;
  const b = Math.max(y, 0) + 14;
  const n = 200_000;
  const h = (b - a) / n;
  let s = pdf(a) + pdf(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * pdf(a + i * h);
  return (s * h) / 3;
}

function expectedPhi(intervals: number[], elapsed: number, pause: number, minStd: number): number {
  const mean = intervals.reduce((s, x) => s + x, 0) / intervals.length;
  const variance = intervals.reduce((s, x) => s + (x - mean) ** 2, 0) / intervals.length;
  const std = Math.max(Math.sqrt(variance), minStd);
  return -Math.log10(upperTail((elapsed - (mean + pause)) / std));
}

/** Feeds heartbeats at the given gaps after a first one at t = 0; returns the detector and clock. */
async function feed(gaps: number[], options: ConstructorParameters<typeof PhiAccrualDetector>[0] = {}) {
  const clock = new ManualClock();
  const d = new PhiAccrualDetector({ ...options, clock });
  d.heartbeat();
  for (const g of gaps) {
    await clock.advance(g);
    d.heartbeat();
  }
  return { d, clock };
}

describe('PhiAccrualDetector', () => {
  it('has Akka’s defaults', () => {
    expect(PHI_ACCRUAL_DEFAULTS).toEqual({
      threshold: 8,
      maxSampleSize: 1000,
      minStdDeviationMs: 100,
      acceptableHeartbeatPauseMs: 3000,
      firstHeartbeatEstimateMs: 1000,
    });
  });

  it('is 0 and available before the first heartbeat', () => {
    const d = new PhiAccrualDetector({ clock: new ManualClock() });
    expect(d.phi()).toBe(0);
    expect(d.isAvailable()).toBe(true);
  });

  it('matches the normal-CDF formula on a jittery arrival sequence (defaults)', async () => {
    const gaps = [1010, 990, 1200, 850, 1000, 1100, 930, 1040, 960, 1500, 700, 1020];
    const { d, clock } = await feed(gaps);
    const window = [750, 1250, ...gaps]; // the two seeded samples, then the measured ones
    for (const silence of [0, 500, 2000, 3500, 4000, 4500, 5000, 6000]) {
      const phi = d.phi(clock.now() + silence);
      const expected = expectedPhi(window, silence, 3000, 100);
      expect(phi).toBeCloseTo(expected, 5);
    }
  });

  it('matches the formula with a tight window (std floor) and no pause, far into the tail', async () => {
    const gaps = Array.from({ length: 50 }, (_, i) => 100 + (i % 3) - 1); // 99,100,101,...
    const opts = { acceptableHeartbeatPauseMs: 0, minStdDeviationMs: 20, firstHeartbeatEstimateMs: 100 };
    const { d, clock } = await feed(gaps, opts);
    const window = [75, 125, ...gaps];
    for (const silence of [50, 100, 150, 180, 200, 220]) {
      expect(d.phi(clock.now() + silence)).toBeCloseTo(expectedPhi(window, silence, 0, 20), 4);
    }
    // Beyond where Q underflows a double, phi stays finite and keeps increasing.
    const far = [2000, 5000, 50_000].map((s) => d.phi(clock.now() + s));
    expect(far.every(Number.isFinite)).toBe(true);
    expect(far[0]!).toBeLessThan(far[1]!);
    expect(far[1]!).toBeLessThan(far[2]!);
  });

  it('crosses the threshold when the formula says so (and not before)', async () => {
    const gaps = Array.from({ length: 30 }, () => 1000);
    const { d, clock } = await feed(gaps);
    const window = [750, 1250, ...gaps];
    // Find, independently, the first whole millisecond of silence at which phi ≥ 8.
    // (bisection over whole milliseconds: phi is increasing in the silence)
    let lo = 0;
    let hi = 60_000;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (expectedPhi(window, mid, 3000, 100) < 8) lo = mid;
      else hi = mid;
    }
    const crossing = hi;
    await clock.advance(crossing - 1);
    expect(d.isAvailable()).toBe(true);
    await clock.advance(1);
    expect(d.isAvailable()).toBe(false);
    // A heartbeat makes the peer available again.
    d.heartbeat();
    expect(d.isAvailable()).toBe(true);
  });

  it('forgets samples beyond maxSampleSize', async () => {
    const { d } = await feed([5000, 5000, 5000, 100, 100, 100], { maxSampleSize: 3 });
    expect(d.sampleCount).toBe(3);
    expect(d.meanMs).toBeCloseTo(100, 9);
    expect(d.stdDeviationMs).toBeCloseTo(0, 5);
  });

  it('validates options, naming the option', async () => {
    expect(await codeOf(() => new PhiAccrualDetector({ threshold: 0 }))).toBe('TENURE_INVALID_ARGUMENT');
    expect(() => new PhiAccrualDetector({ maxSampleSize: 1 })).toThrow(/options\.maxSampleSize/);
    expect(() => new PhiAccrualDetector({ minStdDeviationMs: -1 })).toThrow(/options\.minStdDeviationMs/);
    expect(() => new PhiAccrualDetector({ acceptableHeartbeatPauseMs: Number.NaN })).toThrow(
      /acceptableHeartbeatPauseMs/,
    );
    expect(() => new PhiAccrualDetector({ firstHeartbeatEstimateMs: 0 })).toThrow(/firstHeartbeatEstimateMs/);
  });
});

describe('FixedTimeoutDetector', () => {
  it('suspects exactly at the timeout', async () => {
    const clock = new ManualClock();
    const d = new FixedTimeoutDetector({ timeoutMs: 500, clock });
    expect(d.isAvailable()).toBe(true);
    d.heartbeat();
    await clock.advance(499);
    expect(d.isAvailable()).toBe(true);
    expect(d.suspicion()).toBeCloseTo(0.998, 9);
    await clock.advance(1);
    expect(d.isAvailable()).toBe(false);
    d.heartbeat();
    expect(d.isAvailable()).toBe(true);
    expect(d.lastHeartbeatAt).toBe(500);
  });

  it('validates timeoutMs', async () => {
    expect(await codeOf(() => new FixedTimeoutDetector({ timeoutMs: 0 }))).toBe('TENURE_INVALID_ARGUMENT');
    expect(() => new FixedTimeoutDetector({ timeoutMs: Infinity })).toThrow(/options\.timeoutMs/);
  });
});
