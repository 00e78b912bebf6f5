/**
 * PostgreSQL's errors as TenureErrors: by SQLSTATE class for the server's, by `code` for the
 * socket's. What waiting can fix is TENURE_UNAVAILABLE (retryable); what only a person can fix
 * (credentials, a missing database, privileges, a server that is not PostgreSQL) is
 * TENURE_STORE_UNUSABLE.
 */
import { TenureError, isTenureError } from '../../errors.js';

/** Whether `err` leaves the connection it came from unusable (drop it rather than reuse it). */
export function breaksConnection(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true; // socket, protocol, timeout
  return code.startsWith('08') || code.startsWith('57P');
}

/** Node's codes for a server certificate that TLS refused. */
const TLS_REFUSALS = /^(ERR_TLS_CERT_ALTNAME_INVALID|.*CERT.*|.*SELF_SIGNED.*|UNABLE_TO_.*)$/;

/** Server states (SQLSTATE) that a later attempt may not meet. */
const TRANSIENT_CLASSES = ['08', '40', '53', '55', '57'];

/**
 * The TenureError for a failure of the driver or the server; TenureErrors pass through.
 * `where` names the store (its URL with the password redacted, or host:port/database).
 */
export function mapPgError(err: unknown, where: string): unknown {
  if (isTenureError(err)) return err;
  const e = err as { code?: unknown; message?: unknown; severity?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const details = { store: where, ...(code !== '' ? { sqlstate: code } : {}) };
  const unusable = (what: string) =>
    new TenureError('TENURE_STORE_UNUSABLE', `PostgreSQL store ${where}: ${what}`, { cause: err, details });
  const unavailable = (what: string) =>
    new TenureError('TENURE_UNAVAILABLE', `PostgreSQL store ${where} is unavailable: ${what}`, {
      cause: err,
      details,
    });
  switch (code) {
    case '28P01':
    case '28000':
      return unusable(`${message}; check the user name and password (or the server's pg_hba.conf)`);
    case '3D000':
      return unusable(
        `${message}; tenure never creates a database: create it (CREATE DATABASE) or fix the URL`,
      );
    case '42501':
      return unusable(
        `${message}; the role needs CREATE on the database (or an existing schema it owns) and USAGE on the store's schema (docs/postgres.md lists the privileges)`,
      );
    case '3F000':
    case '42P01':
    case '42883':
      return unusable(
        `${message}; the store's schema is missing or incomplete (open it once with create: true)`,
      );
    case '25006':
      return unavailable(`${message} (a read-only server: a replica, or a primary being failed over)`);
    case '57014':
      return unavailable(`${message} (the call ran past requestTimeoutMs)`);
    case '55P03':
      return unavailable(`${message} (a lock was held past requestTimeoutMs)`);
  }
  if (TLS_REFUSALS.test(code) || /does not support SSL|self[- ]signed certificate|certificate/i.test(message))
    return unusable(
      `TLS: ${message}${code !== '' ? ` (${code})` : ''}; check sslmode and sslrootcert (the CA that signed the server's certificate) or the server's ssl setting`,
    );
  if (TRANSIENT_CLASSES.some((c) => code.startsWith(c))) return unavailable(message);
  if (code.startsWith('XX') || code === '22P02')
    return new TenureError('TENURE_CORRUPT', `PostgreSQL store ${where}: ${message}`, {
      cause: err,
      details,
    });
  if (code !== '' && /^[0-9A-Z]{5}$/.test(code)) return unusable(message);
  const sys = code; // ECONNREFUSED, ETIMEDOUT, ECONNRESET, EPIPE, ...
  if (/^E[A-Z]+$/.test(sys)) return unavailable(`${sys}: ${message}`);
  if (/timeout|terminated|Connection ended|closed|ended unexpectedly/i.test(message))
    return unavailable(message);
  // The driver could not make sense of what the server sent: something else listens there.
  return unusable(`${message}; is this a PostgreSQL server?`);
}
