/**
 * Bad input to every model: a TenureError TENURE_INVALID_ARGUMENT, not retryable, naming the
 * argument in its message and in `details.argument`.
 */
import { describe, expect, it } from 'vitest';
import { TenureError } from '../../src/errors.js';
import {
  compareDeployments,
  contentionModel,
  detectionModel,
  failoverTime,
  lockThroughputBound,
  markovAvailability,
  memberAvailability,
  placementModel,
  pointsPerNodeFor,
  quorumAvailability,
  thresholdFor,
} from '../../src/models/index.js';

function rejects(call: () => unknown, argument: string): void {
  let caught: unknown;
  try {
    call();
  } catch (err) {
    caught = err;
  }
  expect(caught, argument).toBeInstanceOf(TenureError);
  const e = caught as TenureError;
  expect(e.code).toBe('TENURE_INVALID_ARGUMENT');
  expect(e.retryable).toBe(false);
  expect(e.details.argument).toBe(argument);
  expect(e.message.startsWith(argument)).toBe(true);
}

const normal = { kind: 'normal', meanMs: 100, stdMs: 10 } as const;

describe('models reject bad input with a typed error naming the argument', () => {
  it('availability', () => {
    rejects(() => quorumAvailability({ members: 3, memberAvailability: 1.2 }), 'memberAvailability');
    rejects(() => quorumAvailability({ members: 3, memberAvailability: Number.NaN }), 'memberAvailability');
    rejects(() => quorumAvailability({ members: 3, quorum: 4, memberAvailability: 0.9 }), 'quorum');
    rejects(() => quorumAvailability({ members: 0, memberAvailability: 0.9 }), 'members');
    rejects(() => quorumAvailability({ members: 2.5, memberAvailability: 0.9 }), 'members');
    rejects(() => memberAvailability(-1, 2), 'mtbfHours');
    rejects(() => markovAvailability({ members: 3, mtbfHours: 10, mttrHours: 0 }), 'mttrHours');
    rejects(
      () => markovAvailability({ members: 3, mtbfHours: 10, mttrHours: 1, repairCrews: 4 }),
      'repairCrews',
    );
    rejects(() => compareDeployments({ mtbfHours: 10, mttrHours: -1 }), 'mttrHours');
    rejects(() => quorumAvailability(null as never), 'input');
  });

  it('failover', () => {
    rejects(() => failoverTime({ stop: 'sigkill', ttlMs: -5 }), 'ttlMs');
    rejects(
      () => failoverTime({ stop: 'sigkill', ttlMs: 1000, keepAliveIntervalMs: 1000 }),
      'keepAliveIntervalMs',
    );
    rejects(() => failoverTime({ stop: 'crash' as never, ttlMs: 1000 }), 'stop');
    rejects(() => failoverTime({ stop: 'sigkill', ttlMs: 1000, store: 'redis' as never }), 'store');
    rejects(
      () => failoverTime({ stop: 'sigkill', ttlMs: 1000, watchMinMs: 10, watchMaxMs: 5 }),
      'watchMaxMs',
    );
    rejects(
      () => failoverTime({ stop: 'sigkill', ttlMs: 1000, expiryCheckIntervalMs: -1 }),
      'expiryCheckIntervalMs',
    );
  });

  it('detection', () => {
    rejects(
      () => detectionModel({ interArrival: { ...normal, stdMs: -1 }, detector: { kind: 'phi' } }),
      'interArrival.stdMs',
    );
    rejects(
      () => detectionModel({ interArrival: { ...normal, meanMs: 0 }, detector: { kind: 'phi' } }),
      'interArrival.meanMs',
    );
    rejects(
      () => detectionModel({ interArrival: normal, detector: { kind: 'phi', threshold: 0 } }),
      'detector.threshold',
    );
    rejects(
      () => detectionModel({ interArrival: normal, detector: { kind: 'fixed', timeoutMs: -1 } }),
      'detector.timeoutMs',
    );
    rejects(
      () =>
        detectionModel({ interArrival: { kind: 'empirical', samplesMs: [5] }, detector: { kind: 'phi' } }),
      'interArrival.samplesMs',
    );
    rejects(
      () =>
        detectionModel({
          interArrival: { kind: 'empirical', samplesMs: [5, -1] },
          detector: { kind: 'phi' },
        }),
      'interArrival.samplesMs[1]',
    );
    rejects(
      () => detectionModel({ interArrival: normal, detector: { kind: 'phi' }, checkIntervalMs: -1 }),
      'checkIntervalMs',
    );
    rejects(() => thresholdFor({ interArrival: normal, targetPerHour: 0 }), 'targetPerHour');
    rejects(() => thresholdFor({ interArrival: normal, targetPerHour: 1e9 }), 'targetPerHour');
  });

  it('placement', () => {
    rejects(() => placementModel({ algorithm: 'chord' as never, members: 3 }), 'algorithm');
    rejects(() => placementModel({ algorithm: 'ring', members: 0 }), 'members');
    rejects(() => placementModel({ algorithm: 'ring', members: 3, keys: 0 }), 'keys');
    rejects(() => placementModel({ algorithm: 'ring', members: 3, pointsPerNode: 0 }), 'pointsPerNode');
    rejects(() => placementModel({ algorithm: 'maglev', members: 30, tableSize: 7 }), 'tableSize');
    rejects(() => placementModel({ algorithm: 'bounded', members: 3, epsilon: 0 }), 'epsilon');
    rejects(() => pointsPerNodeFor({ members: 3, target: 1 }), 'target');
  });

  it('contention', () => {
    rejects(
      () => contentionModel({ arrivalsPerSecond: -1, hold: { kind: 'constant', ms: 1 } }),
      'arrivalsPerSecond',
    );
    rejects(() => contentionModel({ arrivalsPerSecond: 1, hold: { kind: 'constant', ms: 0 } }), 'hold.ms');
    rejects(
      () => contentionModel({ arrivalsPerSecond: 1, hold: { kind: 'general', meanMs: 1, cv: -1 } }),
      'hold.cv',
    );
    rejects(
      () => contentionModel({ arrivalsPerSecond: 1, hold: { kind: 'empirical', samplesMs: [] } }),
      'hold.samplesMs',
    );
    rejects(
      () => contentionModel({ arrivalsPerSecond: 1, hold: { kind: 'constant', ms: 1 }, handoffMs: -1 }),
      'handoffMs',
    );
    rejects(() => lockThroughputBound({ holdMs: 1, storeWriteMs: -1, watchDeliveryMs: 0 }), 'storeWriteMs');
  });
});
