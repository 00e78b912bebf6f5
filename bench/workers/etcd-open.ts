/**
 * Opens an etcd store and waits for its first answer, measuring this process's CPU from before
 * the store's modules load to that answer (a CLI or an application pays exactly this when it opens
 * a store by URL: the backend's modules load lazily, on open). Prints one JSON line.
 *
 * argv: a checkout's package entry as `import` loads it: its main entry (`tenure`, opened with
 * openStore(url)) or its `tenure/etcd` (new EtcdStore with the URL's endpoints); the store URL.
 */
const [entryModule, url] = process.argv.slice(2);
if (entryModule === undefined || url === undefined) {
  console.error('usage: etcd-open.js ENTRY_MODULE URL');
  process.exit(2);
}
const ms = (cpu: NodeJS.CpuUsage) => (cpu.user + cpu.system) / 1000;
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
const entry = (await import(entryModule)) as Partial<
  typeof import('../../src/index.js') & typeof import('../../src/store/etcd/index.js')
>;
// The main entry opens by URL (the etcd backend's modules, gRPC and protobuf, load inside
// openStore); the tenure/etcd entry is the backend itself. A second store shows what the first
// one's load cost, apart from connecting.
const open = async (): Promise<import('../../src/store/types.js').Store> => {
  if (entry.openStore) return await entry.openStore(url);
  if (entry.EtcdStore) return new entry.EtcdStore({ endpoints: url.slice('etcd://'.length).split(',') });
  throw new Error(`${entryModule} has neither openStore nor EtcdStore`);
};
const store = await open();
await store.get('startup-probe');
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - wall0;
const again0 = process.cpuUsage();
const second = await open();
await second.get('startup-probe');
const againMs = ms(process.cpuUsage(again0));
await Promise.all([store.close(), second.close()]);
process.stdout.write(`${JSON.stringify({ cpuMs: ms(cpu), wallMs, secondStoreCpuMs: againMs })}\n`);
