/**
 * `postgres://` and `postgresql://` URLs as PostgresStoreOptions, with libpq's names for the
 * TLS parameters. Loads no driver: openStore imports the store itself only for these schemes.
 */
import { readFileSync } from 'node:fs';
import type { PostgresStoreOptions } from './options.js';

/** The query parameters a PostgreSQL store URL takes (besides `namespace`). */
export const POSTGRES_URL_PARAMS = Object.freeze([
  'schema',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'poolSize',
  'requestTimeoutMs',
  'connectTimeoutMs',
  'idleInTransactionTimeoutMs',
  'reapIntervalMs',
  'retainRevisions',
  'watchProbeIntervalMs',
] as const);

const INTEGER_PARAMS = [
  'poolSize',
  'requestTimeoutMs',
  'connectTimeoutMs',
  'idleInTransactionTimeoutMs',
  'reapIntervalMs',
  'retainRevisions',
  'watchProbeIntervalMs',
] as const;

/**
 * Reads the store options from a parsed URL. `fail(problem)` makes the caller's invalid-URL
 * error (it redacts the password). A password given both in the URL and as `password` is an error.
 */
export function postgresOptionsFromUrl(
  parsed: URL,
  params: Record<string, string>,
  password: string | undefined,
  fail: (problem: string) => Error,
): PostgresStoreOptions {
  const decode = (text: string, what: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw fail(`the ${what} has a malformed %-escape`);
    }
  };
  const unknown = Object.keys(params).filter((p) => !(POSTGRES_URL_PARAMS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw fail(
      `unknown parameter(s) ${unknown.join(', ')}; known: namespace, ${POSTGRES_URL_PARAMS.join(', ')}`,
    );
  if (parsed.hostname === '') throw fail('it needs a host: postgres://user@host:5432/database');
  const database = decode(parsed.pathname.replace(/^\//, ''), 'database name');
  if (database === '' || database.includes('/'))
    throw fail('it needs one database name: postgres://user@host:5432/database');
  const user = parsed.username === '' ? undefined : decode(parsed.username, 'user name');
  const urlPassword = parsed.password === '' ? undefined : decode(parsed.password, 'password');
  if (urlPassword !== undefined && password !== undefined)
    throw fail(
      'the password is given twice (user:password@ and options.password or TENURE_STORE_PASSWORD): give it once',
    );
  const numeric: Record<string, number> = {};
  for (const name of INTEGER_PARAMS) {
    if (params[name] === undefined) continue;
    const n = Number(params[name]);
    if (!Number.isSafeInteger(n)) throw fail(`${name} must be an integer`);
    numeric[name] = n;
  }
  const sslmode = params.sslmode ?? (params.sslrootcert !== undefined ? 'verify-full' : 'disable');
  if (!['disable', 'require', 'verify-ca', 'verify-full'].includes(sslmode))
    throw fail('sslmode must be disable, require, verify-ca or verify-full');
  const files = (['sslrootcert', 'sslcert', 'sslkey'] as const).filter((name) => params[name] !== undefined);
  if (sslmode === 'disable' && files.length > 0) throw fail(`${files.join(', ')} need TLS: set sslmode`);
  const read = (name: 'sslrootcert' | 'sslcert' | 'sslkey') => {
    if (params[name] === undefined) return undefined;
    try {
      return readFileSync(params[name], 'utf8');
    } catch (err) {
      throw fail(
        `cannot read the ${name} file ${params[name]}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  };
  const ipv6 = /^\[(.*)\]$/.exec(parsed.hostname);
  return {
    host: ipv6 ? ipv6[1] : parsed.hostname,
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    user,
    password: urlPassword ?? password,
    database,
    schema: params.schema,
    tls:
      sslmode === 'disable'
        ? false
        : {
            mode: sslmode as 'require' | 'verify-ca' | 'verify-full',
            ca: read('sslrootcert'),
            cert: read('sslcert'),
            key: read('sslkey'),
          },
    ...numeric,
  };
}
