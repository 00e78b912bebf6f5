/**
 * Opening a store by URL. Each backend module is loaded only when its scheme is asked for, so an
 * application that uses SQLite never loads a network driver.
 */
import type { Clock } from '../clock.js';
import { TenureError } from '../errors.js';
import { withNamespace } from './namespace.js';
import { redactUrl } from './redact-url.js';
// Path checks only (node:fs, node:path): loading them does not load the SQLite driver.
import { checkFileMode, checkPlainPath } from './sqlite/paths.js';
import type { Store } from './types.js';

/** The URL forms {@link openStore} accepts, as shown in its errors. */
export const STORE_URL_FORMS = Object.freeze([
  'memory:',
  'sqlite:relative/path.db',
  'sqlite:///absolute/path.db',
  'etcd://host:port,host:port',
  'etcd://user@host:port (password from options.password, ?passwordFile= or user:password@)',
  'etcds://host:port,host:port?ca=/ca.pem&cert=/client.pem&key=/client-key.pem',
  'redis://[user:password@]host:port[/db]?keyPrefix=tenure',
  'rediss://host:port?ca=/ca.pem',
  'redis+sentinel://[user:password@]host:port,host:port/mastername?db=0',
  'postgres://user:password@host:5432/database?schema=tenure&sslmode=verify-full&sslrootcert=/ca.pem',
]);

/**
 * The namespace of stores opened by an `etcd://` or `etcds://` URL that names none: an etcd
 * cluster is often shared, and tenure's keys (`mutex/...`, `election/...`) should not land at its
 * root among other applications' keys. `?namespace=` (empty) opts out: keys at the root.
 * The embedded stores (sqlite:, memory:) belong to one application and take no default.
 */
export const DEFAULT_ETCD_NAMESPACE = 'tenure/';

/** Options of {@link openStore}; each may also be given as a URL query parameter. */
export interface OpenStoreOptions {
  /**
   * Key prefix for every key of this store (see withNamespace); it replaces the default, and an
   * empty string means none (keys at the root of the store).
   * @default `tenure/` for etcd URLs — a shared cluster keeps
   * tenure's keys apart; none for sqlite: and memory:
   */
  namespace?: string;
  /**
   * The clock of the store's timers and pauses: the memory backend's leases, the SQLite store's
   * reaper, polling and busy retries (not its leases, which run on the host's clock), the etcd
   * client's deadlines, retries and probes. @default systemClock
   */
  clock?: Clock;
  /**
   * The etcd or PostgreSQL password, kept out of the URL (the CLI reads it from
   * `TENURE_STORE_PASSWORD` or the file named by `TENURE_STORE_PASSWORD_FILE`). The user name
   * still comes from the URL (`etcd://user@host:2379` or `?username=`). Ignored by the other
   * backends, which have no password. Giving a password in two places is an error.
   * @default none
   */
  password?: string;
  /**
   * SQLite: create the database file if it is missing (SqliteStoreOptions.create); PostgreSQL:
   * create the store's schema if missing (never a database). Tools that only read a store set
   * false. @default true
   */
  create?: boolean;
  /**
   * SQLite: create the file's missing folder, mode 0700 (SqliteStoreOptions.createFolder).
   * @default false
   */
  createFolder?: boolean;
}

/** A TENURE_INVALID_URL error; the URL it shows (and keeps in `details`) has its credentials redacted. */
function invalidUrl(url: string, problem: string): TenureError {
  const shown = redactUrl(url);
  return new TenureError(
    'TENURE_INVALID_URL',
    `invalid store URL ${JSON.stringify(shown)}: ${problem}; accepted forms: ${STORE_URL_FORMS.join(', ')}`,
    { details: { url: shown } },
  );
}

/** `decodeURIComponent`, or undefined for a malformed escape. */
function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

const INTEGER_PARAMS = [
  'pollIntervalMs',
  'idlePollIntervalMs',
  'reapIntervalMs',
  'busyTimeoutMs',
  'retainRevisions',
  'maxBytes',
] as const;

/**
 * Opens a store from a URL.
 *
 * - `memory:`: a new in-process store (tests only).
 * - `sqlite:relative/path.db`, `sqlite:///absolute/path.db`: a SQLite file on a local disk, in a
 *   folder that exists (unless `options.createFolder`). Only plain paths: no NUL or control
 *   characters, no `#`, not `:memory:` or `file:`. Query parameters set SqliteStoreOptions:
 *   `?pollIntervalMs=10&synchronous=full`, `?mode=0660` (fileMode: share the files with the
 *   group), `?maxBytes=...`.
 * - `etcd://host:port,host:port,...`: an etcd v3 cluster (list every member). `etcds://` for TLS.
 *   Query parameters: `ca`, `cert`, `key` (paths of PEM files: the CA that signed the members'
 *   certificates, and a client certificate and its key for `--client-cert-auth` clusters; etcds
 *   without `ca` trusts Node's root CAs), etcd auth as `etcd://user:password@host:port` or
 *   `?username=&password=`, the password also as `?passwordFile=/path` (the file's content) or
 *   `options.password` (each once; shown as `***` in every message), and
 *   `requestTimeoutMs`, `connectTimeoutMs`, `watchProbeIntervalMs` (see EtcdStoreOptions).
 * - `redis://[user:password@]host:port[/db]`: a Redis server (7.0+); `rediss://` for TLS (`ca`,
 *   `cert`, `key` as for etcds). The database as `/2` or `?db=2`; the password also as
 *   `?passwordFile=` or `options.password`; `keyPrefix` (the hash tag of the store's Redis keys),
 *   `requestTimeoutMs`, `connectTimeoutMs`, `retainRevisions`, `reapIntervalMs` (see
 *   RedisStoreOptions).
 * - `redis+sentinel://[user:password@]host:port,host:port/mastername`: the master that Redis
 *   Sentinels name for `mastername`, followed across failovers; the same parameters as `redis://`
 *   except TLS, the database only as `?db=`.
 * - `postgres://user:password@host:5432/database` (or `postgresql://`): a PostgreSQL database
 *   that exists; the store lives in schema `?schema=` (default `tenure`), created on first open
 *   unless `options.create` is false. TLS with libpq's names: `sslmode` (disable, require,
 *   verify-ca, verify-full), `sslrootcert`, `sslcert`, `sslkey` (paths of PEM files). The
 *   password also as `options.password`. `requestTimeoutMs`, `connectTimeoutMs`,
 *   `idleInTransactionTimeoutMs`, `poolSize`, ... set PostgresStoreOptions.
 * - Any form takes `?namespace=prefix/`. etcd URLs default to `tenure/`, so that tenure's keys
 *   stay apart on a shared cluster; `?namespace=` (empty) keeps keys at the root.
 *
 * @throws TENURE_INVALID_URL for a malformed URL, an unknown scheme or a bad parameter; the
 * message lists the accepted forms.
 * @example
 * ```ts
 * const store = await openStore('sqlite:.tenure/store.db?namespace=billing/');
 * ```
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (typeof url !== 'string' || url.length === 0)
    throw invalidUrl(String(url), 'a non-empty string is required');
  let parsed: URL;
  // An etcd URL lists several hosts, which WHATWG URL cannot parse: its case reads them (and the
  // user information before them, up to the authority's last `@`) from here.
  const etcdAuthority = /^(etcds?:\/\/)(?:([^/?#]*)@)?([^/?#]*)/i.exec(url);
  const etcdUserInfo = etcdAuthority?.[2];
  const etcdHosts = etcdAuthority?.[3];
  // Sentinel URLs list several Sentinels too; the user information stays for URL to decode.
  const sentinelAuthority = /^(redis\+sentinel:\/\/)((?:[^/?#]*@)?)([^/?#]*)/i.exec(url);
  try {
    parsed = new URL(
      etcdAuthority
        ? `${etcdAuthority[1]}hosts${url.slice(etcdAuthority[0].length)}`
        : sentinelAuthority
          ? `${sentinelAuthority[1]}${sentinelAuthority[2]}sentinels${url.slice(sentinelAuthority[0].length)}`
          : url,
    );
  } catch {
    throw invalidUrl(url, 'it is not a URL');
  }
  const params = Object.fromEntries(parsed.searchParams);
  const namespace =
    options.namespace ??
    params.namespace ??
    (/^etcds?:$/i.test(parsed.protocol) ? DEFAULT_ETCD_NAMESPACE : undefined);
  delete params.namespace;
  let store: Store;
  switch (parsed.protocol) {
    case 'memory:': {
      if (parsed.host !== '' || (parsed.pathname !== '' && parsed.pathname !== '/'))
        throw invalidUrl(url, 'memory: takes no path');
      rejectUnknown(url, params, []);
      const { MemoryStore } = await import('./memory/index.js');
      store = new MemoryStore({ clock: options.clock });
      break;
    }
    case 'sqlite:': {
      if (parsed.host !== '')
        throw invalidUrl(
          url,
          `sqlite: takes a file path, not a host (${parsed.host}); use sqlite:///absolute/path.db`,
        );
      // WHATWG URL would drop a fragment silently: `sqlite:my#store.db` is not `my#store.db`.
      if (url.includes('#'))
        throw invalidUrl(url, "a sqlite: path cannot contain '#' (write it as %23 if the file name has one)");
      let path: string;
      try {
        path = decodeURIComponent(parsed.pathname);
      } catch {
        throw invalidUrl(url, 'its path is not valid percent-encoding');
      }
      if (path === '' || path === '/' || path.endsWith('/'))
        throw invalidUrl(url, 'sqlite: needs a file path');
      try {
        checkPlainPath(path, 'the path');
      } catch (err) {
        throw invalidUrl(url, (err as Error).message);
      }
      rejectUnknown(url, params, [...INTEGER_PARAMS, 'synchronous', 'mode']);
      let fileMode: number | undefined;
      if (params.mode !== undefined) {
        fileMode = /^0?[0-7]{3}$/.test(params.mode) ? parseInt(params.mode, 8) : NaN;
        try {
          checkFileMode(fileMode, 'mode');
        } catch {
          throw invalidUrl(
            url,
            'mode must be 0600 (owner only, the default) or 0660 (shared with the group)',
          );
        }
      }
      const numeric: Record<string, number> = {};
      for (const name of INTEGER_PARAMS) {
        if (params[name] === undefined) continue;
        const n = Number(params[name]);
        if (!Number.isSafeInteger(n)) throw invalidUrl(url, `${name} must be an integer`);
        numeric[name] = n;
      }
      const synchronous = params.synchronous;
      if (synchronous !== undefined && synchronous !== 'normal' && synchronous !== 'full')
        throw invalidUrl(url, "synchronous must be 'normal' or 'full'");
      const { SqliteStore } = await import('./sqlite/index.js');
      store = new SqliteStore({
        path,
        ...numeric,
        synchronous,
        fileMode,
        create: options.create,
        createFolder: options.createFolder,
        clock: options.clock,
      });
      break;
    }
    case 'etcd:':
    case 'etcds:': {
      const scheme = parsed.protocol.slice(0, -1);
      const ETCD_INTEGER_PARAMS = ['requestTimeoutMs', 'connectTimeoutMs', 'watchProbeIntervalMs'] as const;
      const ETCD_TLS_PARAMS = ['ca', 'cert', 'key'] as const;
      try {
        const endpoints = (etcdHosts ?? '').split(',').filter((h) => h !== '');
        if (endpoints.length === 0)
          throw invalidUrl(url, `${scheme}: needs at least one member, as ${scheme}://host:port,host:port`);
        const bad = endpoints.find((h) => !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(h));
        if (bad !== undefined) throw invalidUrl(url, `member ${JSON.stringify(bad)} is not host:port`);
        if (parsed.pathname !== '' && parsed.pathname !== '/')
          throw invalidUrl(url, `${scheme}: takes no path`);
        rejectUnknown(url, params, [
          ...ETCD_TLS_PARAMS,
          'username',
          'password',
          'passwordFile',
          ...ETCD_INTEGER_PARAMS,
        ]);
      } catch (err) {
        // A password with an unencoded `/`, `?` or `#` ends the authority early, and the rest of
        // it reads as a host, a path or a parameter: an error quoting those would show part of
        // it. When an `@` follows the authority, say what is likely wrong and quote nothing.
        if (etcdUserInfo === undefined && /^etcds?:\/\/[^\s@]*@/i.test(url))
          throw invalidUrl(
            url,
            "it has an '@' after the host list; if it is user:password@, percent-encode the user name and password ('/' as %2F, '?' as %3F, '#' as %23, '@' as %40)",
          );
        throw err;
      }
      const endpoints = (etcdHosts ?? '').split(',').filter((h) => h !== '');
      const { username, password } = await etcdCredentials(url, etcdUserInfo, params, options.password);
      const tlsFiles = ETCD_TLS_PARAMS.filter((name) => params[name] !== undefined);
      if (scheme === 'etcd' && tlsFiles.length > 0)
        throw invalidUrl(url, `${tlsFiles.join(', ')} need TLS: use etcds://`);
      const numeric: Record<string, number> = {};
      for (const name of ETCD_INTEGER_PARAMS) {
        if (params[name] === undefined) continue;
        const n = Number(params[name]);
        if (!Number.isSafeInteger(n)) throw invalidUrl(url, `${name} must be an integer`);
        numeric[name] = n;
      }
      const { readFileSync } = await import('node:fs');
      const tls: Record<string, string> = {};
      for (const name of tlsFiles) {
        try {
          tls[name] = readFileSync(params[name]!, 'utf8');
        } catch (err) {
          throw invalidUrl(url, `cannot read the ${name} file ${params[name]}: ${(err as Error).message}`);
        }
      }
      const { EtcdStore } = await import('./etcd/index.js');
      store = new EtcdStore({
        endpoints,
        tls: scheme === 'etcds' ? tls : false,
        username,
        password,
        ...numeric,
        clock: options.clock,
      });
      break;
    }
    case 'postgres:':
    case 'postgresql:': {
      const { postgresOptionsFromUrl } = await import('./postgres/url.js');
      const pgOptions = postgresOptionsFromUrl(parsed, params, options.password, (problem) =>
        invalidUrl(url, problem),
      );
      const { PostgresStore } = await import('./postgres/index.js');
      store = await PostgresStore.open({ ...pgOptions, create: options.create, clock: options.clock });
      break;
    }
    case 'redis:':
    case 'rediss:': {
      const { redisOptionsFromUrl } = await import('./redis/url.js');
      const redisOptions = await redisOptionsFromUrl(parsed, params, options.password, (problem) =>
        invalidUrl(url, problem),
      );
      const { RedisStore } = await import('./redis/index.js');
      store = new RedisStore({ ...redisOptions, clock: options.clock });
      break;
    }
    case 'redis+sentinel:': {
      const { redisOptionsFromUrl } = await import('./redis/url.js');
      const redisOptions = await redisOptionsFromUrl(
        parsed,
        params,
        options.password,
        (problem) => invalidUrl(url, problem),
        sentinelAuthority?.[3] ?? '',
      );
      const { RedisStore } = await import('./redis/index.js');
      store = new RedisStore({ ...redisOptions, clock: options.clock });
      break;
    }
    default:
      throw invalidUrl(url, `unknown scheme ${JSON.stringify(parsed.protocol)}`);
  }
  return namespace === undefined || namespace === '' ? store : withNamespace(store, namespace);
}

/**
 * The etcd user name and password, from wherever the caller put them: the URL's user
 * information (`etcd://user:password@host`), `?username=` and `?password=`, `?passwordFile=`
 * (a file whose content, without its trailing newline, is the password) or `options.password`.
 * Each may be given once; a user name needs a password and a password needs a user name.
 */
async function etcdCredentials(
  url: string,
  userInfo: string | undefined,
  params: Record<string, string>,
  optionPassword: string | undefined,
): Promise<{ username: string | undefined; password: string | undefined }> {
  const users: string[] = [];
  const passwords: [source: string, value: string][] = [];
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    const user = decodeComponent(colon < 0 ? userInfo : userInfo.slice(0, colon));
    const pass = colon < 0 ? undefined : decodeComponent(userInfo.slice(colon + 1));
    if (user === undefined || (colon >= 0 && pass === undefined))
      throw invalidUrl(url, 'the user information has a malformed %-escape');
    if (user !== '') users.push(user);
    if (pass !== undefined) passwords.push(['user:password@', pass]);
  }
  if (params.username !== undefined) users.push(params.username);
  if (params.password !== undefined) passwords.push(['password=', params.password]);
  if (params.passwordFile !== undefined) {
    const { readFile } = await import('node:fs/promises');
    try {
      const text = await readFile(params.passwordFile, 'utf8');
      passwords.push(['passwordFile=', text.replace(/\r?\n$/, '')]);
    } catch (err) {
      throw invalidUrl(
        url,
        `cannot read the passwordFile ${params.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }
  if (optionPassword !== undefined)
    passwords.push(['options.password (the CLI: TENURE_STORE_PASSWORD[_FILE])', optionPassword]);
  if (users.length > 1)
    throw invalidUrl(url, 'the user name is given twice (user@ and username=): give it once');
  if (passwords.length > 1)
    throw invalidUrl(
      url,
      `the password is given ${passwords.length} times (${passwords.map(([where]) => where).join(', ')}): give it once`,
    );
  const username = users[0];
  const password = passwords[0]?.[1];
  if (username === undefined && password !== undefined)
    throw invalidUrl(url, `a password (${passwords[0]![0]}) needs a user name: etcd://user@host:port`);
  if (username !== undefined && password === undefined)
    throw invalidUrl(
      url,
      `user ${JSON.stringify(username)} needs a password: etcd://user:password@host:port, ?passwordFile=/path, or (CLI) TENURE_STORE_PASSWORD or TENURE_STORE_PASSWORD_FILE`,
    );
  return { username, password };
}

function rejectUnknown(url: string, params: Record<string, string>, known: readonly string[]): void {
  const unknown = Object.keys(params).filter((p) => !known.includes(p));
  if (unknown.length > 0)
    throw invalidUrl(
      url,
      `unknown parameter(s) ${unknown.join(', ')}; known: ${['namespace', ...known].join(', ')}`,
    );
}
