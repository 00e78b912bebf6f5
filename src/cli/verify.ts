/**
 * `tenure verify`: runs a fenced workload against a store with faults, records what every client
 * did, and checks it.
 *
 * Client processes (verify-worker.ts) take a Mutex and write to a fenced register, campaign in an
 * Election, and run a register workload, all under a namespace of their own
 * (`tenure-verify-<random>/`, removed at the end, so it is safe on a shared store). Meanwhile the
 * nemesis SIGKILLs a client (a fresh one replaces it), SIGSTOPs one for 1.5 ttl, or (network
 * stores) cuts one off from the store for 1.5 ttl, the moment it takes the lock, through the TCP
 * proxy each client reaches the store by (verify-proxy.ts): that client keeps running, and must
 * stop acting on what it held by its own deadline. At the end the
 * history goes through the linearizability checker (register) and the lock and election
 * checkers. Exit 0 when everything holds, 1 on a violation or when too little happened to tell.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  BREAKAGES,
  History,
  checkElections,
  checkLinearizability,
  checkLocks,
  keyValueOperations,
  monotonicNow,
  renderTimelineSvg,
  type Breakage,
  type HistoryEvent,
  type LinearizabilityResult,
  type RecipeCheckResult,
} from '../verify/index.js';
import { redactUrl as redactStoreUrl } from '../store/redact-url.js';
import { openCliStore } from './store-url.js';
import { BlackholeProxy, proxiableUrl } from './verify-proxy.js';
import { UsageError } from './usage-error.js';
import type { WorkerConfig } from './verify-worker.js';

/** The faults `--faults` accepts. */
export const VERIFY_FAULTS = ['kill', 'pause', 'partition'] as const;
/** A fault of `--faults`. */
export type VerifyFault = (typeof VERIFY_FAULTS)[number];

/** Options of {@link runVerify}. */
export interface VerifyOptions {
  readonly store: string;
  /** How long the workload runs. */
  readonly durationMs: number;
  readonly faults: readonly VerifyFault[];
  /** Client processes running at once. */
  readonly clients: number;
  /** The clients' session ttl (raised to the store's minimum). */
  readonly ttlMs?: number;
  readonly json: boolean;
  /** Where to write the history (JSON lines) and, on a register violation, its SVG timeline. */
  readonly historyOut?: string;
  /** Self-test: the clients' register goes through a store broken this way, or their lock is unchecked (must fail). */
  readonly inject?: Injection;
}

/** Parses `--faults kill,pause` (or `none`). */
export function parseFaults(text: string): VerifyFault[] {
  if (text === 'none' || text === '') return [];
  const faults = text.split(',').map((f) => f.trim());
  for (const f of faults) {
    if (!(VERIFY_FAULTS as readonly string[]).includes(f))
      throw new UsageError(`--faults: unknown fault '${f}' (accepted: ${VERIFY_FAULTS.join(', ')}, or none)`);
  }
  return [...new Set(faults)] as VerifyFault[];
}

/**
 * What `--inject` breaks, for a self-test of the checkers: the register's store (a
 * {@link Breakage}), or `unchecked-lock`: the clients never call `throwIfLost()` before writing
 * under the lock, as if their session had no deadline (caught when a client is cut off past the
 * ttl, `--faults partition`).
 */
export type Injection = Breakage | 'unchecked-lock';

/** Parses `--inject` (a self-test of the checkers). */
export function parseInject(text: string): Injection {
  const accepted: readonly string[] = [...BREAKAGES, 'unchecked-lock'];
  if (!accepted.includes(text))
    throw new UsageError(`--inject: unknown breakage '${text}' (accepted: ${accepted.join(', ')})`);
  return text as Injection;
}

interface Client {
  readonly id: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<unknown>;
  readonly ready: Promise<void>;
  /** The client's proxies to the store's endpoints (with `--faults partition`). */
  readonly proxies: readonly BlackholeProxy[];
}

/** What `tenure verify --json` prints. */
export interface VerifyReport {
  readonly store: string;
  readonly namespace: string;
  readonly durationMs: number;
  readonly clients: number;
  readonly faults: {
    readonly kills: number;
    readonly pauses: number;
    readonly pauseMs: number;
    readonly partitions: number;
    readonly partitionMs: number;
  };
  readonly register: {
    readonly operations: number;
    readonly verdict: LinearizabilityResult['verdict'];
    readonly statesExplored: number;
    readonly violation?: string;
  };
  readonly locks: {
    readonly holdings: number;
    readonly writesAccepted: number;
    readonly writesRefused: number;
    readonly violations: string[];
  };
  readonly elections: { readonly leaderships: number; readonly violations: string[] };
  /** Reasons the run proves too little (nothing held, nothing checked). */
  readonly tooLittle: string[];
  readonly ok: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `tenure verify`; resolves with the exit code. */
export async function runVerify(options: VerifyOptions): Promise<number> {
  const namespace = `tenure-verify-${randomBytes(6).toString('hex')}/`;
  // Checked before anything is opened: a store the proxy cannot front is a usage error.
  const proxiable = options.faults.includes('partition') ? proxiableUrl(options.store) : undefined;
  const store = await openCliStore(options.store, { exclusive: true });
  const ttlMs = Math.max(options.ttlMs ?? 1000, store.capabilities.minTtlMs);
  const dir = mkdtempSync(join(tmpdir(), 'tenure-verify-'));
  const worker = fileURLToPath(new URL('./verify-worker.js', import.meta.url));
  const clients = new Map<string, Client>();
  let next = 0;
  const log = (line: string) => {
    if (!options.json) process.stderr.write(`verify: ${line}\n`);
  };

  // Clients that just took the lock, for the partition nemesis.
  const took = new EventEmitter<{ holding: [Client] }>();
  const nextHolder = (ms: number) =>
    new Promise<Client | undefined>((resolve) => {
      const timer = setTimeout(() => {
        took.off('holding', on);
        resolve(undefined);
      }, ms);
      const on = (c: Client) => {
        clearTimeout(timer);
        resolve(c);
      };
      took.once('holding', on);
    });

  const start = async (): Promise<Client> => {
    const id = `c${++next}`;
    const proxies: BlackholeProxy[] = [];
    if (proxiable !== undefined)
      for (const target of proxiable.endpoints) proxies.push(await BlackholeProxy.start(target));
    const config: WorkerConfig = {
      url: proxiable === undefined ? options.store : proxiable.rewrite(proxies.map((p) => p.port)),
      namespace,
      id,
      ttlMs,
      out: join(dir, `${id}.jsonl`),
      seed: next,
      ...(options.inject ? { inject: options.inject } : {}),
    };
    const proc = spawn(process.execPath, [worker, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(proc, 'exit');
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        if (l === 'ready') resolve();
        else if (l === 'holding') took.emit('holding', client);
      });
      void exited.then(([code, signal]) =>
        reject(
          new Error(`client ${id} exited (${String(code ?? signal)}) before it was ready: ${stderr.trim()}`),
        ),
      );
    });
    ready.catch(() => undefined);
    void exited.then(() => Promise.all(proxies.map((p) => p.close())));
    const client: Client = { id, proc, exited, ready, proxies };
    clients.set(id, client);
    return client;
  };

  // The nemesis's own events, in the same history.
  const nemesisOut = openSync(join(dir, 'nemesis.jsonl'), 'a');
  const nemesis = (event: Omit<HistoryEvent, 'process' | 'time'>) =>
    writeSync(nemesisOut, JSON.stringify({ ...event, process: 'nemesis', time: monotonicNow() }) + '\n');

  let kills = 0;
  let pauses = 0;
  let pauseMs = 0;
  let partitions = 0;
  let partitionMs = 0;
  try {
    log(
      `${options.clients} clients on ${redactStoreUrl(options.store)} under ${namespace}, ttl ${ttlMs} ms, ${options.durationMs} ms, faults: ${options.faults.join(',') || 'none'}`,
    );
    const first = await Promise.all(Array.from({ length: options.clients }, () => start()));
    await Promise.all(first.map((c) => c.ready));
    const end = Date.now() + options.durationMs;
    // Faults every two ttls, or closer so that each kind happens at least once in a short run.
    const every = Math.min(ttlMs * 2, options.durationMs / (options.faults.length * 2 + 1));
    let turn = 0;
    while (Date.now() < end) {
      await sleep(Math.min(end - Date.now(), every));
      if (Date.now() >= end || options.faults.length === 0) continue;
      const fault = options.faults[turn++ % options.faults.length]!;
      const live = [...clients.values()];
      // A partition cuts off a client the moment it takes the lock (waiting up to a ttl for
      // one): a holder that goes on acting past its deadline is what the cut exists to catch.
      const taker = fault === 'partition' ? await nextHolder(ttlMs) : undefined;
      const victim =
        taker !== undefined && clients.get(taker.id) === taker
          ? taker
          : live[Math.floor(Math.random() * live.length)]!;
      if (fault === 'kill') {
        nemesis({ type: 'invoke', op: 'kill', args: { process: victim.id } });
        victim.proc.kill('SIGKILL');
        await victim.exited;
        nemesis({ type: 'ok', op: 'kill' });
        clients.delete(victim.id);
        kills++;
        log(`killed ${victim.id}`);
        // A fresh client takes its place; the schedule does not wait for it to be ready.
        await start();
      } else if (fault === 'partition') {
        const ms = Math.round(ttlMs * 1.5);
        nemesis({ type: 'invoke', op: 'partition', args: { process: victim.id, ms } });
        for (const p of victim.proxies) p.blackhole();
        await sleep(ms);
        for (const p of victim.proxies) p.heal();
        nemesis({ type: 'ok', op: 'partition' });
        partitions++;
        partitionMs += ms;
        log(`cut ${victim.id} off from the store for ${ms} ms`);
      } else {
        const ms = Math.round(ttlMs * 1.5);
        nemesis({ type: 'invoke', op: 'pause', args: { process: victim.id, ms } });
        victim.proc.kill('SIGSTOP');
        await sleep(ms);
        victim.proc.kill('SIGCONT');
        nemesis({ type: 'ok', op: 'pause' });
        pauses++;
        pauseMs += ms;
        log(`paused ${victim.id} for ${ms} ms`);
      }
    }
    // An orderly end: each client releases what it holds and closes.
    for (const c of clients.values()) c.proc.kill('SIGTERM');
    await Promise.all(
      [...clients.values()].map((c) =>
        Promise.race([c.exited, sleep(ttlMs * 3 + 5000).then(() => c.proc.kill('SIGKILL'))]),
      ),
    );
  } finally {
    for (const c of clients.values()) {
      for (const p of c.proxies) p.heal();
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    }
    try {
      await store.delete(namespace, { prefix: true });
    } finally {
      await store.close();
      await Promise.all([...clients.values()].flatMap((c) => c.proxies.map((p) => p.close())));
    }
  }

  // Every process's events, in the order of the one clock they share; a line cut by SIGKILL is dropped.
  const events: { e: HistoryEvent; i: number }[] = [];
  let i = 0;
  // A client stopped before it even started wrote no file.
  for (const id of ['nemesis', ...Array.from({ length: next }, (_, k) => `c${k + 1}`)].filter((id) =>
    existsSync(join(dir, `${id}.jsonl`)),
  ))
    for (const line of readFileSync(join(dir, `${id}.jsonl`), 'utf8').split('\n'))
      if (line.endsWith('}')) events.push({ e: JSON.parse(line) as HistoryEvent, i: i++ });
  rmSync(dir, { recursive: true, force: true });
  events.sort((a, b) => a.e.time - b.e.time || a.i - b.i);
  const history = new History(events.map((x) => x.e));
  if (options.historyOut !== undefined) writeFileSync(options.historyOut, history.toJsonLines());

  const kv = keyValueOperations(history);
  const register = checkLinearizability(kv.operations);
  const locks = checkLocks(history, { ttlMs });
  const elections = checkElections(history, { ttlMs });
  const ops = history.operations();
  const writes = ops.filter((o) => o.op === 'lock.write' && o.status === 'ok');
  const accepted = writes.filter((o) => (o.result as { accepted?: boolean }).accepted === true).length;
  const tooLittle: string[] = [];
  if (kv.operations.length === 0) tooLittle.push('no register operation completed');
  if (locks.holdings === 0) tooLittle.push('no lock was taken');
  if (elections.holdings === 0) tooLittle.push('no leader was elected');
  const messages = (r: RecipeCheckResult) => r.violations.map((v) => `${v.rule}: ${v.message}`);
  const report: VerifyReport = {
    store: redactStoreUrl(options.store),
    namespace,
    durationMs: options.durationMs,
    clients: options.clients,
    faults: { kills, pauses, pauseMs, partitions, partitionMs },
    register: {
      operations: kv.operations.length,
      verdict: register.verdict,
      statesExplored: register.statesExplored,
      ...(register.violation ? { violation: register.violation.text } : {}),
    },
    locks: {
      holdings: locks.holdings,
      writesAccepted: accepted,
      writesRefused: writes.length - accepted,
      violations: messages(locks),
    },
    elections: { leaderships: elections.holdings, violations: messages(elections) },
    tooLittle,
    ok: register.verdict === 'linearizable' && locks.valid && elections.valid && tooLittle.length === 0,
  };
  if (register.violation && options.historyOut !== undefined)
    writeFileSync(
      `${options.historyOut}.svg`,
      renderTimelineSvg(register.violation.window, { title: `register ${register.violation.key}` }),
    );
  process.stdout.write(options.json ? JSON.stringify(report) + '\n' : renderReport(report));
  return report.ok ? 0 : 1;
}

/** The report as text. */
function renderReport(r: VerifyReport): string {
  const mark = (ok: boolean) => (ok ? 'ok' : 'VIOLATION');
  const lines = [
    `store ${r.store}, namespace ${r.namespace} (removed), ${r.clients} clients, ${(r.durationMs / 1000).toFixed(1)} s`,
    `faults: ${r.faults.kills} SIGKILL, ${r.faults.pauses} SIGSTOP past the ttl (${r.faults.pauseMs} ms in all), ${r.faults.partitions} partitions past the ttl (${r.faults.partitionMs} ms in all)`,
    `register: ${r.register.operations} operations, ${r.register.verdict} (${r.register.statesExplored} configurations explored)`,
    `locks: ${r.locks.holdings} holdings, fenced writes ${r.locks.writesAccepted} accepted / ${r.locks.writesRefused} refused: ${mark(r.locks.violations.length === 0)}`,
    `elections: ${r.elections.leaderships} leaderships: ${mark(r.elections.violations.length === 0)}`,
  ];
  if (r.register.violation) lines.push('', r.register.violation);
  for (const v of [...r.locks.violations, ...r.elections.violations]) lines.push(`  ${v}`);
  for (const t of r.tooLittle) lines.push(`too little happened: ${t}`);
  lines.push(r.ok ? 'verdict: ok' : 'verdict: FAILED');
  return lines.join('\n') + '\n';
}
