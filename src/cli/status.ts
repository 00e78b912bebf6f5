/** `tenure status` and `tenure watch`: what the fleet looks like, once or as it changes. */
import { FleetFollower } from '../inspect/follow.js';
import type { EntryView, FleetEvent, FleetSnapshot } from '../inspect/model.js';
import { inspectStore } from '../inspect/read.js';
import { redactUrl } from '../store/redact-url.js';
import { openCliStore } from './store-url.js';
import { formatTable } from './table.js';
import { escapeControlCharacters } from './terminal-text.js';
import { UsageError, oneLine } from './usage-error.js';

/**
 * Human-readable status. Every store-derived string is escaped (see formatTable) and the URL's
 * credentials are redacted.
 *
 * There is no age column: the store keeps revisions, not times, so one read cannot tell how long
 * a leader has led or a holder has held (`watch` and the dashboard time what they see change).
 */
export function formatStatus(s: FleetSnapshot, storeUrl: string): string {
  const out: string[] = [
    `store ${escapeControlCharacters(redactUrl(storeUrl))} at revision ${s.revision}`,
    '',
  ];
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
  // etcd's layout (etcdctl lock, Go's concurrency.Mutex) writes empty values: name the session.
  const shown = (e: EntryView) => (e.value === '' && e.lease !== null ? `(lease ${e.lease})` : e.value);
  const named = (x: { name: string; layout?: 'etcd' }) =>
    x.layout === 'etcd' ? `${x.name} (etcd layout)` : x.name;
  section(
    'ELECTIONS',
    ['NAME', 'LEADER', 'TERM', 'CANDIDATES'],
    s.elections.map((e) => [
      named(e),
      e.leader ? shown(e.leader) : '-',
      // The leader's term: its fencing token, as TENURE_TERM gives it to the leader's command.
      e.leader ? `term ${e.leader.revision}` : '-',
      e.candidates.slice(1).map(shown).join(', ') || '-',
    ]),
  );
  section(
    'LOCKS',
    ['KIND', 'NAME', 'HOLDERS', 'FENCING TOKENS', 'WAITERS'],
    s.locks.map((l) => {
      const who = (e: EntryView) => (e.mode === undefined ? shown(e) : `${e.mode} ${shown(e)}`);
      const kind =
        l.permits === undefined
          ? l.kind
          : `${l.kind} of ${l.permits}${l.permitsDeclared ? ` (DISAGREE: ${l.permitsDeclared.join(', ')})` : ''}`;
      return [
        kind,
        named(l),
        l.holders.map(who).join(', ') || '-',
        l.holders.map((h) => h.revision).join(', ') || '-',
        l.waiters.map(who).join(', ') || '-',
      ];
    }),
  );
  section(
    'MEMBERS',
    ['GROUP', 'ID', 'ADDRESS', 'ZONE', 'SUSPICION', 'LEASE'],
    s.members.map((m) => [
      m.group,
      m.id,
      m.address ?? '-',
      m.zone ?? '-',
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
  if (s.skippedCount > 0) {
    out.push(`SKIPPED: ${s.skippedCount} key${s.skippedCount === 1 ? '' : 's'} this version cannot read`);
    out.push(
      formatTable(
        ['KEY', 'REASON'],
        s.skipped.map((k) => [k.key, k.reason]),
      ),
    );
    if (s.skippedCount > s.skipped.length) out.push(`… and ${s.skippedCount - s.skipped.length} more`);
  }
  return out.join('\n').trimEnd();
}

/**
 * Resolves when the reader of stdout goes away (`tenure status | head`): output ends there,
 * without an EPIPE stack trace. Other write errors stay errors.
 */
function readerGone(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      resolve();
    });
  });
}

/** Prints the fleet once. */
export async function runStatus(storeUrl: string, json: boolean): Promise<number> {
  void readerGone();
  const store = await openCliStore(storeUrl);
  try {
    const snapshot = await inspectStore(store);
    const { events: _events, ...data } = snapshot;
    process.stdout.write(
      json
        ? `${JSON.stringify({ store: redactUrl(storeUrl), ...data }, null, 2)}\n`
        : `${formatStatus(snapshot, storeUrl)}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * One `watch --json` line: one change, with fields named for what they are. `at` is the
 * wall-clock time the watcher saw it (ISO 8601), `atMs` the same in ms since the epoch. Leader
 * and lock events say who had it (`from`) and who has it (`to`); a leader's `term` and a lock's
 * `fencingToken` are the new holder's.
 */
export function watchEvent(e: FleetEvent): Record<string, unknown> {
  const at = { at: new Date(e.at).toISOString(), atMs: e.at };
  switch (e.kind) {
    case 'leader':
      return {
        type: 'leader',
        election: e.name,
        to: e.value,
        term: e.term,
        from: e.previous ?? null,
        fromTerm: e.previousTerm ?? null,
        failoverMs: e.failoverMs ?? null,
        ...at,
      };
    case 'leader-lost':
      return {
        type: 'leader-lost',
        election: e.name,
        to: null,
        from: e.previous,
        fromTerm: e.previousTerm,
        ...at,
      };
    case 'lock':
      return {
        type: 'lock',
        lock: e.name,
        lockKind: e.lockKind,
        mode: e.mode ?? null,
        to: e.value,
        fencingToken: e.term,
        waiting: e.waiting,
        ...at,
      };
    case 'unlock':
      return { type: 'unlock', lock: e.name, lockKind: e.lockKind, to: null, ...at };
    case 'member-join':
    case 'member-leave':
      return { type: e.kind, group: e.name, member: e.value, ...at };
    case 'slots':
      return {
        type: 'slots',
        group: e.name,
        moved: e.moved,
        slotCount: e.slotCount,
        tableRevision: e.term ?? null,
        ...at,
      };
  }
}

/** Prints fleet events as they happen, until SIGINT/SIGTERM. */
export async function runWatch(storeUrl: string, json: boolean): Promise<number> {
  const gone = readerGone();
  const store = await openCliStore(storeUrl);
  const view = new FleetFollower(store);
  view.on('event', (e) => {
    process.stdout.write(
      json
        ? `${JSON.stringify(watchEvent(e))}\n`
        : `${new Date(e.at).toISOString()}  ${escapeControlCharacters(e.text)}\n`,
    );
  });
  view.on('error', (err) =>
    process.stderr.write(`tenure: watch: ${escapeControlCharacters(redactUrl(String(err)))}\n`),
  );
  await view.start();
  if (!view.ready) {
    view.close();
    await store.close();
    throw new UsageError(
      `cannot read the fleet from ${redactUrl(storeUrl)}: ${redactUrl(oneLine(view.failure?.error))}`,
    );
  }
  const s = view.snapshot();
  if (!json)
    process.stdout.write(
      `watching ${escapeControlCharacters(redactUrl(storeUrl))} from revision ${s.revision}: ${s.elections.length} elections, ${s.locks.length} locks, ${s.members.length} members (Ctrl-C to stop)\n`,
    );
  await Promise.race([
    gone,
    new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    }),
  ]);
  view.close();
  await store.close();
  return 0;
}
