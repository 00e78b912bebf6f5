/**
 * The one protocol between `tenure demo`'s orchestrator and its worker processes, used by both
 * sides: what the orchestrator tells a worker ({@link WorkerCommand}: its configuration when it
 * starts, then signals), and what a worker reports ({@link WorkerEvent}, one JSON line each on its
 * stdout). Every line a worker writes is parsed by {@link parseWorkerMessage} on receipt: one that
 * does not parse is reported as such, never trusted.
 */

/** The worker's configuration, passed as JSON in argv[2] (the `start` command). */
export interface WorkerConfig {
  readonly id: string;
  readonly store: string;
  readonly counterPath: string;
  readonly slotsPath: string;
  readonly ttlMs: number;
  /** Time between reading and writing the counter while holding the lock. */
  readonly holdMs: number;
  /** Heartbeat mesh interval. */
  readonly heartbeatMs: number;
}

/**
 * What the orchestrator tells a worker. `start` travels as the process's argument; the others as
 * signals ({@link COMMAND_SIGNALS}), because a paused process reads nothing but SIGCONT and a
 * killed one nothing at all.
 */
export type WorkerCommand =
  | { readonly cmd: 'start'; readonly config: WorkerConfig }
  /** Graceful stop: hand the slots over, close the session (leadership, lock). */
  | { readonly cmd: 'stop' }
  /** A crash: nothing is handed over; the lease expires. */
  | { readonly cmd: 'kill' }
  /** A freeze (a long GC, a VM pause): the process runs no code until `resume`. */
  | { readonly cmd: 'pause' }
  | { readonly cmd: 'resume' };

/** The signal that carries each command after `start`. */
export const COMMAND_SIGNALS = {
  stop: 'SIGTERM',
  kill: 'SIGKILL',
  pause: 'SIGSTOP',
  resume: 'SIGCONT',
} as const satisfies Record<Exclude<WorkerCommand['cmd'], 'start'>, NodeJS.Signals>;

/** What a worker reports, discriminated by `ev`. */
export type WorkerEvent =
  /** A new session (its lease). */
  | { readonly ev: 'session'; readonly lease: string }
  /** A heartbeat of its session was acknowledged `ms` after it was sent (for /metrics). */
  | { readonly ev: 'keepalive'; readonly ms: number }
  /** Joined the demo's group under that session. */
  | { readonly ev: 'member'; readonly address: string }
  /** Took the demo's lock. */
  | { readonly ev: 'lock'; readonly token: number }
  /** Read the fenced counter while holding the lock. */
  | { readonly ev: 'read'; readonly token: number; readonly value: number; readonly accepted: boolean }
  /** Wrote the fenced counter (accepted: a lock cycle; refused: a late write). */
  | {
      readonly ev: 'write';
      readonly token: number;
      readonly value: number;
      readonly accepted: boolean;
      readonly highest: number;
    }
  /** Its campaign resolved: it leads in `term`. */
  | { readonly ev: 'leader'; readonly term: number }
  /** Its leadership of `term` ended. */
  | { readonly ev: 'leader-end'; readonly term: number; readonly status: string }
  /** The per-slot resource refused a take. */
  | {
      readonly ev: 'slot-take-refused';
      readonly slot: number;
      readonly token: number;
      readonly highest: number;
    }
  /** Fenced slot writes accepted in one batch. */
  | { readonly ev: 'slot-writes'; readonly count: number }
  /** A slot write refused by the per-slot resource. */
  | {
      readonly ev: 'slot-write';
      readonly slot: number;
      readonly token: number;
      readonly accepted: boolean;
      readonly highest: number;
    }
  /** Its heartbeat mesh suspects a peer (advisory). */
  | { readonly ev: 'suspect'; readonly peer: string; readonly phi: number }
  | { readonly ev: 'recover'; readonly peer: string; readonly phi: number }
  | { readonly ev: 'error'; readonly message: string }
  /** Its session ended without being told to stop; it starts over with a new one. */
  | { readonly ev: 'session-lost'; readonly lease: string }
  /** It stopped as told. */
  | { readonly ev: 'stopped' };

/** One line of a worker's stdout: who, when (its own monotonic clock, informational), what. */
export type WorkerMessage = WorkerEvent & { readonly worker: string; readonly t: number };

type FieldType = 'string' | 'number' | 'boolean';

/** The fields of every event, beside `ev`: the validator's schema. */
const FIELDS: { readonly [E in WorkerEvent['ev']]: Readonly<Record<string, FieldType>> } = {
  session: { lease: 'string' },
  keepalive: { ms: 'number' },
  member: { address: 'string' },
  lock: { token: 'number' },
  read: { token: 'number', value: 'number', accepted: 'boolean' },
  write: { token: 'number', value: 'number', accepted: 'boolean', highest: 'number' },
  leader: { term: 'number' },
  'leader-end': { term: 'number', status: 'string' },
  'slot-take-refused': { slot: 'number', token: 'number', highest: 'number' },
  'slot-writes': { count: 'number' },
  'slot-write': { slot: 'number', token: 'number', accepted: 'boolean', highest: 'number' },
  suspect: { peer: 'string', phi: 'number' },
  recover: { peer: 'string', phi: 'number' },
  error: { message: 'string' },
  'session-lost': { lease: 'string' },
  stopped: {},
};

/** A line that is not a {@link WorkerMessage}, and why. */
export interface InvalidMessage {
  readonly invalid: string;
}

/**
 * Parses one line of a worker's stdout. Hand-written rather than a schema library: sixteen flat
 * shapes, and the package has no such dependency.
 * @returns the message, or why it is not one (not JSON, an unknown `ev`, a missing or mistyped field)
 */
export function parseWorkerMessage(line: string): WorkerMessage | InvalidMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { invalid: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { invalid: 'not an object' };
  const o = value as Record<string, unknown>;
  if (typeof o.worker !== 'string') return { invalid: 'no worker' };
  if (typeof o.t !== 'number') return { invalid: 'no time' };
  if (typeof o.ev !== 'string' || !Object.hasOwn(FIELDS, o.ev))
    return { invalid: `unknown event ${JSON.stringify(o.ev)}` };
  for (const [field, type] of Object.entries(FIELDS[o.ev as WorkerEvent['ev']]))
    if (typeof o[field] !== type || (type === 'number' && !Number.isFinite(o[field])))
      return { invalid: `${o.ev}: ${field} is not a ${type}` };
  return o as unknown as WorkerMessage;
}

/** Formats a worker's event as the line it writes (the inverse of {@link parseWorkerMessage}). */
export function formatWorkerMessage(worker: string, t: number, event: WorkerEvent): string {
  return `${JSON.stringify({ worker, t, ...event })}\n`;
}

/**
 * Parses the `start` command's configuration (argv[2]).
 * @throws Error naming the missing or mistyped field
 */
export function parseWorkerConfig(text: string | undefined): WorkerConfig {
  const o = JSON.parse(text ?? '{}') as Record<string, unknown>;
  for (const field of ['id', 'store', 'counterPath', 'slotsPath'])
    if (typeof o[field] !== 'string') throw new Error(`worker config: ${field} is not a string`);
  for (const field of ['ttlMs', 'holdMs', 'heartbeatMs'])
    if (typeof o[field] !== 'number') throw new Error(`worker config: ${field} is not a number`);
  return o as unknown as WorkerConfig;
}
