/** `tenure status` and `tenure watch`: what the fleet looks like, once or as it changes. */
import { FleetView, type EntryView, type FleetSnapshot } from '../dashboard/fleet-view.js';
import { openCliStore } from './store-url.js';
import { formatTable } from './table.js';

/** Human-readable status. */
export function formatStatus(s: FleetSnapshot, storeUrl: string): string {
  const out: string[] = [`store ${storeUrl} at revision ${s.revision}`, ''];
  const section = (title: string, header: string[], rows: string[][]) => {
    out.push(`${title} (${rows.length})`);
    if (rows.length > 0) out.push(formatTable(header, rows));
    out.push('');
  };
  section(
    'SESSIONS',
    ['LEASE', 'KEYS', 'REMAINING'],
    s.sessions.map((x) => [
      x.lease,
      String(x.keys),
      x.remainingMs === undefined ? 'expired' : `${Math.round(x.remainingMs)} ms`,
    ]),
  );
  section(
    'ELECTIONS',
    ['NAME', 'LEADER', 'TERM', 'CANDIDATES'],
    s.elections.map((e) => [
      e.name,
      e.leader?.value ?? '-',
      e.leader ? String(e.leader.revision) : '-',
      e.candidates
        .slice(1)
        .map((c) => c.value)
        .join(', ') || '-',
    ]),
  );
  section(
    'LOCKS',
    ['KIND', 'NAME', 'HOLDERS', 'FENCING TOKENS', 'WAITERS'],
    s.locks.map((l) => {
      const who = (e: EntryView) => (e.mode === undefined ? e.value : `${e.mode} ${e.value}`);
      const kind =
        l.permits === undefined
          ? l.kind
          : `${l.kind} of ${l.permits}${l.permitsDeclared ? ` (DISAGREE: ${l.permitsDeclared.join(', ')})` : ''}`;
      return [
        kind,
        l.name,
        l.holders.map(who).join(', ') || '-',
        l.holders.map((h) => h.revision).join(', ') || '-',
        l.waiters.map(who).join(', ') || '-',
      ];
    }),
  );
  section(
    'MEMBERS',
    ['GROUP', 'ID', 'SUSPICION', 'LEASE'],
    s.members.map((m) => [
      m.group,
      m.id,
      // The heartbeat mesh's phi where members publish it; else the lease-based figure.
      m.phi !== undefined
        ? `phi ${m.phi.toFixed(1)} (${m.phiObservers} peer${m.phiObservers === 1 ? '' : 's'})`
        : m.suspicion === undefined
          ? '-'
          : `lease ${m.suspicion.toFixed(2)}`,
      m.lease ?? '-',
    ]),
  );
  section(
    'SLOTS',
    ['GROUP', 'TABLE REV', 'SLOTS', 'HOLDERS', 'MOVING'],
    s.slots.map((m) => {
      const counts = new Map<string, number>();
      for (const o of m.owners) if (o !== null) counts.set(o, (counts.get(o) ?? 0) + 1);
      const moving = m.owners.filter((o, i) => o === null || o !== m.planned[i]).length;
      return [
        m.name,
        m.epoch === undefined ? '-' : String(m.epoch),
        String(m.owners.length),
        [...counts]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([o, n]) => `${o}:${n}`)
          .join(' ') || '-',
        String(moving),
      ];
    }),
  );
  return out.join('\n').trimEnd();
}

/** Prints the fleet once. */
export async function runStatus(storeUrl: string, json: boolean): Promise<number> {
  const store = await openCliStore(storeUrl);
  try {
    const snapshot = await FleetView.read(store);
    const { events: _events, ...data } = snapshot;
    process.stdout.write(
      json
        ? `${JSON.stringify({ store: storeUrl, ...data }, null, 2)}\n`
        : `${formatStatus(snapshot, storeUrl)}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

/** Prints fleet events as they happen, until SIGINT/SIGTERM. */
export async function runWatch(storeUrl: string, json: boolean): Promise<number> {
  const store = await openCliStore(storeUrl);
  const view = new FleetView(store);
  view.on('event', (e) => {
    process.stdout.write(json ? `${JSON.stringify(e)}\n` : `${new Date(e.at).toISOString()}  ${e.text}\n`);
  });
  view.on('error', (err) => process.stderr.write(`tenure: watch: ${String(err)}\n`));
  await view.start();
  const s = view.snapshot();
  if (!json)
    process.stdout.write(
      `watching ${storeUrl} from revision ${s.revision}: ${s.elections.length} elections, ${s.locks.length} locks, ${s.members.length} members (Ctrl-C to stop)\n`,
    );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  view.close();
  await store.close();
  return 0;
}
