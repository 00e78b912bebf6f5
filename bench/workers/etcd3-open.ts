/**
 * The peer of bench/workers/etcd-open.ts: the `etcd3` package's client, from loading it to its
 * first answer (a get). Prints one JSON line, as etcd-open.js does.
 *
 * argv: the members, as host:port,host:port.
 */
const [hosts] = process.argv.slice(2);
if (hosts === undefined) {
  console.error('usage: etcd3-open.js HOST:PORT[,HOST:PORT...]');
  process.exit(2);
}
const ms = (cpu: NodeJS.CpuUsage) => (cpu.user + cpu.system) / 1000;
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
const { Etcd3 } = await import('etcd3');
const client = new Etcd3({ hosts: hosts.split(',').map((h) => `http://${h}`) });
await client.get('startup-probe').string();
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - wall0;
const again0 = process.cpuUsage();
const second = new Etcd3({ hosts: hosts.split(',').map((h) => `http://${h}`) });
await second.get('startup-probe').string();
const againMs = ms(process.cpuUsage(again0));
client.close();
second.close();
process.stdout.write(`${JSON.stringify({ cpuMs: ms(cpu), wallMs, secondStoreCpuMs: againMs })}\n`);
