/**
 * Redis's errors as TenureErrors. The rule of errors.ts: what waiting can fix is
 * TENURE_UNAVAILABLE (retryable); what only a change of configuration can fix is
 * TENURE_STORE_UNUSABLE.
 */
import { TenureError } from '../../errors.js';

/** Errors a connection attempt can end with that retrying the same configuration cannot fix. */
export function isFatalConnectError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /WRONGPASS|NOAUTH|NOPERM|invalid username-password|DB index is out of range|Protocol error|invalid DB index/i.test(
    message,
  );
}

/**
 * Maps an error of `what` (a store call) to a TenureError. `where` names the server (no
 * credentials), `keyPrefix` the store's hash tag.
 */
export function mapRedisError(err: unknown, what: string, where: string, keyPrefix: string): TenureError {
  if (err instanceof TenureError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const unusable = (advice: string) =>
    new TenureError('TENURE_STORE_UNUSABLE', `Redis at ${where} refused ${what}: ${message}; ${advice}`, {
      cause: err,
      details: { server: where },
    });
  if (/TENURE_FOREIGN/.test(message) || /WRONGTYPE/.test(message))
    return unusable(
      `a Redis key under {${keyPrefix}} is already used by something else: choose another keyPrefix (?keyPrefix= in the URL) or remove that key`,
    );
  if (/TENURE_FORMAT/.test(message))
    return new TenureError(
      'TENURE_CORRUPT',
      `Redis at ${where} holds a tenure store of another format under {${keyPrefix}}: ${message}`,
      { cause: err },
    );
  if (/WRONGPASS|NOAUTH|invalid username-password/i.test(message))
    return unusable('check the user name and password (redis://user:password@host:port)');
  if (/NOPERM/.test(message))
    return unusable(
      `the ACL user needs EVALSHA, EVAL, XREAD, INFO and the keys {${keyPrefix}}:* (e.g. +@all ~{${keyPrefix}}:*)`,
    );
  if (/DB index is out of range|invalid DB index/i.test(message))
    return unusable('choose a database index below the server\'s "databases" setting (?db=)');
  if (/Protocol error|unknown command .?(EVALSHA|XREAD|INFO)/i.test(message))
    return unusable('the server at that address does not speak the Redis protocol (7.0 or later)');
  if (/NOSCRIPT|not allowed from script|Unknown Redis command called from script/.test(message))
    return unusable("the server does not run tenure's script (Redis 7.0 or later is required)");
  return new TenureError(
    'TENURE_UNAVAILABLE',
    `Redis at ${where} did not complete ${what}: ${message}; retry when the server is reachable`,
    { cause: err, details: { server: where } },
  );
}
