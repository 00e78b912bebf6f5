/**
 * closeOnSignals counts its timeout on its `clock` option: a close that hangs holds the re-raised
 * signal back for `timeoutMs` of that clock, however much real time passes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { closeOnSignals } from '../../src/recipes/coordination/shutdown.js';
import { sleep } from '../helpers/async.js';

afterEach(() => vi.restoreAllMocks());

describe('closeOnSignals on an injected clock', () => {
  it('re-raises the signal after timeoutMs of its clock when a close hangs, not after real time', async () => {
    const clock = new ManualClock();
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    let closes = 0;
    const hanging = {
      close: () => {
        closes++;
        return new Promise<void>(() => undefined);
      },
    };
    const remove = closeOnSignals([hanging], { signals: ['SIGUSR2'], timeoutMs: 50, clock });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(closes).toBe(1);
      await sleep(200); // four times timeoutMs of real time
      expect(kill).not.toHaveBeenCalled();
      await clock.advance(49);
      expect(kill).not.toHaveBeenCalled();
      await clock.advance(1);
      expect(kill).toHaveBeenCalledWith(process.pid, 'SIGUSR2');
    } finally {
      remove();
    }
  });
});
