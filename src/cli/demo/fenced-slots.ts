/**
 * The demo's per-slot protected resource: one row per slot in its own SQLite file, each
 * remembering the highest fencing token that took the slot. An owner takes a slot with the token
 * its ShardManager gave it (the slot key's create revision) and then writes the slot with that
 * token; the resource refuses a take whose token is not above the highest it has seen, and a
 * write whose token is below it, in the same transaction as the check.
 *
 * Every write is logged with what the writer believed right after it: whether it still owned
 * the slot by its own lights (the slot's signal not aborted, its session's deadline not passed).
 * That is what lets the audit tell a paused owner whose stale write fencing refused (expected:
 * it woke up past its lease) from two live owners of one slot (a broken ShardManager).
 */
import Database from 'better-sqlite3';

/** One write an owner makes for a slot. */
export interface SlotWrite {
  readonly slot: number;
  readonly token: number;
}

/** The result of a take or a write. */
export interface SlotResult {
  readonly accepted: boolean;
  /** The highest token the slot had seen before this access (0: never taken). */
  readonly highest: number;
}

/** What the slot resource's log says at the end of the demo, for the safety check. */
export interface SlotAudit {
  /** Takes accepted (a new owner with a higher token). */
  readonly takes: number;
  /** Takes refused because a token at least as high had already taken the slot. */
  readonly refusedTakes: number;
  /** Writes whose token was the slot's highest when they arrived. */
  readonly writes: number;
  /** Writes with a token below the slot's highest, refused by the fence. */
  readonly staleRejected: number;
  /** Writes with a token below the slot's highest that the resource accepted (unfenced only). */
  readonly staleAccepted: number;
  /** Stale writes whose writer still owned the slot by its own signal and session deadline. */
  readonly liveDoubleOwners: number;
  /** Up to 5 examples of the violations above, for the report. */
  readonly examples: readonly string[];
}

/** A fenced per-slot table in a SQLite file shared by the demo's processes. */
export class FencedSlots {
  readonly #db: Database.Database;
  /** False only for the negative control: takes and writes are then never refused. */
  readonly fenced: boolean;
  readonly #take: Database.Statement;
  readonly #highest: Database.Statement;
  readonly #log: Database.Statement;

  /** @param options.busyTimeoutMs how long an access waits for another process's write. @default 5000 */
  constructor(path: string, options: { fenced?: boolean; busyTimeoutMs?: number } = {}) {
    this.fenced = options.fenced ?? true;
    this.#db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS slot (slot INTEGER PRIMARY KEY, token INTEGER NOT NULL, owner TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS slot_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, slot INTEGER NOT NULL,
        token INTEGER NOT NULL, worker TEXT NOT NULL, highest INTEGER NOT NULL, accepted INTEGER NOT NULL, still_owner INTEGER NOT NULL);
    `);
    this.#highest = this.#db.prepare('SELECT token FROM slot WHERE slot = ?');
    this.#take = this.#db.prepare(
      'INSERT INTO slot (slot, token, owner) VALUES (?, ?, ?) ON CONFLICT (slot) DO UPDATE SET token = max(token, excluded.token), owner = excluded.owner',
    );
    this.#log = this.#db.prepare(
      'INSERT INTO slot_log (kind, slot, token, worker, highest, accepted, still_owner) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
  }

  #highestOf(slot: number): number {
    return (this.#highest.get(slot) as { token: number } | undefined)?.token ?? 0;
  }

  /** Takes `slot` for `worker` with `token`; refused unless the token is above every earlier one. */
  take(slot: number, token: number, worker: string): SlotResult {
    return this.#db
      .transaction((): SlotResult => {
        const highest = this.#highestOf(slot);
        const accepted = !this.fenced || token > highest;
        if (accepted) this.#take.run(slot, token, worker);
        this.#log.run('take', slot, token, worker, highest, accepted ? 1 : 0, 1);
        return { accepted, highest };
      })
      .immediate();
  }

  /**
   * Writes each slot in `batch` under its token, in one transaction; refused where a higher
   * token has taken the slot. `stillOwner(slot)` is asked right after each write, with no await
   * in between, and logged.
   */
  write(batch: readonly SlotWrite[], worker: string, stillOwner: (slot: number) => boolean): SlotResult[] {
    return this.#db
      .transaction((): SlotResult[] =>
        batch.map(({ slot, token }) => {
          const highest = this.#highestOf(slot);
          const accepted = !this.fenced || token >= highest;
          this.#log.run('write', slot, token, worker, highest, accepted ? 1 : 0, stillOwner(slot) ? 1 : 0);
          return { accepted, highest };
        }),
      )
      .immediate();
  }

  /** What the log says. */
  audit(): SlotAudit {
    const rows = this.#db
      .prepare('SELECT kind, slot, token, worker, highest, accepted, still_owner FROM slot_log ORDER BY seq')
      .all() as {
      kind: string;
      slot: number;
      token: number;
      worker: string;
      highest: number;
      accepted: number;
      still_owner: number;
    }[];
    let takes = 0;
    let refusedTakes = 0;
    let writes = 0;
    let staleRejected = 0;
    let staleAccepted = 0;
    let liveDoubleOwners = 0;
    const examples: string[] = [];
    const example = (text: string) => {
      if (examples.length < 5) examples.push(text);
    };
    for (const r of rows) {
      if (r.kind === 'take') {
        if (r.accepted === 1) takes++;
        else {
          refusedTakes++;
          example(`slot ${r.slot}: ${r.worker} took it with token ${r.token} after token ${r.highest}`);
        }
        continue;
      }
      if (r.token >= r.highest) {
        writes++;
        continue;
      }
      if (r.accepted === 1) {
        staleAccepted++;
        example(
          `slot ${r.slot}: ${r.worker}'s write with token ${r.token} ACCEPTED after token ${r.highest}`,
        );
      } else staleRejected++;
      if (r.still_owner === 1) {
        liveDoubleOwners++;
        example(`slot ${r.slot}: ${r.worker} still owned it (token ${r.token}) while token ${r.highest} did`);
      }
    }
    return { takes, refusedTakes, writes, staleRejected, staleAccepted, liveDoubleOwners, examples };
  }

  close(): void {
    this.#db.close();
  }
}
