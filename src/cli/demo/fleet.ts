/**
 * The demo's fleet: worker processes started, stopped, killed, paused and resumed by
 * {@link WorkerCommand}s, and their state (alive, joined, leading, told to end, paused) kept from
 * the typed events they report. Everything a worker says, and every exit, goes into the run's
 * {@link EventLog}; a line that does not parse is recorded as invalid, never acted on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { EventLog } from './event-log.js';
import { STOP_GRACE_MS } from './liveness.js';
import { COMMAND_SIGNALS, parseWorkerMessage, type WorkerCommand, type WorkerConfig } from './protocol.js';

/** A command after start, by name. */
export type RunningCommand = Exclude<WorkerCommand['cmd'], 'start'>;

/** One worker process. */
export class WorkerProcess {
  readonly id: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  /** The tail of its stderr, for its last words. */
  stderr = '';
  alive = true;
  /** Set once the orchestrator has told it to end (stop, kill): any other exit is a crash. */
  told = false;
  /** It was paused at some point (its late writes are then expected). */
  paused = false;
  /** It has joined the demo's group (reported `member`) at least once. */
  joined = false;
  /** The last error it reported. */
  lastError: string | undefined;

  /** Runs `script` with the `start` command's configuration as its argument. */
  constructor(script: string, start: Extract<WorkerCommand, { cmd: 'start' }>, log: EventLog) {
    this.id = start.config.id;
    this.proc = spawn(process.execPath, [script, JSON.stringify(start.config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const m = parseWorkerMessage(line);
      if ('invalid' in m) log.record({ kind: 'invalid', worker: this.id, line, reason: m.invalid });
      else if (m.worker !== this.id)
        log.record({ kind: 'invalid', worker: this.id, line, reason: `reported as ${m.worker}` });
      else {
        const { worker, t: _t, ...event } = m;
        log.record({ kind: 'event', worker, event });
      }
    });
    this.exited = new Promise((resolve) =>
      // 'close', not 'exit': every line it wrote is in the log before its end.
      this.proc.once('close', (code, signal) => {
        this.alive = false;
        const crash = this.told ? undefined : `exit code ${code ?? signal}`;
        const lastWords =
          crash === undefined ? undefined : this.stderr.trim().split('\n').at(-1) || undefined;
        log.record({ kind: 'exited', worker: this.id, crash, lastWords });
        resolve();
      }),
    );
  }

  /** Sends a command (as its signal) if the process still runs. */
  command(cmd: RunningCommand): void {
    if (cmd === 'stop' || cmd === 'kill') this.told = true;
    if (cmd === 'pause') this.paused = true;
    if (this.alive) this.proc.kill(COMMAND_SIGNALS[cmd]);
  }
}

/** The fleet of one run. */
export class Fleet {
  readonly workers = new Map<string, WorkerProcess>();
  /** The term each worker leads in, as it reported (deleted when it reports the end, or exits). */
  readonly leading = new Map<string, number>();
  /** Peers some worker's heartbeat mesh suspects now, and since when (the first suspicion). */
  readonly suspected = new Map<string, number>();
  readonly log: EventLog;
  readonly #script: string;
  readonly #config: (id: string) => WorkerConfig;
  #seq = 0;

  /** @param config the configuration of the worker named `id` */
  constructor(log: EventLog, script: string, config: (id: string) => WorkerConfig) {
    this.log = log;
    this.#script = script;
    this.#config = config;
    log.listen((e) => {
      const w = 'worker' in e ? this.workers.get(e.worker) : undefined;
      if (!w) return;
      if (e.kind === 'exited') this.leading.delete(w.id);
      if (e.kind !== 'event') return;
      const ev = e.event;
      if (ev.ev === 'member') w.joined = true;
      else if (ev.ev === 'error') w.lastError = ev.message;
      else if (ev.ev === 'leader') this.leading.set(w.id, ev.term);
      else if (ev.ev === 'leader-end' || ev.ev === 'session-lost' || ev.ev === 'stopped')
        this.leading.delete(w.id);
      else if (ev.ev === 'suspect' && !this.suspected.has(ev.peer)) this.suspected.set(ev.peer, e.at);
      else if (ev.ev === 'recover') this.suspected.delete(ev.peer);
    });
  }

  /** The name the next worker started will have. */
  get nextId(): string {
    return `w${this.#seq + 1}`;
  }

  /** Starts one more worker; returns its name. */
  start(): string {
    const id = `w${++this.#seq}`;
    // Recorded first: its first events can only come after.
    this.log.record({ kind: 'spawned', worker: id });
    this.workers.set(
      id,
      new WorkerProcess(this.#script, { cmd: 'start', config: this.#config(id) }, this.log),
    );
    return id;
  }

  command(id: string, cmd: RunningCommand): void {
    this.workers.get(id)?.command(cmd);
  }

  /** Workers whose process runs (a paused one included), in start order. */
  alive(): string[] {
    return [...this.workers.values()].filter((w) => w.alive).map((w) => w.id);
  }

  /** How many workers ever joined the group. */
  joinedCount(): number {
    return [...this.workers.values()].filter((w) => w.joined).length;
  }

  /** Running workers that have joined: those a fault can hit or that can take over. */
  running(): string[] {
    return this.alive().filter((id) => this.workers.get(id)!.joined);
  }

  /** The highest-term leader among the running workers, as they reported. */
  currentLeader(): [string, number] | undefined {
    let best: [string, number] | undefined;
    for (const [w, t] of this.leading)
      if (this.workers.get(w)?.alive && (!best || t > best[1])) best = [w, t];
    return best;
  }

  /** Resumes and stops every worker; kills those still running after {@link STOP_GRACE_MS}. Idempotent. */
  async close(): Promise<void> {
    for (const w of this.workers.values()) {
      w.command('resume');
      w.command('stop');
    }
    const all = Promise.all([...this.workers.values()].map((w) => w.exited));
    const timer = setTimeout(() => this.workers.forEach((w) => w.command('kill')), STOP_GRACE_MS);
    await all;
    clearTimeout(timer);
  }
}
