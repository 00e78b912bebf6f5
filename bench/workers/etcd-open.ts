/**
 * Opens an etcd store and waits for its first answer, measuring this process's CPU from before
 * the store's modules load to that answer (a CLI or an application pays exactly this when it opens
 * a store by URL: the backend's modules load lazily, on open). Prints one JSON line.
 *
 * argv: the module to take openStore from (a checkout's package entry, as `import 'tenure'` loads it), the store URL.
 */
const [openModule, url] = process.argv.slice(2);
if (openModule === undefined || url === undefined) {
  console.error('usage: etcd-open.js OPEN_MODULE URL');
  process.exit(2);
}
const ms = (cpu: NodeJS.CpuUsage) => (cpu.user + cpu.system) / 1000;
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
const { openStore } = (await import(openModule)) as typeof import('../../src/store/open.js');
// The etcd backend's own modules (gRPC, protobuf) load inside openStore, on an etcd URL; a second
// store shows what the first one's load cost, apart from connecting.
const store = await openStore(url);
await store.get('startup-probe');
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - wall0;
const again0 = process.cpuUsage();
const second = await openStore(url);
await second.get('startup-probe');
const againMs = ms(process.cpuUsage(again0));
await Promise.all([store.close(), second.close()]);
process.stdout.write(`${JSON.stringify({ cpuMs: ms(cpu), wallMs, secondStoreCpuMs: againMs })}\n`);
