/**
 * Opens an etcd store and waits for its first answer, measuring this process's CPU from before
 * the store's modules load to that answer (a CLI or an application pays exactly this when it opens
 * a store by URL: the backend's modules load lazily, on open). Prints one JSON line.
 *
 * argv: the open.js module to use (this checkout's or a baseline's), the store URL.
 */
const [openModule, url] = process.argv.slice(2);
if (openModule === undefined || url === undefined) {
  console.error('usage: etcd-open.js OPEN_MODULE URL');
  process.exit(2);
}
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
const { openStore } = (await import(openModule)) as typeof import('../../src/store/open.js');
const store = await openStore(url);
await store.get('startup-probe');
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - wall0;
await store.close();
process.stdout.write(`${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, wallMs })}\n`);
