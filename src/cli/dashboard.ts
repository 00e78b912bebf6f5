/** `tenure dashboard`: serves the dashboard of a store until SIGINT/SIGTERM. */
import { openCliStore } from './store-url.js';
import { UsageError } from './usage-error.js';
import { isTenureError } from '../errors.js';
import { MIN_TOKEN_LENGTH, startDashboard } from '../dashboard/server.js';
import { redactUrl } from '../store/redact-url.js';
import { escapeControlCharacters } from './terminal-text.js';

/** Options of {@link runDashboard}. */
export interface DashboardCommandOptions {
  store: string;
  port: number;
  host: string;
  token?: string;
}

/** Runs the dashboard command; resolves with the exit code once stopped. */
export async function runDashboard(o: DashboardCommandOptions): Promise<number> {
  if (o.token !== undefined && o.token !== '' && o.token.length < MIN_TOKEN_LENGTH)
    throw new UsageError(
      `--token (or TENURE_DASHBOARD_TOKEN) must be at least ${MIN_TOKEN_LENGTH} characters, got ${o.token.length}: make one with \`openssl rand -hex 16\``,
    );
  const shown = escapeControlCharacters(redactUrl(o.store));
  const store = await openCliStore(o.store);
  let dashboard;
  try {
    dashboard = await startDashboard(store, { host: o.host, port: o.port, token: o.token, title: o.store });
  } catch (err) {
    await store.close();
    if (isTenureError(err)) throw new UsageError(err.message);
    throw err;
  }
  process.stdout.write(`dashboard of ${shown}: ${dashboard.url}  (metrics: /metrics; Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await dashboard.close();
  await store.close();
  return 0;
}
