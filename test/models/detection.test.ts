/**
 * The detection model against tenure's own detectors (PhiAccrualDetector, FixedTimeoutDetector)
 * fed seeded heartbeat streams: false suspicions per heartbeat (checked continuously and every C
 * ms) and the detection time of crashes at random instants. Negative controls: a model that
 * forgets the acceptable pause, and one that forgets the periodic check, must disagree.
 */
import { describe, expect, it } from 'vitest';
import type { Clock, Timer } from '../../src/clock.js';
import { FixedTimeoutDetector, PhiAccrualDetector, type FailureDetector } from '../../src/detect/index.js';
import {
  detectionModel,
  thresholdFor,
  type DetectorModel,
  type InterArrival,
} from '../../src/models/index.js';
import {
  agrees,
  meanOf,
  normalSampler,
  proportion,
  quantileOf,
  seeded,
  show,
  type Estimate,
} from './simulation.js';

/** A clock the test sets by hand; the detectors only read it. */
class SetClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
  setTimeout(): Timer {
    throw new Error('detectors set no timers');
  }
  clearTimeout(): void {}
}

const WARMUP = 10_000;

function detectorFor(model: DetectorModel, clock: Clock): FailureDetector {
  return model.kind === 'phi'
    ? new PhiAccrualDetector({
        clock,
        threshold: model.threshold,
        minStdDeviationMs: model.minStdDeviationMs,
        acceptableHeartbeatPauseMs: model.acceptableHeartbeatPauseMs,
        maxSampleSize: model.maxSampleSize,
        firstHeartbeatEstimateMs: 100,
      })
    : new FixedTimeoutDetector({ clock, timeoutMs: model.timeoutMs });
}

/**
 * Feeds `gaps` heartbeats (after a warm-up that fills the window) and counts the gaps in which the
 * detector, asked continuously (checkMs 0) or every checkMs at a random phase, said "unavailable".
 */
function falseSuspicions(
  model: DetectorModel,
  gap: () => number,
  gaps: number,
  checkMs: number,
  seed: number,
): Estimate {
  const clock = new SetClock();
  const detector = detectorFor(model, clock);
  const u = seeded(seed);
  let nextCheck = u() * checkMs;
  let hits = 0;
  detector.heartbeat();
  for (let i = 0; i < WARMUP + gaps; i++) {
    const arrival = clock.t + Math.max(0, gap());
    let suspected = false;
    if (checkMs === 0) {
      clock.t = arrival - 1e-9; // the silence just before the heartbeat lands
      suspected = !detector.isAvailable();
    } else {
      while (nextCheck < arrival) {
        clock.t = Math.max(clock.t, nextCheck);
        if (!detector.isAvailable()) suspected = true;
        nextCheck += checkMs;
      }
    }
    if (i >= WARMUP && suspected) hits++;
    clock.t = arrival;
    detector.heartbeat();
  }
  return proportion(hits, gaps);
}

/** Crashes at `crashes` uniformly random instants of a stream; returns each detection time. */
function detectionTimes(
  model: DetectorModel,
  gap: () => number,
  crashes: number,
  checkMs: number,
  seed: number,
): number[] {
  const clock = new SetClock();
  const detector = detectorFor(model, clock);
  const u = seeded(seed);
  const out: number[] = [];
  detector.heartbeat();
  for (let i = 0; i < WARMUP; i++) {
    clock.t += Math.max(0, gap());
    detector.heartbeat();
  }
  while (out.length < crashes) {
    const last = clock.t;
    const arrival = last + Math.max(0, gap());
    // One crash per gap, at a uniformly random instant of it, taken with probability ∝ gap length,
    // gives crash instants uniform in time (the age of the last heartbeat is length-biased).
    if (u() < (arrival - last) / 400) {
      const crashAt = last + u() * (arrival - last);
      const hi = firingInstant(detector, clock, last);
      let firesAt = Math.max(crashAt, hi);
      if (checkMs > 0) {
        const phase = u() * checkMs;
        firesAt = phase + Math.ceil((firesAt - phase) / checkMs) * checkMs;
      }
      out.push(firesAt - crashAt);
    }
    clock.t = arrival;
    detector.heartbeat();
  }
  return out;
}

/** The first instant after `last` at which the detector says "unavailable" (by bisection). */
function firingInstant(detector: FailureDetector, clock: SetClock, last: number): number {
  const availableAt = (t: number) => ((clock.t = t), detector.isAvailable());
  if (!availableAt(last)) return last;
  let lo = last;
  let hi = last + 1;
  while (availableAt(hi)) hi = last + 2 * (hi - last);
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    if (availableAt(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

const NORMAL: InterArrival = { kind: 'normal', meanMs: 100, stdMs: 20 };
const gapOf = (seed: number) => normalSampler(seeded(seed), 100, 20);
const PHI: DetectorModel = {
  kind: 'phi',
  threshold: 2,
  minStdDeviationMs: 1,
  acceptableHeartbeatPauseMs: 10,
  maxSampleSize: 10_000,
};

describe('detection model against the real detectors', () => {
  it('phi accrual: false suspicions per heartbeat, checked continuously and every 30 ms', () => {
    for (const checkMs of [0, 30]) {
      const predicted = detectionModel({ interArrival: NORMAL, detector: PHI, checkIntervalMs: checkMs });
      const measured = falseSuspicions(PHI, gapOf(1 + checkMs), 200_000, checkMs, 2);
      expect(
        agrees(predicted.falseSuspicionPerHeartbeat, measured),
        `C=${checkMs}: ${show(predicted.falseSuspicionPerHeartbeat, measured)}`,
      ).toBe(true);
      expect(predicted.falseSuspicionsPerHour).toBeCloseTo(
        (3_600_000 / 100) * predicted.falseSuspicionPerHeartbeat,
        6,
      );
    }
  });

  it('fixed timeout: false suspicions per heartbeat', () => {
    const fixed: DetectorModel = { kind: 'fixed', timeoutMs: 140 };
    const predicted = detectionModel({ interArrival: NORMAL, detector: fixed });
    const measured = falseSuspicions(fixed, gapOf(3), 200_000, 0, 4);
    expect(
      agrees(predicted.falseSuspicionPerHeartbeat, measured),
      show(predicted.falseSuspicionPerHeartbeat, measured),
    ).toBe(true);
  });

  it('negative controls: forgetting the acceptable pause or the periodic check disagrees', () => {
    const measured = falseSuspicions(PHI, gapOf(5), 200_000, 0, 6);
    const noPause = detectionModel({
      interArrival: NORMAL,
      detector: { ...PHI, acceptableHeartbeatPauseMs: 0 },
    });
    expect(agrees(noPause.falseSuspicionPerHeartbeat, measured)).toBe(false);
    const checked = falseSuspicions(PHI, gapOf(7), 200_000, 30, 8);
    const continuous = detectionModel({ interArrival: NORMAL, detector: PHI });
    expect(agrees(continuous.falseSuspicionPerHeartbeat, checked)).toBe(false);
  });

  it('detection time of crashes at random instants: mean, p50, p99 (phi, checked every 30 ms)', () => {
    const predicted = detectionModel({ interArrival: NORMAL, detector: PHI, checkIntervalMs: 30 }).detection;
    const times = detectionTimes(PHI, gapOf(9), 20_000, 30, 10);
    for (const [name, p, m] of [
      ['mean', predicted.meanMs, meanOf(times)],
      ['p50', predicted.p50Ms, quantileOf(times, 0.5)],
      ['p99', predicted.p99Ms, quantileOf(times, 0.99)],
    ] as const)
      expect(agrees(p, m), `${name}: ${show(p, m)}`).toBe(true);
    // Negative control: the same model without the periodic check's delay disagrees.
    const unchecked = detectionModel({ interArrival: NORMAL, detector: PHI }).detection;
    expect(agrees(unchecked.meanMs, meanOf(times)), show(unchecked.meanMs, meanOf(times))).toBe(false);
    expect(agrees(unchecked.p50Ms, quantileOf(times, 0.5))).toBe(false);
  });

  it('empirical inter-arrival samples (a bimodal stream): false suspicions of a fixed timeout', () => {
    const u = seeded(12);
    const fast = normalSampler(u, 100, 5);
    const slow = normalSampler(u, 180, 10);
    const gap = () => (u() < 0.9 ? fast() : slow());
    const samplesMs = Array.from({ length: 50_000 }, gap);
    const fixed: DetectorModel = { kind: 'fixed', timeoutMs: 185 };
    const predicted = detectionModel({ interArrival: { kind: 'empirical', samplesMs }, detector: fixed });
    const measured = falseSuspicions(fixed, gap, 200_000, 0, 13);
    expect(
      agrees(predicted.falseSuspicionPerHeartbeat, measured),
      show(predicted.falseSuspicionPerHeartbeat, measured),
    ).toBe(true);
  });

  it('samples drawn from a normal law give the predictions of the law itself (the two paths agree)', () => {
    const gap = gapOf(16);
    const samplesMs = Array.from({ length: 20_000 }, gap);
    for (const checkIntervalMs of [0, 30]) {
      const fromSamples = detectionModel({
        interArrival: { kind: 'empirical', samplesMs },
        detector: PHI,
        checkIntervalMs,
      });
      const fromLaw = detectionModel({ interArrival: NORMAL, detector: PHI, checkIntervalMs });
      expect(fromSamples.timeoutMs / fromLaw.timeoutMs).toBeCloseTo(1, 2);
      for (const key of ['meanMs', 'p50Ms', 'p99Ms'] as const)
        expect(Math.abs(fromSamples.detection[key] / fromLaw.detection[key] - 1), key).toBeLessThan(0.02);
    }
  });

  it('thresholdFor: the phi threshold it picks for 180 suspicions an hour gives that rate on the real detector', () => {
    const choice = thresholdFor({
      interArrival: NORMAL,
      targetPerHour: 180,
      phi: { minStdDeviationMs: 1, acceptableHeartbeatPauseMs: 10, maxSampleSize: 10_000 },
    });
    const model: DetectorModel = { ...PHI, threshold: choice.phiThreshold };
    const measured = falseSuspicions(model, gapOf(14), 200_000, 0, 15);
    const perHeartbeat = 180 / 36_000;
    expect(choice.falseSuspicionsPerHour).toBeCloseTo(180, 3);
    expect(agrees(perHeartbeat, measured), show(perHeartbeat, measured)).toBe(true);
  });
});
