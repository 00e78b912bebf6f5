/**
 * A history: what clients asked of a system and what they were told, as events in the style of
 * Jepsen's histories. Each operation is an `invoke` event followed, in the same process, by one
 * completion: `ok` (it happened, with this result), `fail` (it certainly did not happen) or `info`
 * (the outcome is unknown: a timed-out write may have been applied, now or later). A process has
 * at most one operation in flight; an invoke with no completion by the end of the history is
 * treated as `info`.
 *
 * Times are milliseconds of one monotonic clock shared by every process of the history (on one
 * host, `process.hrtime`'s CLOCK_MONOTONIC; see {@link monotonicNow}). Only their order matters.
 *
 * The JSON lines form (one event per line) is documented in docs/verify.md.
 */
import { TenureError, invalidArgument } from '../errors.js';

/** The kind of a {@link HistoryEvent}. */
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

/** A process of a history: a client's id. */
export type ProcessId = string | number;

/** One event of a {@link History}. */
export interface HistoryEvent {
  /** `invoke` starts an operation; `ok`, `fail` or `info` completes the process's open one. */
  readonly type: EventType;
  /** The client that made the operation. */
  readonly process: ProcessId;
  /** The operation's name (`get`, `put`, `cas`, `acquire`, ...); a completion repeats it. */
  readonly op: string;
  /** The operation's arguments, as JSON (on the invoke; a completion may omit them). */
  readonly args?: unknown;
  /** What the operation returned (on `ok`), or why it failed (on `fail`/`info`), as JSON. */
  readonly result?: unknown;
  /** Milliseconds on the history's monotonic clock. */
  readonly time: number;
}

/** How an operation ended. */
export type OperationStatus = 'ok' | 'fail' | 'info';

/** An operation: an invoke paired with its completion. */
export interface Operation {
  /** Position of the operation in the history, by invoke (0-based): its stable id. */
  readonly index: number;
  readonly process: ProcessId;
  readonly op: string;
  readonly args: unknown;
  /** The completion's result (undefined for an operation that never completed). */
  readonly result: unknown;
  readonly status: OperationStatus;
  readonly invokeTime: number;
  /** When the completion was seen; `Infinity` for `info` (it may take effect at any later time). */
  readonly returnTime: number;
}

const TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);

/** Checks one event's shape; `where` names it in the error. */
function checkEvent(event: unknown, where: string): HistoryEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    throw invalidArgument(where, 'must be an object with type, process, op and time');
  const e = event as Record<string, unknown>;
  if (typeof e.type !== 'string' || !TYPES.has(e.type))
    throw invalidArgument(
      `${where}.type`,
      `must be one of invoke, ok, fail, info (got ${JSON.stringify(e.type)})`,
    );
  if (!(typeof e.process === 'string' || (typeof e.process === 'number' && Number.isFinite(e.process))))
    throw invalidArgument(`${where}.process`, 'must be a string or a finite number');
  if (typeof e.op !== 'string' || e.op.length === 0)
    throw invalidArgument(`${where}.op`, 'must be a non-empty string');
  if (typeof e.time !== 'number' || !Number.isFinite(e.time))
    throw invalidArgument(`${where}.time`, 'must be a finite number of milliseconds');
  const out: { -readonly [K in keyof HistoryEvent]: HistoryEvent[K] } = {
    type: e.type as EventType,
    process: e.process,
    op: e.op,
    time: e.time,
  };
  if (e.args !== undefined) out.args = e.args;
  if (e.result !== undefined) out.result = e.result;
  return out;
}

/**
 * An append-only list of {@link HistoryEvent}s, checked as they are added: a process invokes
 * only when it has no operation in flight, a completion names the operation it completes and is
 * not earlier than its invoke.
 *
 * @example
 * ```ts
 * const h = new History();
 * h.add({ type: 'invoke', process: 1, op: 'put', args: { key: 'x', value: '1' }, time: 0 });
 * h.add({ type: 'ok', process: 1, op: 'put', time: 2 });
 * const text = h.toJsonLines();
 * ```
 */
export class History {
  readonly #events: HistoryEvent[] = [];
  /** The open invoke of each process: its event. */
  readonly #open = new Map<ProcessId, HistoryEvent>();

  /** @throws TENURE_INVALID_ARGUMENT for an event that breaks the rules above. */
  constructor(events: Iterable<HistoryEvent> = []) {
    let i = 0;
    for (const e of events) this.#append(e, `events[${i++}]`);
  }

  /** The events, in the order added. */
  get events(): readonly HistoryEvent[] {
    return this.#events;
  }

  /**
   * Appends an event.
   * @throws TENURE_INVALID_ARGUMENT (naming the field) for a malformed event, a second invoke
   * while the process has one in flight, or a completion without a matching invoke.
   */
  add(event: HistoryEvent): void {
    this.#append(event, 'event');
  }

  #append(raw: unknown, where: string): void {
    const event = checkEvent(raw, where);
    const open = this.#open.get(event.process);
    if (event.type === 'invoke') {
      if (open !== undefined)
        throw invalidArgument(
          where,
          `invokes ${event.op} for process ${String(event.process)}, which still has ${open.op} in flight (one operation per process at a time)`,
        );
      this.#open.set(event.process, event);
    } else {
      if (open === undefined)
        throw invalidArgument(
          where,
          `completes ${event.op} for process ${String(event.process)}, which has no operation in flight`,
        );
      if (open.op !== event.op)
        throw invalidArgument(
          `${where}.op`,
          `is ${event.op}, but process ${String(event.process)} invoked ${open.op}`,
        );
      if (event.time < open.time)
        throw invalidArgument(`${where}.time`, `is ${event.time}, before its invoke at ${open.time}`);
      this.#open.delete(event.process);
    }
    this.#events.push(event);
  }

  /**
   * The operations, in invoke order: each invoke paired with its process's next completion. An
   * invoke never completed is an `info` operation.
   */
  operations(): Operation[] {
    const ops: Operation[] = [];
    const open = new Map<ProcessId, { index: number; event: HistoryEvent }>();
    for (const event of this.#events) {
      if (event.type === 'invoke') {
        open.set(event.process, { index: ops.length, event });
        ops.push({
          index: ops.length,
          process: event.process,
          op: event.op,
          args: event.args,
          result: undefined,
          status: 'info',
          invokeTime: event.time,
          returnTime: Infinity,
        });
        continue;
      }
      const started = open.get(event.process)!;
      open.delete(event.process);
      ops[started.index] = {
        ...ops[started.index]!,
        result: event.result,
        status: event.type as OperationStatus,
        returnTime: event.type === 'info' ? Infinity : event.time,
      };
    }
    return ops;
  }

  /** The history as JSON lines: one event per line, each ending with a newline. */
  toJsonLines(): string {
    return this.#events.map((e) => JSON.stringify(e) + '\n').join('');
  }

  /**
   * Reads JSON lines (blank lines are skipped).
   * @throws TENURE_INVALID_ARGUMENT naming the line of a line that is not JSON or not a valid event.
   */
  static fromJsonLines(text: string): History {
    const history = new History();
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (cause) {
        throw new TenureError('TENURE_INVALID_ARGUMENT', `history line ${i + 1} is not JSON`, {
          cause,
          details: { argument: `line ${i + 1}`, line: i + 1 },
        });
      }
      history.#append(parsed, `line ${i + 1}`);
    }
    return history;
  }
}

/**
 * Milliseconds on the host's CLOCK_MONOTONIC (`process.hrtime`): the same clock in every process
 * of the host, so histories recorded by several processes interleave correctly.
 */
export function monotonicNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
