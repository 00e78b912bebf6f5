/**
 * The demo's protected resource: a counter in its own SQLite file that enforces fencing itself
 * (Kleppmann, "How to do distributed locking", 2016). Every access carries the lock's fencing
 * token and the table remembers the highest token it has seen; an access with a lower token is
 * refused, in the same transaction as the check, so no pause of a client can slip between them.
 *
 * Reads are fenced too: a new holder's read raises the highest token before it writes, so a
 * holder that was paused after its own read cannot write afterwards, even if the new holder has
 * not written yet.
 */
import Database from 'better-sqlite3';

/** The result of a fenced access. */
export interface FencedResult {
  readonly accepted: boolean;
  /** The counter's value (after the write, when accepted). */
  readonly value: number;
  /** The highest token the counter had seen before this access. */
  readonly highest: number;
}

/** What the counter holds at the end of the demo, for the safety check. */
export interface CounterAudit {
  readonly value: number;
  /** Writes accepted: each one added exactly one. */
  readonly accepted: number;
  /** Writes refused because their token was below the highest seen. */
  readonly rejected: number;
  /** Accepted writes whose value was not the previous value plus one (lost updates). */
  readonly lostUpdates: number;
}

/** A fenced counter in a SQLite file shared by the demo's processes. */
export class FencedCounter {
  readonly #db: Database.Database;
  /** False only for the negative control: accesses are then never refused. */
  readonly fenced: boolean;

  /** @param options.busyTimeoutMs how long an access waits for another process's write. @default 5000 */
  constructor(path: string, options: { fenced?: boolean; busyTimeoutMs?: number } = {}) {
    this.fenced = options.fenced ?? true;
    this.#db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 0), value INTEGER NOT NULL, highest_token INTEGER NOT NULL);
      INSERT OR IGNORE INTO counter VALUES (0, 0, 0);
      CREATE TABLE IF NOT EXISTS writes (seq INTEGER PRIMARY KEY AUTOINCREMENT, token INTEGER NOT NULL, worker TEXT NOT NULL, value INTEGER NOT NULL, accepted INTEGER NOT NULL);
    `);
  }

  #row(): { value: number; highest_token: number } {
    return this.#db.prepare('SELECT value, highest_token FROM counter WHERE id = 0').get() as {
      value: number;
      highest_token: number;
    };
  }

  /** Reads the counter under `token`, raising the highest token seen to it; refused if lower. */
  read(token: number): FencedResult {
    return this.#db
      .transaction((): FencedResult => {
        const row = this.#row();
        if (this.fenced && token < row.highest_token)
          return { accepted: false, value: row.value, highest: row.highest_token };
        this.#db.prepare('UPDATE counter SET highest_token = max(highest_token, ?) WHERE id = 0').run(token);
        return { accepted: true, value: row.value, highest: row.highest_token };
      })
      .immediate();
  }

  /** Writes `value` under `token`; refused if a higher token has been seen. Logged either way. */
  write(token: number, value: number, worker: string): FencedResult {
    return this.#db
      .transaction((): FencedResult => {
        const row = this.#row();
        const accepted = !this.fenced || token >= row.highest_token;
        if (accepted)
          this.#db
            .prepare('UPDATE counter SET value = ?, highest_token = max(highest_token, ?) WHERE id = 0')
            .run(value, token);
        this.#db
          .prepare('INSERT INTO writes (token, worker, value, accepted) VALUES (?, ?, ?, ?)')
          .run(token, worker, value, accepted ? 1 : 0);
        return { accepted, value: accepted ? value : row.value, highest: row.highest_token };
      })
      .immediate();
  }

  /** What the counter and its write log say. */
  audit(): CounterAudit {
    const { value } = this.#row();
    const writes = this.#db.prepare('SELECT value, accepted FROM writes ORDER BY seq').all() as {
      value: number;
      accepted: number;
    }[];
    let previous = 0;
    let accepted = 0;
    let lostUpdates = 0;
    for (const w of writes) {
      if (w.accepted !== 1) continue;
      accepted++;
      if (w.value !== previous + 1) lostUpdates++;
      previous = w.value;
    }
    return { value, accepted, rejected: writes.length - accepted, lostUpdates };
  }

  close(): void {
    this.#db.close();
  }
}
