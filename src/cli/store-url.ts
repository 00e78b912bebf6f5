/**
 * Which store the CLI talks to, and opening it so that a wrong URL or an unreachable store is one
 * line and exit code 2 rather than a hang or a stack trace.
 */
import { TenureError } from '../errors.js';
import { openStore } from '../store/open.js';
import { redactUrl } from '../store/redact-url.js';
import type { Store } from '../store/types.js';
import { storePasswordFromEnv } from './store-password.js';
import { UsageError, oneLine } from './usage-error.js';

/** The embedded SQLite file used when neither `--store` nor TENURE_STORE is given. */
export const DEFAULT_STORE_URL = 'sqlite:.tenure/store.db';

/** `--store`, else TENURE_STORE, else {@link DEFAULT_STORE_URL}. */
export function resolveStoreUrl(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (option !== undefined && option !== '') return option;
  const fromEnv = env.TENURE_STORE;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_STORE_URL;
}

/**
 * Opens the store and reads its revision, so that an unreachable store fails here, within
 * `timeoutMs`, with a message naming the URL.
 * @throws UsageError for a bad URL or an unreachable store.
 */
export async function openCliStore(url: string, timeoutMs = 5000): Promise<Store> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    let store: Store;
    try {
      store = await Promise.race([openStore(url, { password: storePasswordFromEnv() }), deadline]);
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
