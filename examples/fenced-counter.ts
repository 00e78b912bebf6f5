/**
 * A protected resource that enforces fencing: a counter in a SQLite table that accepts a write
 * only with a fencing token at least as high as the highest it has accepted. The check and the
 * write are one SQL statement, so no pause of the writer can fall between them.
 *
 * Run `node dist/examples/fenced-counter.js` after `npm run build` to see a stale holder refused.
 */
import Database from 'better-sqlite3';

/** A counter that refuses writes carrying a token below the highest it has accepted. */
export class FencedCounter {
  readonly #db: Database.Database;
  readonly #fenced: boolean;

  /**
   * @param path the SQLite file holding the counter.
   * @param fenced false turns the check off: the negative control that shows what goes wrong.
   */
  constructor(path: string, fenced = true) {
    this.#db = new Database(path, { timeout: 5000 });
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL, token INTEGER NOT NULL);
      INSERT OR IGNORE INTO counter VALUES (1, 0, 0);
      CREATE TABLE IF NOT EXISTS writes (seq INTEGER PRIMARY KEY AUTOINCREMENT, token INTEGER NOT NULL, accepted INTEGER NOT NULL);
    `);
    this.#fenced = fenced;
  }

  /** The current value. */
  read(): number {
    return (this.#db.prepare('SELECT value FROM counter WHERE id = 1').get() as { value: number }).value;
  }

  /**
   * Sets the counter to `value` if `token` is at least the highest accepted so far (always, when
   * unfenced). Returns whether the write was accepted.
   */
  write(value: number, token: number): boolean {
    return this.#db
      .transaction(() => {
        const sql = this.#fenced
          ? 'UPDATE counter SET value = ?, token = ? WHERE id = 1 AND token <= ?'
          : 'UPDATE counter SET value = ?, token = max(token, ?) WHERE id = 1 AND ? IS NOT NULL';
        const accepted = this.#db.prepare(sql).run(value, token, token).changes === 1;
        this.#db.prepare('INSERT INTO writes (token, accepted) VALUES (?, ?)').run(token, accepted ? 1 : 0);
        return accepted;
      })
      .immediate();
  }

  /** Every write attempt in order: its token and whether it was accepted. */
  writes(): { token: number; accepted: boolean }[] {
    return (
      this.#db.prepare('SELECT token, accepted FROM writes ORDER BY seq').all() as {
        token: number;
        accepted: number;
      }[]
    ).map((w) => ({ token: w.token, accepted: w.accepted === 1 }));
  }

  close(): void {
    this.#db.close();
  }
}

// A runnable demonstration when executed directly.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const counter = new FencedCounter(join(mkdtempSync(join(tmpdir(), 'fenced-')), 'counter.db'));
  console.log('holder with token 7 writes 1:', counter.write(1, 7));
  console.log('next holder with token 9 writes 2:', counter.write(2, 9));
  console.log('paused holder with token 7 wakes and writes 2:', counter.write(2, 7), '(refused)');
  console.log('value:', counter.read());
  counter.close();
}
