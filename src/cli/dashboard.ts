/** `tenure dashboard`: serves the dashboard of a store until SIGINT/SIGTERM. */
import { openCliStore } from './store-url.js';
import { UsageError } from './usage-error.js';
import { isTenureError } from '../errors.js';
import { startDashboard } from '../dashboard/server.js';

/** Options of {@link runDashboard}. */
export interface DashboardCommandOptions {
  store: string;
  port: number;
  host: string;
  token?: string;
}

/** Runs the dashboard command; resolves with the exit code once stopped. */
export async function runDashboard(o: DashboardCommandOptions): Promise<number> {
  const store = await openCliStore(o.store);
  let dashboard;
  try {
    dashboard = await startDashboard(store, { host: o.host, port: o.port, token: o.token, title: o.store });
  } catch (err) {
    await store.close();
    if (isTenureError(err)) throw new UsageError(err.message);
    throw err;
  }
  process.stdout.write(`dashboard of ${o.store}: ${dashboard.url}  (metrics: /metrics; Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await dashboard.close();
  await store.close();
  return 0;
}
