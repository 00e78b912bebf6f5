/**
 * The one redaction of credentials in store URLs, used wherever a URL is shown: the CLI's
 * output, every error that names a URL, the dashboard's title and its JSON.
 */

/**
 * `scheme://user:password@`: the user name is kept; the password runs from the `:` after it to
 * the last `@` before whitespace. That is wider than a URL parser's authority (which ends at the
 * first `/`, `?` or `#`) on purpose: a password with an unencoded `/`, `?` or `#` makes the URL
 * invalid, and the error that says so must not show the rest of the password either.
 */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#]*):\S*@/gi;
/** `password=...` in a query string (but not `passwordFile=`, which names a file). */
const PASSWORD_PARAM = /\b(password=)[^&#\s]*/gi;

/**
 * Replaces the credentials in a store URL, or in every URL inside a text (an error message), by
 * `***`: `etcd://app:s3cret@h1:2379,h2:2379` becomes `etcd://app:***@h1:2379,h2:2379`, and
 * `?username=app&password=s3cret` becomes `?username=app&password=***`. Everything else is left
 * as it was, so the result still says which store it is.
 *
 * @example
 * ```ts
 * redactUrl('etcds://app:pw@10.0.0.1:2379?ca=/ca.pem'); // 'etcds://app:***@10.0.0.1:2379?ca=/ca.pem'
 * ```
 */
export function redactUrl(text: string): string {
  return String(text).replace(USERINFO, '$1$2:***@').replace(PASSWORD_PARAM, '$1***');
}
