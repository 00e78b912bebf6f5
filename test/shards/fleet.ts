/**
 * A fleet of shard-member processes on one store (a SQLite file by default, or any store URL),
 * and reads of its state. The fenced resource is a SQLite file shared by the processes.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, groupPrefix } from '../../src/recipes/fleet/shard-layout.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/types.js';
import { startNode, type Child } from '../helpers/processes.js';

export const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'shard-member.mjs');

export interface FleetState {
  /** Slot → holder id (undefined: free). */
  holders: (string | undefined)[];
  /** Slot → fencing token of its key. */
  tokens: number[];
  members: string[];
  tableMembers: string[];
  tableOwners: (string | undefined)[];
}

/** Where the fleet keeps its state: a URL for the children and a store the test reads it with. */
export interface FleetBackend {
  url: string;
  store: Store;
}

export class Fleet {
  readonly store: Store;
  readonly url: string;
  readonly children = new Map<string, Child>();
  constructor(
    readonly dir: string,
    readonly slotCount: number,
    readonly ttlMs: number,
    backend?: FleetBackend,
  ) {
    this.url = backend?.url ?? join(dir, 'store.db');
    this.store = backend?.store ?? new SqliteStore({ path: this.url });
  }

  start(id: string, mode: 'safe' | 'unsafe' = 'safe', weight = 1, settleMs = 200): Child {
    const c = startNode(FIXTURE, [
      this.url,
      join(this.dir, 'fence.db'),
      id,
      String(this.ttlMs),
      String(this.slotCount),
      mode,
      String(weight),
      String(settleMs),
    ]);
    this.children.set(id, c);
    return c;
  }

  async state(): Promise<FleetState> {
    const read = await this.store.range(groupPrefix('fleet'));
    const d = describe(read.kvs, { group: 'fleet', slotCount: this.slotCount });
    if (d.undecodedCount > 0)
      throw new Error(`the fleet's store has keys the layout cannot decode: ${JSON.stringify(d.undecoded)}`);
    const holders = d.slots.map((s) => s.holder);
    const tokens = d.slots.map((s) => s.token ?? 0);
    const tableMembers = [...(d.table?.nodes ?? [])];
    const tableOwners = d.table === undefined ? [] : d.slots.map((s) => s.planned);
    const members = (await this.store.range('members/fleet/')).kvs.map((kv) =>
      kv.key.slice('members/fleet/'.length),
    );
    return { holders, tokens, members, tableMembers, tableOwners };
  }

  /** Every live member is in the table and every slot is held by its table owner. */
  async converged(expected: string[]): Promise<FleetState | undefined> {
    const s = await this.state();
    const want = [...expected].sort().join();
    if (s.members.sort().join() !== want || s.tableMembers.join() !== want) return undefined;
    return s.holders.every((h, i) => h !== undefined && h === s.tableOwners[i]) ? s : undefined;
  }

  /** Rows of the fenced table. */
  fence(): { slot: number; token: number; owner: string; writes: number }[] {
    const db = new Database(join(this.dir, 'fence.db'), { readonly: true, timeout: 5000 });
    try {
      return db.prepare('SELECT slot, token, owner, writes FROM fence ORDER BY slot').all() as {
        slot: number;
        token: number;
        owner: string;
        writes: number;
      }[];
    } finally {
      db.close();
    }
  }

  /** JSON events printed by the children, optionally of one type. */
  events(type?: string): { event: string; id: string; at: number; slot?: number; token?: number }[] {
    const all = [];
    for (const c of this.children.values())
      for (const line of c.lines) {
        try {
          const e = JSON.parse(line) as { event: string; id: string; at: number };
          if (type === undefined || e.event === type) all.push(e);
        } catch {
          // not JSON
        }
      }
    return all;
  }

  async close(): Promise<void> {
    for (const c of this.children.values())
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await Promise.all([...this.children.values()].map((c) => c.exited));
    await this.store.close();
  }
}

/** Polls `fleet.converged(ids)` until it holds; returns the state and when it first held. */
export async function untilConverged(
  fleet: Fleet,
  ids: string[],
  timeoutMs: number,
): Promise<{ state: FleetState; at: number }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const state = await fleet.converged(ids);
    if (state) return { state, at: performance.now() };
    if (performance.now() > deadline) {
      const s = await fleet.state();
      throw new Error(
        `fleet of ${ids.join(',')} did not converge in ${timeoutMs} ms: members ${s.members.join(',')}, table ${s.tableMembers.join(',')}, free ${s.holders.filter((h) => h === undefined).length}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
