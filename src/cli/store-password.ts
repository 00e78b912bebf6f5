/**
 * The store password from the environment, so that it need not be on the command line (where
 * `ps` shows it to every user of the host) nor in TENURE_STORE: `TENURE_STORE_PASSWORD`, or
 * `TENURE_STORE_PASSWORD_FILE` naming a file (a mounted secret) whose content is the password.
 * Only the CLI reads the environment; the library takes `OpenStoreOptions.password`.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './usage-error.js';

/**
 * The password set by `TENURE_STORE_PASSWORD` or `TENURE_STORE_PASSWORD_FILE` (its content
 * without the trailing newline), or undefined when neither is set.
 * @throws UsageError when both are set, or the file cannot be read (the message names the
 * variable and the file, never the password).
 */
export function storePasswordFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = env.TENURE_STORE_PASSWORD;
  const file = env.TENURE_STORE_PASSWORD_FILE;
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = file !== undefined && file !== '';
  if (hasDirect && hasFile)
    throw new UsageError('set TENURE_STORE_PASSWORD or TENURE_STORE_PASSWORD_FILE, not both');
  if (hasDirect) return direct;
  if (!hasFile) return undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new UsageError(
      `cannot read TENURE_STORE_PASSWORD_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}
