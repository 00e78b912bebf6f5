/**
 * How a PostgreSQL store's writes are serialized, measured: the store's own `txn` function under
 * three serialization points, side by side on one server, each writer on its own connection
 * writing its own key (so the only conflict is the serialization point itself):
 * - `row lock` (what the store uses): `SELECT ... FOR UPDATE` of the one `state` row, READ
 *   COMMITTED;
 * - `advisory lock`: `pg_advisory_xact_lock` instead of the row lock, then a plain read of the row;
 * - `SERIALIZABLE`: no lock, the transaction at SERIALIZABLE isolation; a writer that loses the race
 *   gets a serialization failure (40001), or a unique violation (23505) when it collides first on
 *   the change log's (rev, seq), and retries.
 * Each variant is the same functions with only that statement changed (text replaced below; the
 * replacement is checked). Reported per variant and writer count: commits per second, latency of a
 * committed write (retries included), retries per commit, and whether the revision rose by exactly
 * the number of commits (no lost or doubled revision).
 */
import pg from 'pg';
import { encodeRequest } from '../src/store/postgres/codec.js';
import { ensureSchema, quoteIdent, schemaSql } from '../src/store/postgres/schema.js';
import { percentile } from './report.js';

/** A serialization point under test. */
export type SerializationVariant = 'row lock' | 'advisory lock' | 'SERIALIZABLE';

/** One measured run. */
export interface SerializationResult {
  variant: SerializationVariant;
  writers: number;
  commitsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  retriesPerCommit: number;
  /** The revision rose by exactly the number of commits. */
  revisionsExact: boolean;
}

const LOCK_STATEMENT = (S: string) => `SELECT * INTO st FROM ${S}.state WHERE id = 0 FOR UPDATE;`;

/** The store's functions in `schema`, with their serialization point replaced by `variant`'s. */
function variantSql(schema: string, variant: SerializationVariant): string {
  const S = quoteIdent(schema);
  const sql = schemaSql(schema);
  const lock = LOCK_STATEMENT(S);
  const uses = sql.split(lock).length - 1;
  if (uses !== 2)
    throw new Error(`expected the state row lock in begin_write and txn, found it ${uses} times`);
  if (variant === 'row lock') return sql;
  const replacement =
    variant === 'advisory lock'
      ? `PERFORM pg_advisory_xact_lock(hashtext('${schema}')); SELECT * INTO st FROM ${S}.state WHERE id = 0;`
      : `SELECT * INTO st FROM ${S}.state WHERE id = 0;`;
  return sql.split(lock).join(replacement);
}

const SCHEMAS: Record<SerializationVariant, string> = {
  'row lock': 'ser_row_lock',
  'advisory lock': 'ser_advisory',
  SERIALIZABLE: 'ser_serializable',
};

/** Creates the three variants' schemas in `database`. */
export async function prepareSerialization(config: pg.ClientConfig): Promise<void> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    for (const [variant, schema] of Object.entries(SCHEMAS) as [SerializationVariant, string][]) {
      await ensureSchema(client, schema);
      await client.query(variantSql(schema, variant));
    }
  } finally {
    await client.end();
  }
}

/** Runs `writers` writers for `durationMs` against one variant. */
export async function measureSerialization(
  config: pg.ClientConfig,
  variant: SerializationVariant,
  writers: number,
  durationMs: number,
): Promise<SerializationResult> {
  const schema = SCHEMAS[variant];
  const S = quoteIdent(schema);
  const clients = Array.from(
    { length: writers },
    () =>
      new pg.Client({
        ...config,
        ...(variant === 'SERIALIZABLE' ? { options: '-c default_transaction_isolation=serializable' } : {}),
      }),
  );
  for (const c of clients) c.on('error', () => undefined); // a writer that failed ends them all
  await Promise.all(clients.map((c) => c.connect()));
  const revision = async () =>
    Number((await clients[0]!.query<{ r: string }>(`SELECT revision AS r FROM ${S}.state`)).rows[0]!.r);
  try {
    const text = `SELECT ${S}.txn($1::jsonb) AS r`;
    // Warm: each connection plans the function once.
    for (const [i, c] of clients.entries())
      await c.query({
        name: 'w',
        text,
        values: [encodeRequest({ success: [{ type: 'put', key: `w${i}`, value: 'x' }] }, 1000)],
      });
    const before = await revision();
    const latencies: number[] = [];
    let commits = 0;
    let retries = 0;
    const deadline = performance.now() + durationMs;
    await Promise.all(
      clients.map(async (c, i) => {
        const body = encodeRequest({ success: [{ type: 'put', key: `w${i}`, value: 'x' }] }, 1000);
        while (performance.now() < deadline) {
          const t0 = performance.now();
          for (;;) {
            try {
              await c.query({ name: 'w', text, values: [body] });
              break;
            } catch (err) {
              const code = (err as { code?: string }).code;
              // Under SERIALIZABLE two writers that read the same revision may also collide on
              // the change log's key (rev, seq) before the state row: a unique violation, which
              // that design would have to retry too.
              const retry =
                code === '40001' || code === '40P01' || (variant === 'SERIALIZABLE' && code === '23505');
              if (!retry) throw err;
              retries++;
            }
          }
          latencies.push(performance.now() - t0);
          commits++;
        }
      }),
    );
    const after = await revision();
    const r3 = (x: number) => Number(x.toFixed(3));
    return {
      variant,
      writers,
      commitsPerSec: Math.round(commits / (durationMs / 1000)),
      p50Ms: r3(percentile(latencies, 50)),
      p99Ms: r3(percentile(latencies, 99)),
      retriesPerCommit: r3(retries / commits),
      revisionsExact: after - before === commits,
    };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
