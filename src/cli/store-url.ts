/**
 * Which store the CLI talks to, and opening it so that a wrong URL or an unreachable store is one
 * line and exit code 2 rather than a hang or a stack trace.
 */
import { TenureError } from '../errors.js';
import { openStore } from '../store/open.js';
import { redactUrl } from '../store/redact-url.js';
import { defaultSqlitePath } from '../store/sqlite/paths.js';
import type { Store } from '../store/types.js';
import { storePasswordFromEnv } from './store-password.js';
import { UsageError, oneLine } from './usage-error.js';

/**
 * The store used when neither `--store` nor TENURE_STORE is given: the SQLite file
 * `~/.local/state/tenure/store.db` of the user the process runs as (see defaultSqlitePath), the
 * same for every process of that user on this host whatever its directory or environment.
 */
export const DEFAULT_STORE_URL = `sqlite://${defaultSqlitePath()}`;

/** `--store`, else TENURE_STORE, else {@link DEFAULT_STORE_URL}. */
export function resolveStoreUrl(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (option !== undefined && option !== '') return option;
  const fromEnv = env.TENURE_STORE;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_STORE_URL;
}

/** Options of {@link openCliStore}. */
export interface CliStoreOptions {
  /**
   * The command excludes other processes (lock, elect): a store that lives in one process
   * (`memory:`) is refused, and a missing SQLite file is created.
   * @default false
   */
  exclusive?: boolean;
  /**
   * Create a missing SQLite file. Read-only commands (status, watch, dashboard) leave it unset:
   * they never create a store, and a missing one is an error naming its path.
   * @default `exclusive`
   */
  create?: boolean;
  /** How long opening and a first read may take. @default 5000 */
  timeoutMs?: number;
  /**
   * The namespace when the URL names none; a `?namespace=` in the URL wins (`--layout etcd` opens
   * at the root, where etcdctl's keys are).
   * @default openStore's: `tenure/` for etcd URLs, none for the others
   */
  defaultNamespace?: string;
}

/** Whether `url` has a `namespace` query parameter (even an empty one). */
export function urlNamesNamespace(url: string): boolean {
  const query = url.indexOf('?');
  if (query < 0) return false;
  const end = url.indexOf('#', query);
  return new URLSearchParams(url.slice(query + 1, end < 0 ? undefined : end)).has('namespace');
}

/**
 * Opens the store and reads its revision, so that an unreachable store fails here, within
 * `timeoutMs`, with a message naming the URL. Only the default store's folder is created when
 * missing; an explicit path must be in a folder that exists.
 * @throws UsageError for a bad URL, a missing store (read-only), a `memory:` store for an
 * exclusive command, or an unreachable store.
 */
export async function openCliStore(url: string, options: CliStoreOptions = {}): Promise<Store> {
  const { exclusive = false, timeoutMs = 5000 } = options;
  const create = options.create ?? exclusive;
  if (exclusive && /^memory:/i.test(url))
    throw new UsageError(
      `${url} cannot exclude anything across processes (it lives inside one process); use a sqlite: file or etcd://`,
    );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    let store: Store;
    try {
      store = await Promise.race([
        openStore(url, {
          password: storePasswordFromEnv(),
          create,
          createFolder: create && url === DEFAULT_STORE_URL,
          ...(options.defaultNamespace !== undefined && !urlNamesNamespace(url)
            ? { namespace: options.defaultNamespace }
            : {}),
        }),
        deadline,
      ]);
    } catch (err) {
      if (err instanceof TenureError && err.code === 'TENURE_INVALID_URL') throw new UsageError(err.message);
      throw new UsageError(redactUrl(`cannot open store ${url}: ${oneLine(err)}`));
    }
    try {
      await Promise.race([store.revision(), deadline]);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw new UsageError(redactUrl(`store ${url} is unreachable: ${oneLine(err)}`));
    }
    return store;
  } finally {
    clearTimeout(timer);
  }
}
