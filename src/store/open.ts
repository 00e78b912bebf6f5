/**
 * Opening a store by URL. Each backend module is loaded only when its scheme is asked for, so an
 * application that uses SQLite never loads a network driver.
 */
import type { Clock } from '../clock.js';
import { TenureError } from '../errors.js';
import { withNamespace } from './namespace.js';
// Path checks only (node:fs, node:path): loading them does not load the SQLite driver.
import { checkFileMode, checkPlainPath } from './sqlite/paths.js';
import type { Store } from './types.js';

/** The URL forms {@link openStore} accepts, as shown in its errors. */
export const STORE_URL_FORMS = Object.freeze([
  'memory:',
  'sqlite:relative/path.db',
  'sqlite:///absolute/path.db',
  'etcd://host:port,host:port',
  'etcds://host:port,host:port?ca=/ca.pem&cert=/client.pem&key=/client-key.pem',
]);

/** Options of {@link openStore}; each may also be given as a URL query parameter. */
export interface OpenStoreOptions {
  /** Key prefix for every key of this store (see withNamespace). @default none */
  namespace?: string;
  /** Clock for the memory backend's leases. @default systemClock */
  clock?: Clock;
  /**
   * SQLite: create the database file if it is missing (SqliteStoreOptions.create). Tools that
   * only read a store set false. @default true
   */
  create?: boolean;
  /**
   * SQLite: create the file's missing folder, mode 0700 (SqliteStoreOptions.createFolder).
   * @default false
   */
  createFolder?: boolean;
}

function invalidUrl(url: string, problem: string): TenureError {
  return new TenureError(
    'TENURE_INVALID_URL',
    `invalid store URL ${JSON.stringify(url)}: ${problem}; accepted forms: ${STORE_URL_FORMS.join(', ')}`,
    { details: { url } },
  );
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
 *   without `ca` trusts Node's root CAs), `username` and `password` (etcd auth), and
 *   `requestTimeoutMs`, `connectTimeoutMs`, `watchProbeIntervalMs` (see EtcdStoreOptions).
 * - Any form takes `?namespace=prefix/`.
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
  // An etcd URL lists several hosts, which WHATWG URL cannot parse: its case reads them from here.
  const etcdHosts = /^etcds?:\/\/([^/?#]*)/i.exec(url)?.[1];
  try {
    parsed = new URL(etcdHosts ? url.replace(etcdHosts, 'hosts') : url);
  } catch {
    throw invalidUrl(url, 'it is not a URL');
  }
  const params = Object.fromEntries(parsed.searchParams);
  const namespace = options.namespace ?? params.namespace;
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
      });
      break;
    }
    case 'etcd:':
    case 'etcds:': {
      const scheme = parsed.protocol.slice(0, -1);
      const endpoints = (etcdHosts ?? '').split(',').filter((h) => h !== '');
      if (endpoints.length === 0)
        throw invalidUrl(url, `${scheme}: needs at least one member, as ${scheme}://host:port,host:port`);
      const bad = endpoints.find((h) => !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(h));
      if (bad !== undefined) throw invalidUrl(url, `member ${JSON.stringify(bad)} is not host:port`);
      if (parsed.pathname !== '' && parsed.pathname !== '/')
        throw invalidUrl(url, `${scheme}: takes no path`);
      const ETCD_INTEGER_PARAMS = ['requestTimeoutMs', 'connectTimeoutMs', 'watchProbeIntervalMs'] as const;
      const ETCD_TLS_PARAMS = ['ca', 'cert', 'key'] as const;
      rejectUnknown(url, params, [...ETCD_TLS_PARAMS, 'username', 'password', ...ETCD_INTEGER_PARAMS]);
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
        username: params.username,
        password: params.password,
        ...numeric,
      });
      break;
    }
    case 'redis:':
    case 'rediss:':
    case 'postgres:':
    case 'postgresql:':
      throw invalidUrl(
        url,
        `the ${parsed.protocol.slice(0, -1)} backend is not part of this version of tenure yet`,
      );
    default:
      throw invalidUrl(url, `unknown scheme ${JSON.stringify(parsed.protocol)}`);
  }
  return namespace === undefined || namespace === '' ? store : withNamespace(store, namespace);
}

function rejectUnknown(url: string, params: Record<string, string>, known: readonly string[]): void {
  const unknown = Object.keys(params).filter((p) => !known.includes(p));
  if (unknown.length > 0)
    throw invalidUrl(
      url,
      `unknown parameter(s) ${unknown.join(', ')}; known: ${['namespace', ...known].join(', ')}`,
    );
}
