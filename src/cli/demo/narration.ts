/**
 * What the demo says while it runs, from the entries of its event log: leaders, lost sessions,
 * late writes refused (and why that is expected), suspicions, errors and crashes.
 */
import type { LogEntry } from './event-log.js';
import type { Fleet } from './fleet.js';

/** A function from each new log entry to the line to print about it, if any. */
export function narrator(fleet: Fleet): (entry: LogEntry) => string | undefined {
  // A worker that cannot start repeats its error every 200 ms: each message is said once.
  const lastError = new Map<string, string>();
  // Why a worker's write can be stale and refused, which is the fencing doing its job.
  const staleReason = (id: string) =>
    fleet.workers.get(id)?.told
      ? `expected: ${id} is stopping, and its session closed (releasing its lock and slots) mid-cycle`
      : fleet.workers.get(id)?.paused
        ? `expected: ${id} was paused past its lease, and others moved on`
        : `expected: ${id}'s session ended before its write`;
  return (entry) => {
    if (entry.kind === 'invalid')
      return `${entry.worker}: a report that does not parse (${entry.reason}), ignored: ${JSON.stringify(entry.line.slice(0, 200))}`;
    if (entry.kind === 'exited')
      return entry.crash === undefined
        ? undefined
        : `${entry.worker} CRASHED (${entry.crash})${entry.lastWords ? `: ${entry.lastWords}` : ''}`;
    if (entry.kind !== 'event') return undefined;
    const { worker, event: e } = entry;
    switch (e.ev) {
      case 'leader':
        return `${worker} leads (term ${e.term})`;
      case 'session-lost':
        return `${worker}: session lost, rejoining with a new one`;
      case 'write':
        return e.accepted
          ? undefined
          : `${worker}: late write with fencing token ${e.token} refused by the counter, which has seen token ${e.highest} (${staleReason(worker)})`;
      case 'suspect':
        // The fleet records the first suspicion of a peer before this runs: said only then.
        return fleet.suspected.get(e.peer) === entry.at
          ? `heartbeat mesh: ${worker} suspects ${e.peer} (phi ${e.phi.toFixed(1)}; advisory)`
          : undefined;
      case 'slot-write':
        return e.accepted
          ? undefined
          : `${worker}: late write to slot ${e.slot} with token ${e.token} refused by the slot resource (${staleReason(worker)})`;
      case 'error': {
        const repeated = fleet.workers.get(worker)?.joined === false && lastError.get(worker) === e.message;
        lastError.set(worker, e.message);
        return repeated ? undefined : `${worker}: ${e.message}`;
      }
      default:
        return undefined;
    }
  };
}
