/**
 * The tables and server-side functions of a PostgreSQL store, and their creation on first open.
 *
 * Every transaction of the Store contract is one call of a PL/pgSQL function, so it is one round
 * trip and never leaves a transaction open between two messages of a client (a client frozen
 * mid-call holds no lock: the server finishes or aborts the call by itself).
 *
 * - `txn(request)` (writes) first locks the one `state` row (`SELECT ... FOR UPDATE`): that row
 *   lock is the store's serialization point. Under READ COMMITTED every later statement of the
 *   function takes a fresh snapshot, so its compares, reads and writes all see every transaction
 *   that held the lock before it and nothing of those after it. A transaction that writes takes
 *   the next revision (+1) and logs its events in `changelog` under it; commit order is revision
 *   order. Expired leases are reaped first, in their own revision.
 * - `read(request)` (transactions of gets only) is STABLE: all its statements read one snapshot,
 *   taken when the call starts, so it needs no lock and never waits for a writer.
 * - Leases expire on the database's clock (`clock_timestamp()`), never a client's.
 * - After a write, `pg_notify` tells listeners the revision and the keys written: it only wakes
 *   them; watchers read the events from `changelog` by revision.
 * - `state` remembers the server's system identifier and WAL timeline: a write on another
 *   server (a promoted replica, a restored backup) makes the revision jump past anything the
 *   old primary could have handed out (see docs/postgres.md).
 *
 * Keys and values travel as hex in JSON. The functions are created with the schema's name
 * written into them (quoted), so one database can hold several stores in several schemas.
 */
import type pg from 'pg';
import { TenureError } from '../../errors.js';

/** The schema version this tenure reads and writes. */
export const SCHEMA_VERSION = 1;

/**
 * The version of the store's functions, recorded as the comment of `txn`. Versions keep the same
 * signatures and results (a newer one is only faster), so clients of every version work with the
 * functions of any other: opening a store whose functions are older replaces them, and a store
 * whose functions are newer is left as it is. A store without the comment has version 1.
 */
export const FUNCTIONS_VERSION = 2;

/**
 * How far ahead of the database clock, in microseconds, a failover jump puts the revision: the
 * clock skew between two primaries the fencing guarantee tolerates (10 minutes).
 */
export const FAILOVER_MARGIN_MICROS = 600_000_000;

/** A SQL identifier, quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The NOTIFY channel of a schema's store. */
export function channelOf(schema: string): string {
  return `tenure:${schema}`.slice(0, 63);
}

/** The name of the session setting that marks a backend whose server identity was checked. */
function verifiedSetting(schema: string): string {
  let h = 0;
  for (const ch of schema) h = (Math.imul(h, 31) + ch.codePointAt(0)!) >>> 0;
  return `tenure.verified_${h.toString(16)}`;
}

/** The DDL of a store in schema `schema` (every statement idempotent). */
export function schemaSql(schema: string): string {
  const S = quoteIdent(schema);
  const channel = channelOf(schema).replace(/'/g, "''");
  const verified = verifiedSetting(schema);
  return `
CREATE SCHEMA IF NOT EXISTS ${S};
CREATE TABLE IF NOT EXISTS ${S}.state (
  id int PRIMARY KEY CHECK (id = 0),
  schema_version int NOT NULL,
  revision bigint NOT NULL,
  compact_revision bigint NOT NULL,
  next_trim bigint NOT NULL,
  system_id text NOT NULL,
  timeline bigint NOT NULL,
  store_id uuid NOT NULL
);
CREATE TABLE IF NOT EXISTS ${S}.kv (
  key bytea PRIMARY KEY,
  value bytea NOT NULL,
  create_rev bigint NOT NULL,
  mod_rev bigint NOT NULL,
  version bigint NOT NULL,
  lease bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_by_lease ON ${S}.kv (lease) WHERE lease <> 0;
CREATE INDEX IF NOT EXISTS kv_by_create ON ${S}.kv (create_rev);
CREATE TABLE IF NOT EXISTS ${S}.lease (
  id bigint PRIMARY KEY,
  ttl_ms int NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS lease_by_expiry ON ${S}.lease (expires_at);
CREATE TABLE IF NOT EXISTS ${S}.changelog (
  rev bigint NOT NULL,
  seq int NOT NULL,
  deleted boolean NOT NULL,
  key bytea NOT NULL,
  value bytea NOT NULL,
  create_rev bigint NOT NULL,
  mod_rev bigint NOT NULL,
  version bigint NOT NULL,
  lease bigint NOT NULL,
  PRIMARY KEY (rev, seq)
);
CREATE INDEX IF NOT EXISTS changelog_by_key ON ${S}.changelog (key, rev);

-- The server's identity: its system identifier and current WAL timeline.
CREATE OR REPLACE FUNCTION ${S}.server_identity(OUT system_id text, OUT timeline bigint)
LANGUAGE sql VOLATILE AS $f$
  SELECT (SELECT system_identifier::text FROM pg_control_system()),
         ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint
$f$;

-- A compare of a transaction: {k, t: v|ver|c|m|l, o: = != < >, v}.
CREATE OR REPLACE FUNCTION ${S}.compare(c jsonb) RETURNS boolean LANGUAGE plpgsql STABLE AS $f$
DECLARE
  r ${S}.kv%ROWTYPE;
  t text := c->>'t';
  o text := c->>'o';
  d int;
BEGIN
  SELECT * INTO r FROM ${S}.kv WHERE key = decode(c->>'k', 'hex');
  IF t = 'v' THEN
    IF NOT FOUND THEN RETURN false; END IF;
    d := CASE WHEN r.value = decode(c->>'v', 'hex') THEN 0 WHEN r.value < decode(c->>'v', 'hex') THEN -1 ELSE 1 END;
  ELSIF t = 'l' THEN
    d := CASE WHEN coalesce(r.lease, 0) = (c->>'v')::bigint THEN 0 ELSE 1 END;
  ELSE
    d := sign(CASE t WHEN 'ver' THEN coalesce(r.version, 0) WHEN 'c' THEN coalesce(r.create_rev, 0)
                     ELSE coalesce(r.mod_rev, 0) END - (c->>'v')::bigint)::int;
  END IF;
  RETURN CASE o WHEN '=' THEN d = 0 WHEN '!=' THEN d <> 0 WHEN '<' THEN d < 0 ELSE d > 0 END;
END
$f$;

-- A get: {k, e (prefix end, hex or null), p (prefix), n (limit), x (max create revision),
-- o: key|c|cd (order)}. Returns {g: [kv...], m: more}, each kv as [key, value, create_rev, mod_rev,
-- version, lease]. The row's JSON is written out in each query: a SQL function for it would not be
-- inlined (jsonb_build_array is only STABLE), and a call per row costs more than the row.
CREATE OR REPLACE FUNCTION ${S}.get(op jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $f$
DECLARE
  k bytea := decode(op->>'k', 'hex');
  e bytea := decode(op->>'e', 'hex');
  p boolean := coalesce((op->>'p')::boolean, false);
  n int := coalesce((op->>'n')::int, 0);
  x bigint := coalesce((op->>'x')::bigint, 9007199254740991);
  o text := coalesce(op->>'o', 'key');
  lim bigint := CASE WHEN n > 0 THEN n + 1 END;
  rows jsonb;
  cnt int;
BEGIN
  IF NOT p THEN
    SELECT coalesce(jsonb_agg(jsonb_build_array(encode(key, 'hex'), encode(value, 'hex'), create_rev, mod_rev, version, lease)), '[]')
      INTO rows FROM ${S}.kv WHERE key = k AND create_rev <= x;
    RETURN jsonb_build_object('g', rows, 'm', false);
  END IF;
  IF o = 'c' THEN
    SELECT coalesce(jsonb_agg(jsonb_build_array(encode(key, 'hex'), encode(value, 'hex'), create_rev, mod_rev, version, lease) ORDER BY create_rev, key), '[]')
      INTO rows FROM (SELECT * FROM ${S}.kv WHERE key >= k AND (e IS NULL OR key < e) AND create_rev <= x
                      ORDER BY create_rev, key LIMIT lim) s;
  ELSIF o = 'cd' THEN
    SELECT coalesce(jsonb_agg(jsonb_build_array(encode(key, 'hex'), encode(value, 'hex'), create_rev, mod_rev, version, lease) ORDER BY create_rev DESC, key DESC), '[]')
      INTO rows FROM (SELECT * FROM ${S}.kv WHERE key >= k AND (e IS NULL OR key < e) AND create_rev <= x
                      ORDER BY create_rev DESC, key DESC LIMIT lim) s;
  ELSE
    SELECT coalesce(jsonb_agg(jsonb_build_array(encode(key, 'hex'), encode(value, 'hex'), create_rev, mod_rev, version, lease) ORDER BY key), '[]')
      INTO rows FROM (SELECT * FROM ${S}.kv WHERE key >= k AND (e IS NULL OR key < e) AND create_rev <= x
                      ORDER BY key LIMIT lim) s;
  END IF;
  cnt := jsonb_array_length(rows);
  IF n > 0 AND cnt > n THEN
    RETURN jsonb_build_object('g', rows - (cnt - 1), 'm', true);
  END IF;
  RETURN jsonb_build_object('g', rows, 'm', false);
END
$f$;

-- Keeps the newest retain revisions of history (counted, not subtracted: revisions jump); the
-- next trim is due retain / 10 revisions later. Called by a writer that holds the state row.
CREATE OR REPLACE FUNCTION ${S}.trim_log(rev bigint, retain bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
  cut bigint;
BEGIN
  SELECT DISTINCT c.rev INTO cut FROM ${S}.changelog c
    WHERE c.rev > (SELECT compact_revision FROM ${S}.state WHERE id = 0)
    ORDER BY c.rev DESC OFFSET retain LIMIT 1;
  IF cut IS NOT NULL THEN
    DELETE FROM ${S}.changelog WHERE changelog.rev <= cut;
    UPDATE ${S}.state SET compact_revision = cut WHERE id = 0;
  END IF;
  UPDATE ${S}.state SET next_trim = rev + greatest(1, retain / 10) WHERE id = 0;
END
$f$;

-- Logs one revision's events and makes it the store's revision; wakes the listeners.
CREATE OR REPLACE FUNCTION ${S}.commit_revision(rev bigint, keys text[], retain bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
  st ${S}.state%ROWTYPE;
  payload text;
BEGIN
  UPDATE ${S}.state SET revision = rev WHERE id = 0 RETURNING * INTO st;
  payload := rev::text || ' ' || array_to_string(keys, ' ');
  IF octet_length(payload) > 7900 THEN payload := rev::text; END IF;
  PERFORM pg_notify('${channel}', payload);
  IF retain > 0 AND rev >= st.next_trim THEN PERFORM ${S}.trim_log(rev, retain); END IF;
END
$f$;

-- Takes the serialization point (the state row lock), checks the server's identity once per
-- connection (a failover jumps the revision), and deletes the keys of expired leases as the
-- first events of the next revision (cur + 1, events 0 .. n - 1), which the caller commits.
CREATE OR REPLACE FUNCTION ${S}.begin_write(OUT cur bigint, OUT n int, OUT keys text[]) LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
  st ${S}.state%ROWTYPE;
  ident record;
  jump bigint;
BEGIN
  SELECT * INTO st FROM ${S}.state WHERE id = 0 FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the tenure store in schema % has no state row', '${schema.replace(/'/g, "''")}' USING ERRCODE = 'TN002';
  END IF;
  IF current_setting('${verified}', true) IS DISTINCT FROM 'y' THEN
    SELECT * INTO ident FROM ${S}.server_identity();
    IF ident.system_id <> st.system_id OR ident.timeline <> st.timeline THEN
      -- Another server than the one that wrote last: a replica promoted after a failover may have
      -- lost the old primary's last commits, revisions included. Jump past every revision that
      -- could have been handed out (revisions never run ahead of the clock in microseconds plus
      -- the margin; see docs/postgres.md).
      jump := greatest(st.revision, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + ${FAILOVER_MARGIN_MICROS});
      UPDATE ${S}.state SET revision = jump, system_id = ident.system_id, timeline = ident.timeline WHERE id = 0;
      st.revision := jump;
    END IF;
    PERFORM set_config('${verified}', 'y', false);
  END IF;
  cur := st.revision;
  WITH gone AS (DELETE FROM ${S}.lease WHERE expires_at <= clock_timestamp() RETURNING id),
       d AS (DELETE FROM ${S}.kv WHERE lease IN (SELECT id FROM gone) RETURNING key),
       logged AS (
         INSERT INTO ${S}.changelog (rev, seq, deleted, key, value, create_rev, mod_rev, version, lease)
         SELECT st.revision + 1, (row_number() OVER (ORDER BY key))::int - 1, true, key, '', 0, st.revision + 1, 0, 0 FROM d
         RETURNING key)
  SELECT coalesce(array_agg(encode(key, 'hex')), '{}'), count(*) INTO keys, n FROM logged;
END
$f$;

-- Checks the server's identity and reaps expired leases (in one revision). Returns the revision.
CREATE OR REPLACE FUNCTION ${S}.reap(retain bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
  b record;
BEGIN
  SELECT * INTO b FROM ${S}.begin_write();
  IF b.n = 0 THEN RETURN b.cur; END IF;
  PERFORM ${S}.commit_revision(b.cur + 1, b.keys, retain);
  RETURN b.cur + 1;
END
$f$;

-- A transaction that may write: {c: [compare], s: [op], f: [op], k: retain}.
-- Returns {ok, rev, r: [result]}. The hot path of every write, so begin_write and commit_revision
-- are inlined here for the common case (identity checked, no lease expired): each PL/pgSQL call
-- of another function costs about as much as the row lock itself.
CREATE OR REPLACE FUNCTION ${S}.txn(req jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
  retain bigint := coalesce((req->>'k')::bigint, 0);
  st ${S}.state%ROWTYPE;
  b record;
  payload text;
  cur bigint;
  nxt bigint;
  ok boolean := true;
  c jsonb;
  op jsonb;
  results jsonb := '[]';
  seq int;
  keys text[];
  k bytea;
  l bigint;
  cr bigint;
  ver bigint;
  deleted text[];
  n int;
BEGIN
  -- The serialization point (see begin_write).
  SELECT * INTO st FROM ${S}.state WHERE id = 0 FOR UPDATE;
  IF NOT FOUND OR current_setting('${verified}', true) IS DISTINCT FROM 'y'
     OR EXISTS (SELECT 1 FROM ${S}.lease WHERE expires_at <= clock_timestamp()) THEN
    -- The identity check (once per connection), or expired leases reaped first, as the first
    -- events of this transaction's revision.
    SELECT * INTO b FROM ${S}.begin_write();
    cur := b.cur;
    seq := b.n;
    keys := b.keys;
  ELSE
    cur := st.revision;
    seq := 0;
    keys := '{}';
  END IF;
  nxt := cur + 1;
  FOR c IN SELECT jsonb_array_elements(coalesce(req->'c', '[]')) LOOP
    IF NOT ${S}.compare(c) THEN ok := false; EXIT; END IF;
  END LOOP;
  FOR op IN SELECT jsonb_array_elements(coalesce(req->(CASE WHEN ok THEN 's' ELSE 'f' END), '[]')) LOOP
    CASE op->>'t'
    WHEN 'g' THEN
      results := results || jsonb_build_array(${S}.get(op));
    WHEN 'p' THEN
      k := decode(op->>'k', 'hex');
      l := coalesce((op->>'l')::bigint, 0);
      IF l <> 0 AND NOT EXISTS (SELECT 1 FROM ${S}.lease WHERE id = l) THEN
        RAISE EXCEPTION 'lease % does not exist', l USING ERRCODE = 'TN001';
      END IF;
      INSERT INTO ${S}.kv AS t (key, value, create_rev, mod_rev, version, lease)
        VALUES (k, decode(op->>'v', 'hex'), nxt, nxt, 1, l)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = nxt, version = t.version + 1, lease = excluded.lease
        RETURNING create_rev, version INTO cr, ver;
      INSERT INTO ${S}.changelog (rev, seq, deleted, key, value, create_rev, mod_rev, version, lease)
        VALUES (nxt, seq, false, k, decode(op->>'v', 'hex'), cr, nxt, ver, l);
      seq := seq + 1;
      keys := keys || (op->>'k');
      results := results || '[{"p":1}]'::jsonb;
    WHEN 'd' THEN
      k := decode(op->>'k', 'hex');
      IF coalesce((op->>'p')::boolean, false) THEN
        WITH d AS (DELETE FROM ${S}.kv WHERE key >= k AND (op->>'e' IS NULL OR key < decode(op->>'e', 'hex')) RETURNING key),
             logged AS (
               INSERT INTO ${S}.changelog (rev, seq, deleted, key, value, create_rev, mod_rev, version, lease)
               SELECT nxt, seq + (row_number() OVER (ORDER BY key))::int - 1, true, key, '', 0, nxt, 0, 0 FROM d
               RETURNING key)
        SELECT coalesce(array_agg(encode(key, 'hex')), '{}'), count(*) INTO deleted, n FROM logged;
      ELSE
        -- One key (a lock's release): two plain statements cost less than the CTE above.
        DELETE FROM ${S}.kv WHERE key = k;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
          INSERT INTO ${S}.changelog (rev, seq, deleted, key, value, create_rev, mod_rev, version, lease)
            VALUES (nxt, seq, true, k, '', 0, nxt, 0, 0);
          deleted := ARRAY[encode(k, 'hex')];
        ELSE
          deleted := '{}';
        END IF;
      END IF;
      seq := seq + n;
      keys := keys || deleted;
      results := results || jsonb_build_array(jsonb_build_object('d', n));
    END CASE;
  END LOOP;
  IF seq > 0 THEN
    -- commit_revision, inlined.
    UPDATE ${S}.state SET revision = nxt WHERE id = 0;
    payload := nxt::text || ' ' || array_to_string(keys, ' ');
    IF octet_length(payload) > 7900 THEN payload := nxt::text; END IF;
    PERFORM pg_notify('${channel}', payload);
    IF retain > 0 AND nxt >= st.next_trim THEN PERFORM ${S}.trim_log(nxt, retain); END IF;
    RETURN jsonb_build_object('ok', ok, 'rev', nxt, 'r', results);
  END IF;
  RETURN jsonb_build_object('ok', ok, 'rev', cur, 'r', results);
END
$f$;

-- A transaction of gets only, on one snapshot, without the lock. Also says whether an expired
-- lease waits to be reaped (the caller reaps, then reads again) and the server's identity check
-- is due.
CREATE OR REPLACE FUNCTION ${S}.read(req jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $f$
DECLARE
  ok boolean := true;
  c jsonb;
  op jsonb;
  results jsonb := '[]';
BEGIN
  IF EXISTS (SELECT 1 FROM ${S}.lease WHERE expires_at <= clock_timestamp()) THEN
    RETURN jsonb_build_object('reap', true);
  END IF;
  FOR c IN SELECT jsonb_array_elements(coalesce(req->'c', '[]')) LOOP
    IF NOT ${S}.compare(c) THEN ok := false; EXIT; END IF;
  END LOOP;
  FOR op IN SELECT jsonb_array_elements(coalesce(req->(CASE WHEN ok THEN 's' ELSE 'f' END), '[]')) LOOP
    results := results || jsonb_build_array(${S}.get(op));
  END LOOP;
  RETURN jsonb_build_object('ok', ok, 'rev', (SELECT revision FROM ${S}.state WHERE id = 0), 'r', results);
END
$f$;

-- Revokes a lease: its keys deleted in one revision. Returns the revision after.
CREATE OR REPLACE FUNCTION ${S}.revoke(lid bigint, retain bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
  b record;
  keys text[];
  n int;
BEGIN
  SELECT * INTO b FROM ${S}.begin_write();
  DELETE FROM ${S}.lease WHERE id = lid;
  IF FOUND THEN
    WITH d AS (DELETE FROM ${S}.kv WHERE lease = lid RETURNING key),
         logged AS (
           INSERT INTO ${S}.changelog (rev, seq, deleted, key, value, create_rev, mod_rev, version, lease)
           SELECT b.cur + 1, b.n + (row_number() OVER (ORDER BY key))::int - 1, true, key, '', 0, b.cur + 1, 0, 0 FROM d
           RETURNING key)
    SELECT coalesce(array_agg(encode(key, 'hex')), '{}'), count(*) INTO keys, n FROM logged;
    b.n := b.n + n;
    b.keys := b.keys || keys;
  END IF;
  IF b.n = 0 THEN RETURN b.cur; END IF;
  PERFORM ${S}.commit_revision(b.cur + 1, b.keys, retain);
  RETURN b.cur + 1;
END
$f$;

-- Discards history at and below rev; returns -1, or the current revision when rev is above it.
CREATE OR REPLACE FUNCTION ${S}.compact(rev bigint, retain bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
  cur bigint := ${S}.reap(retain);
BEGIN
  IF rev > cur THEN RETURN cur; END IF;
  DELETE FROM ${S}.changelog WHERE changelog.rev <= compact.rev;
  UPDATE ${S}.state SET compact_revision = greatest(compact_revision, compact.rev) WHERE id = 0;
  RETURN -1;
END
$f$;

-- The events after revision 'after' for one key or a prefix, whole revisions only, in order,
-- at most 1000 revisions from the first with events: {ev, up, more} or {compacted}.
CREATE OR REPLACE FUNCTION ${S}.changes(after bigint, k bytea, e bytea, p boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $f$
DECLARE
  st ${S}.state%ROWTYPE;
  nxt bigint;
  up bigint;
  ev jsonb;
BEGIN
  SELECT * INTO st FROM ${S}.state WHERE id = 0;
  IF after < st.compact_revision THEN RETURN jsonb_build_object('compacted', st.compact_revision); END IF;
  SELECT min(rev) INTO nxt FROM ${S}.changelog WHERE rev > after;
  up := CASE WHEN nxt IS NULL THEN st.revision ELSE least(st.revision, nxt - 1 + 1000) END;
  SELECT coalesce(jsonb_agg(jsonb_build_array(deleted, encode(key, 'hex'), encode(value, 'hex'), create_rev, mod_rev, version, lease) ORDER BY rev, seq), '[]')
    INTO ev FROM ${S}.changelog
    WHERE rev > after AND rev <= up AND (CASE WHEN p THEN key >= k AND (e IS NULL OR key < e) ELSE key = k END);
  RETURN jsonb_build_object('ev', ev, 'up', greatest(after, up), 'more', up < st.revision);
END
$f$;

COMMENT ON FUNCTION ${S}.txn(jsonb) IS 'tenure functions ${FUNCTIONS_VERSION}';
`;
}

/**
 * Creates the schema, tables and functions of a store if missing, and its state row, in one
 * transaction under an advisory lock (two processes opening a new database at once: one creates,
 * the other waits and finds it done). Nothing is left behind when it fails. Replaces the
 * functions of an existing store when they are older than {@link FUNCTIONS_VERSION}, if this
 * role may (else the store keeps working with them).
 * @throws TENURE_CORRUPT for a schema of another version.
 */
export async function ensureSchema(client: pg.ClientBase, schema: string): Promise<void> {
  const S = quoteIdent(schema);
  // Fast path: an existing store of this version needs no lock and no DDL.
  const found = await readVersion(client, S);
  if (found?.schema === SCHEMA_VERSION && found.functions >= FUNCTIONS_VERSION) return;
  if (found !== undefined && found.schema !== SCHEMA_VERSION) throw wrongVersion(schema, found.schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tenure schema ${schema}`]);
    const again = await readVersion(client, S);
    if (again !== undefined && again.schema !== SCHEMA_VERSION) throw wrongVersion(schema, again.schema);
    if (again !== undefined && again.functions < FUNCTIONS_VERSION) {
      // Every statement of the DDL is idempotent: on an existing store it replaces the functions.
      try {
        await client.query(schemaSql(schema));
      } catch (err) {
        // Not the functions' owner: the older functions give the same results.
        if ((err as { code?: unknown }).code !== '42501') throw err;
        await client.query('ROLLBACK');
        return;
      }
    }
    if (again === undefined) {
      await client.query(schemaSql(schema));
      await client.query(
        `INSERT INTO ${S}.state (id, schema_version, revision, compact_revision, next_trim, system_id, timeline, store_id)
         SELECT 0, $1, r, r, 0, i.system_id, i.timeline, gen_random_uuid()
         FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS r) t, ${S}.server_identity() i
         ON CONFLICT (id) DO NOTHING`,
        [SCHEMA_VERSION],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function readVersion(
  client: pg.ClientBase,
  S: string,
): Promise<{ schema: number; functions: number } | undefined> {
  const exists = await client.query<{ t: string | null; f: number | null }>(
    `SELECT to_regclass($1) AS t,
            substring(obj_description(to_regprocedure($2), 'pg_proc') FROM '^tenure functions ([0-9]+)$')::int AS f`,
    [`${S}.state`, `${S}.txn(jsonb)`],
  );
  if (exists.rows[0]?.t == null) return undefined;
  const row = await client.query<{ v: number }>(`SELECT schema_version AS v FROM ${S}.state WHERE id = 0`);
  const schema = row.rows[0]?.v;
  return schema === undefined ? undefined : { schema, functions: exists.rows[0].f ?? 1 };
}

function wrongVersion(schema: string, version: number): TenureError {
  return new TenureError(
    'TENURE_CORRUPT',
    `the tenure store in PostgreSQL schema ${schema} has schema version ${version}; this tenure reads ${SCHEMA_VERSION}`,
    { details: { schema, version } },
  );
}
