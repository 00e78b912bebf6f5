/**
 * The least that `tenure lock NAME -- CMD` on SQLite has to do, without tenure: open a SQLite file
 * (WAL), write a lock row, run CMD, delete the row, close. The start-up benchmark's reference for
 * what any Node program doing that job costs: no option parsing, no session or lease, no queue,
 * no process-group supervision.
 *
 * argv: the database path, then CMD and its arguments.
 */
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';

const [path, ...command] = process.argv.slice(2);
if (path === undefined || command.length === 0) {
  console.error('usage: lock-floor.js DB CMD [ARGS...]');
  process.exit(2);
}
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL)');
db.prepare('INSERT OR REPLACE INTO locks (name, owner) VALUES (?, ?)').run('floor', String(process.pid));
spawn(command[0]!, command.slice(1), { stdio: 'inherit' }).once('exit', (code) => {
  db.prepare('DELETE FROM locks WHERE name = ?').run('floor');
  db.close();
  process.exitCode = code ?? 1;
});
