// Holds the store's serialization point (the state row lock) inside an open transaction, as a
// process stopped in the middle of a transaction would, over a connection with the given
// idle_in_transaction_session_timeout (0: none). argv: host port user password database idleMs
import pg from 'pg';

const [host, port, user, password, database, idleMs] = process.argv.slice(2);
const client = new pg.Client({
  host,
  port: Number(port),
  user,
  password,
  database,
  ...(Number(idleMs) > 0 ? { idle_in_transaction_session_timeout: Number(idleMs) } : {}),
});
client.on('error', (err) => process.stdout.write(`${JSON.stringify({ event: 'error', code: err.code })}\n`));
await client.connect();
await client.query('BEGIN');
await client.query('SELECT revision FROM tenure.state WHERE id = 0 FOR UPDATE');
process.stdout.write(`${JSON.stringify({ event: 'locked' })}\n`);
setInterval(() => undefined, 1000);
