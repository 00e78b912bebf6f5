/**
 * Every error tenure throws is a {@link TenureError} with a stable {@link TenureErrorCode}.
 * Match on `code`, never on the message text: messages may be reworded, codes will not change.
 * One code means one thing.
 *
 * `retryable` means one thing everywhere: **the same call, with the same arguments, may succeed if
 * made again** (after a pause; nothing needs to change but time). It is decided by the code:
 * - retryable: TENURE_UNAVAILABLE (the store could not be reached, did not answer, or was busy),
 *   TENURE_TIMEOUT, TENURE_LOCK_BUSY, TENURE_MEMBER_EXISTS (the other holder may go away);
 * - final: everything else, in particular TENURE_STORE_UNUSABLE, the code for a store that cannot
 *   be used as configured (a missing file or folder, a path that is not a folder, no permission,
 *   wrong credentials): retrying unchanged fails the same way, the configuration must change.
 *
 * The rule for a store failure is therefore: if waiting can fix it, TENURE_UNAVAILABLE; if only a
 * person can, TENURE_STORE_UNUSABLE (or TENURE_CORRUPT / TENURE_STORE_REPLACED for the data).
 * TENURE_UNAVAILABLE is never created with `retryable: false`.
 */

/** Stable error codes. */
export type TenureErrorCode =
  /** A public argument or option is out of range or of the wrong type. Fix the call. */
  | 'TENURE_INVALID_ARGUMENT'
  /** A store URL could not be parsed or names a scheme tenure does not know. */
  | 'TENURE_INVALID_URL'
  /**
   * The object (store, session, lock, ...) was closed; it cannot be used again. As the reason a
   * signal aborted with, it means an orderly end by this process: a ShardManager slot's signal
   * says which in `details.reason` (`'handover'`: the table gave the slot to another member;
   * `'closed'`: the manager was closed).
   */
  | 'TENURE_CLOSED'
  /** The lease does not exist (never granted, revoked or expired). */
  | 'TENURE_LEASE_NOT_FOUND'
  /** A watch asked for revisions the store no longer retains. Re-read and watch from now. */
  | 'TENURE_COMPACTED'
  /**
   * The store could not be reached, did not answer in time, or was busy. Always retryable: the
   * same call may succeed later. (A store that cannot work until its configuration changes is
   * TENURE_STORE_UNUSABLE.)
   */
  | 'TENURE_UNAVAILABLE'
  /**
   * The store cannot be used as configured, and retrying the same call will fail the same way:
   * the SQLite file or its folder is missing (and may not be created), a path is not a folder,
   * the process lacks permission, or etcd refused the credentials or the request. The message says
   * what to change; `details.path` names the file where there is one. Not retryable.
   */
  | 'TENURE_STORE_UNUSABLE'
  /** A `timeoutMs` given by the caller elapsed. */
  | 'TENURE_TIMEOUT'
  /** The caller's AbortSignal aborted (its reason is the `cause`). */
  | 'TENURE_ABORTED'
  /** The session's lease expired or was revoked: everything held under it is lost. */
  | 'TENURE_SESSION_EXPIRED'
  /** A lock or permit held under a session was lost (session expired, key deleted). */
  | 'TENURE_LOCK_LOST'
  /** An operation that needs leadership was called by a process that does not lead. */
  | 'TENURE_NOT_LEADER'
  /** A lock was not free and the caller asked not to wait. */
  | 'TENURE_LOCK_BUSY'
  /**
   * `Membership.join` found a live member with the same id in the group (another process, or this
   * one's previous session whose lease has not expired yet). Retryable: the same join succeeds
   * once that member has left or its lease expired; or pick another id. `details`: `id`, `group`,
   * `lease` (the holder's).
   */
  | 'TENURE_MEMBER_EXISTS'
  /**
   * A ShardManager slot this member owned was lost without being released: its key was deleted
   * (by hand, or by a store restored from an older copy). The slot's signal aborts with it; stop
   * acting on the slot at once. (A session that expired aborts slots with
   * TENURE_SESSION_EXPIRED; a routine handover or close aborts them with TENURE_CLOSED and
   * `details.reason` `'handover'` or `'closed'`.) `details`: `slot`, `group`.
   */
  | 'TENURE_SLOT_LOST'
  /**
   * `Member.update` was called on a member that is no longer one: it left (`close()`), its
   * session expired, or its key was deleted or belongs to a later join of the id. Join again to
   * be a member. `details`: `id`, `status` (the member's: `released`, `lost`, or `held`
   * when the store showed the key gone before this process noticed).
   */
  | 'TENURE_MEMBER_LOST'
  /**
   * The stored data is not what this version of tenure understands, is damaged (a corrupted
   * page, a file that is not a database), or has run out of revisions.
   */
  | 'TENURE_CORRUPT'
  /**
   * The store's file was deleted, replaced, truncated or restored from an older copy while this
   * process had it open: nothing read from it or held in it (leases, locks) counts any more. Open
   * the store again.
   */
  | 'TENURE_STORE_REPLACED';

const RETRYABLE: ReadonlySet<TenureErrorCode> = new Set([
  'TENURE_UNAVAILABLE',
  'TENURE_TIMEOUT',
  'TENURE_LOCK_BUSY',
  'TENURE_MEMBER_EXISTS',
]);

/** Options for {@link TenureError}. */
export interface TenureErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Override whether retrying can succeed. Defaults by code. */
  retryable?: boolean;
  /** Structured facts about the failure (the bad argument's name, a revision, ...). */
  details?: Record<string, unknown>;
}

/**
 * The one error class of tenure.
 *
 * @example
 * ```ts
 * try { await store.keepAlive(id) } catch (err) {
 *   if (err instanceof TenureError && err.code === 'TENURE_LEASE_NOT_FOUND') restart();
 * }
 * ```
 */
export class TenureError extends Error {
  override readonly name = 'TenureError';
  /** Stable code: match on this. */
  readonly code: TenureErrorCode;
  /**
   * Whether the same call, unchanged, may succeed if made again (see the module's header: set by
   * the code; TENURE_UNAVAILABLE, TENURE_TIMEOUT, TENURE_LOCK_BUSY and TENURE_MEMBER_EXISTS are).
   */
  readonly retryable: boolean;
  /** Structured facts about the failure. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: TenureErrorCode, message: string, options: TenureErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    this.details = Object.freeze({ ...options.details });
  }
}

/** True when `err` is a {@link TenureError}, optionally with the given code. */
export function isTenureError(err: unknown, code?: TenureErrorCode): err is TenureError {
  return err instanceof TenureError && (code === undefined || err.code === code);
}

/** A TENURE_INVALID_ARGUMENT error naming the argument and what is accepted. */
export function invalidArgument(
  name: string,
  problem: string,
  details: Record<string, unknown> = {},
): TenureError {
  return new TenureError('TENURE_INVALID_ARGUMENT', `${name} ${problem}`, {
    details: { argument: name, ...details },
  });
}

/** The error a waiting call rejects with when its signal aborts: `signal.reason` wrapped with a code. */
export function abortedError(signal: AbortSignal, what: string): TenureError {
  const reason: unknown = signal.reason;
  if (reason instanceof TenureError) return reason;
  return new TenureError('TENURE_ABORTED', `${what} was aborted by its signal`, { cause: reason });
}
