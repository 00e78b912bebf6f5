/**
 * How a SQLite store learns that another process committed, and its one timer.
 *
 * A commit of this process wakes its watchers directly (index.ts). A commit of another process is
 * seen here: the kernel reports a change to the WAL file (inotify: every commit writes to it), and
 * `PRAGMA data_version` (a counter SQLite bumps when another connection commits) confirms it before
 * the watchers are woken; they then read the change log from their last revision on. A write whose
 * commit is not visible yet is looked at again within a millisecond (see #onWalWrite). Where change
 * notifications are unavailable, the ticker polls `data_version` instead: every `pollIntervalMs`
 * while changes flow, every `idlePollIntervalMs` after a quiet second.
 *
 * The same timer runs the store's periodic checks (a swapped file, expired leases) every
 * `reapIntervalMs`, so an open store has one timer, on the injected clock. It keeps the process
 * alive only while watches are open (a watch is awaited work).
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Clock, Timer } from '../../clock.js';

/** What the notifier needs of its store. */
export interface ChangeNotifierOptions {
  /** The clock the timer runs on. */
  readonly clock: Clock;
  /** The database file's path; `:memory:` has no WAL file to watch. */
  readonly path: string;
  /** Polling interval while changes flow and no change notifications are available. */
  readonly pollIntervalMs: number;
  /** Polling interval after a quiet second without change notifications. */
  readonly idlePollIntervalMs: number;
  /** The interval of the store's periodic checks, and of the timer while nothing is watched. */
  readonly reapIntervalMs: number;
  /** Reads `PRAGMA data_version` (throws on a busy or closing file). */
  dataVersion(): number;
  /** How many watches are open in this process. */
  watchers(): number;
  /** Whether the store was closed. */
  isClosed(): boolean;
  /** Wakes this process's watchers. */
  notify(): void;
  /** Runs on every tick, before polling: the cheap checks (has the file been swapped?). */
  onTick(): void;
  /** Runs at most once every `reapIntervalMs`, after polling: reaping expired leases. */
  onReapDue(): void;
}

/** Change notification and the periodic timer of one SQLite store. */
export class ChangeNotifier {
  readonly #o: ChangeNotifierOptions;
  /** When a change was last seen (on the clock): polling is faster for a second after one. */
  #lastChangeAt = -Infinity;
  #lastReapAt = -Infinity;
  #dataVersion: number;
  /** One timer for both jobs: watch polling (while watches exist) and the periodic checks. */
  #ticker: Timer | undefined;
  /** The kernel's change notifications for the WAL file, while watches are open. */
  #walWatcher: FSWatcher | undefined;
  /** A WAL write seen before its commit showed in `data_version`: the timer that looks again. */
  #confirmTimer: Timer | undefined;

  /** Reads the current data version and starts the timer. */
  constructor(options: ChangeNotifierOptions) {
    this.#o = options;
    this.#dataVersion = options.dataVersion();
    this.#schedule();
  }

  /** Called when the first watch of the store opens: watch the WAL file and poll at the watch cadence. */
  watchStarted(): void {
    this.#watchWal();
    this.#schedule(); // from the reaper's cadence to the watch cadence
  }

  /** Stops the timer and the file watch. */
  close(): void {
    if (this.#ticker !== undefined) this.#o.clock.clearTimeout(this.#ticker);
    this.#ticker = undefined;
    this.#stopConfirming();
    this.#walWatcher?.close();
    this.#walWatcher = undefined;
  }

  /**
   * Asks the kernel (inotify) to say when the WAL file changes: every commit of another process
   * writes to it. Watches then wake within about a millisecond and polling becomes a safety net.
   * Where notifications are unavailable, polling alone carries the watches.
   */
  #watchWal(): void {
    if (this.#walWatcher !== undefined || this.#o.path === ':memory:') return;
    try {
      const watcher = watch(`${this.#o.path}-wal`, { persistent: false }, () => this.#onWalWrite());
      watcher.on('error', () => {
        watcher.close();
        if (this.#walWatcher === watcher) this.#walWatcher = undefined;
      });
      this.#walWatcher = watcher;
    } catch {
      this.#walWatcher = undefined;
    }
  }

  /**
   * Schedules the next tick. With watches open and no change notifications it polls every
   * `pollIntervalMs` while changes flow and every `idlePollIntervalMs` after a quiet second, and
   * keeps the process alive (a watch is awaited work); without watches it only runs the periodic
   * checks, every `reapIntervalMs`, and does not.
   */
  #schedule(): void {
    const o = this.#o;
    if (this.#ticker !== undefined) o.clock.clearTimeout(this.#ticker);
    if (o.isClosed()) return;
    const watching = o.watchers() > 0;
    const delay =
      !watching || this.#walWatcher !== undefined
        ? o.reapIntervalMs
        : o.clock.now() - this.#lastChangeAt < 1000
          ? o.pollIntervalMs
          : o.idlePollIntervalMs;
    this.#ticker = o.clock.setTimeout(() => this.#tick(), delay);
    if (!watching) this.#ticker.unref();
  }

  /**
   * The WAL file was written. A commit writes its frames to the WAL, then publishes itself in the
   * WAL index (shared memory, which the kernel does not report): a look that falls between the
   * two sees the old `data_version`, and no further write event comes for that commit. So a write
   * that shows no commit is looked at again, 1 ms later and then every `pollIntervalMs` for up to
   * `reapIntervalMs` (the regular tick), instead of leaving that commit to the next tick.
   */
  #onWalWrite(): void {
    this.#stopConfirming();
    if (this.#o.isClosed() || this.#poll()) return;
    const since = this.#o.clock.now();
    const lookAgain = (delay: number) => {
      this.#confirmTimer = this.#o.clock.setTimeout(() => {
        this.#confirmTimer = undefined;
        if (this.#o.isClosed() || this.#poll()) return;
        if (this.#o.clock.now() - since < this.#o.reapIntervalMs) lookAgain(this.#o.pollIntervalMs);
      }, delay);
      this.#confirmTimer.unref();
    };
    lookAgain(1);
  }

  #stopConfirming(): void {
    if (this.#confirmTimer !== undefined) this.#o.clock.clearTimeout(this.#confirmTimer);
    this.#confirmTimer = undefined;
  }

  #tick(): void {
    const o = this.#o;
    if (o.isClosed()) return;
    o.onTick();
    if (o.watchers() > 0) this.#poll();
    const now = o.clock.now();
    if (now - this.#lastReapAt >= o.reapIntervalMs) {
      this.#lastReapAt = now;
      o.onReapDue();
    }
    this.#schedule();
  }

  /** Wakes the watchers if another connection committed since the last look; says whether one did. */
  #poll(): boolean {
    try {
      const version = this.#o.dataVersion();
      if (version === this.#dataVersion) return false;
      this.#dataVersion = version;
      this.#lastChangeAt = this.#o.clock.now();
      this.#o.notify();
      return true;
    } catch {
      // A busy or closing file: check again next tick.
      return false;
    }
  }
}
