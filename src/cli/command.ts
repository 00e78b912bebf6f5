/**
 * The user's command (the CMD of `tenure lock NAME -- CMD` and `tenure elect NAME -- CMD`), run
 * as a process group that is signalled, waited for and killed as one, and that dies with its
 * supervisor (convention 15).
 *
 * Design:
 * - CMD starts in a new session (`spawn(…, { detached: true })`, which is setsid(2)), so its pid
 *   is its process group id and everything it starts stays in that group unless it leaves on
 *   purpose (setsid, a daemon's double fork). A new group in the supervisor's own session would
 *   keep the controlling terminal, but Node can neither setpgid(2) a child nor hand it the
 *   terminal (tcsetpgrp(3)), and a group that is not the terminal's foreground is stopped by
 *   SIGTTIN/SIGTTOU as soon as it reads the terminal or sets its modes (a prompt, `less`). In a new
 *   session CMD still reads and writes the terminal through the descriptors it inherits (the
 *   terminal is not its controlling one, so job control does not apply), but it has no
 *   `/dev/tty` and the terminal does not signal it: the supervisor passes Ctrl-C on (once, as the
 *   terminal would have) and window-size changes, and stops CMD on a hang-up.
 * - Signals go to the whole group (`kill(-pgid)`). When the group leader has exited, whatever it
 *   left in the group gets SIGTERM, then SIGKILL after the grace period; {@link Command.ended}
 *   resolves only when no live process is left in the group, so a lock is never released while a
 *   grandchild of CMD still runs. Zombies do not count: they have ended, and an init that does not
 *   reap (a container's pid 1) would otherwise keep the group alive forever.
 * - If the supervisor is SIGKILLed, two independent mechanisms end the group: CMD is started
 *   through util-linux `setpriv --pdeathsig KILL` (the kernel kills CMD when its parent dies; the
 *   setting is not inherited by CMD's children), and a watchdog (`/bin/sh`, in a session of its
 *   own so that no terminal or group signal reaches it) holds a pipe from the supervisor: when the
 *   supervisor dies the kernel closes the pipe, and on that end-of-file the watchdog sends SIGKILL
 *   to the whole group. A supervisor that ends normally writes `done` first, once the group is
 *   gone. CMD does not start before its watchdog runs: it is exec'd by a `/bin/sh` gate that waits
 *   for the supervisor's `go` (a supervisor killed in between leaves nothing running; measured:
 *   without the gate, 2 runs in 10 that SIGKILLed tenure as soon as CMD printed left CMD's child
 *   running). Where setpriv is missing (it is part of util-linux, which Debian marks Essential)
 *   the watchdog alone does the job. setpriv, the gate and CMD exec one another in one pid, which
 *   is the group id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { delimiter, join } from 'node:path';
import { sleep } from '../sleep.js';

/** How a command ended, as a shell would report it. */
export interface CommandExit {
  /** The exit code, or 128 + the signal number when a signal ended it. */
  readonly code: number;
  /** The signal that ended it, if any. */
  readonly signal: NodeJS.Signals | null;
}

/** Options of {@link Command.start}. */
export interface CommandOptions {
  /** Added to this process's environment. */
  env: Record<string, string>;
  /** Time between SIGTERM (or SIGINT) to the group and SIGKILL to the group. */
  graceMs: number;
  /** Where notices go (one line each, without the `tenure: ` prefix). @default stderr */
  log?: (line: string) => void;
}

/** How often the group is checked for remaining processes once its leader has exited. */
const GROUP_POLL_MS = 20;
/**
 * How long after SIGKILL the group may take to disappear before the supervisor stops waiting for
 * it (a process in uninterruptible sleep, e.g. on a hung NFS mount, dies only when it wakes).
 */
export const KILL_WAIT_MS = 5000;

/**
 * The watchdog's script: $1 is the group; any line but `done` (end-of-file included) kills it.
 * (dash's kill needs `--` before a negative pid.)
 */
const WATCHDOG = 'read line; [ "$line" = done ] || kill -s KILL -- -"$1"';

/**
 * What CMD runs as until its watchdog exists: it waits for `go` on fd 3 (end-of-file, when the
 * supervisor died meanwhile, means: do not start), closes fd 3 and execs CMD in its place, so
 * that CMD keeps the pid that is the group id. Without this gate, a supervisor killed between
 * starting CMD and starting the watchdog would leave CMD's first children running.
 */
const GATE = 'read go <&3 && [ "$go" = go ] || exit 125; exec 3<&-; exec "$@"';

/** The path of util-linux `setpriv` if it is installed (Linux only), else undefined. */
export const SETPRIV: string | undefined = findExecutable('setpriv');

function findExecutable(name: string): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const file = join(dir, name);
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * True while a live (not zombie) process is in the process group `pgid`. `kill(-pgid, 0)` answers
 * ESRCH once the group is empty; zombies still count for it, so on Linux a positive answer is
 * checked in /proc.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    return true; // EPERM: a member runs as another user, so the group is not empty
  }
  let pids: string[];
  try {
    pids = readdirSync('/proc');
  } catch {
    return true; // no /proc: trust kill(2)
  }
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue; // ended meanwhile
    }
    // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

/** A running command: a process group led by CMD. */
export class Command {
  /** The group leader: setpriv, which execs the gate, which execs CMD (one pid throughout). */
  readonly child: ChildProcess;
  /** The process group id (CMD's pid); undefined if CMD could not be started. */
  readonly pgid: number | undefined;
  /** Resolves when the group leader has exited. */
  readonly exited: Promise<CommandExit>;
  /**
   * Resolves, with the leader's exit, when no live process is left in the group (or
   * {@link KILL_WAIT_MS} after SIGKILL, with a notice). Never rejects.
   */
  readonly ended: Promise<CommandExit>;
  readonly #graceMs: number;
  readonly #log: (line: string) => void;
  readonly #watchdog: ChildProcess | undefined;
  #ended = false;
  #killTimer: NodeJS.Timeout | undefined;
  #killedAt: number | undefined;

  private constructor(child: ChildProcess, o: CommandOptions) {
    this.child = child;
    this.pgid = child.pid;
    this.#graceMs = o.graceMs;
    this.#log = o.log ?? ((line) => process.stderr.write(`tenure: ${line}\n`));
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.#log(`cannot run ${child.spawnfile}: ${err.message}`);
        resolve({ code: 127, signal: null });
      });
      child.once('exit', (code, signal) => {
        resolve({
          code: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0),
          signal,
        });
      });
    });
    this.#watchdog = this.pgid === undefined ? undefined : startWatchdog(this.pgid);
    const gate = child.stdio[3] as (NodeJS.WritableStream & { on: ChildProcess['on'] }) | null;
    gate?.on('error', () => undefined);
    gate?.end('go\n');
    this.ended = this.exited.then(async (exit) => {
      await this.#untilGroupGone();
      this.#ended = true;
      clearTimeout(this.#killTimer);
      // Only now: from here on the group id may be reused, and must never be signalled again.
      this.#watchdog?.stdin?.end('done\n');
      return exit;
    });
  }

  /**
   * Starts `argv[0]` with `argv[1..]` as the leader of a new process group (in a new session),
   * with this process's environment plus `o.env`, inherited stdio, and the group bound to this
   * process's life.
   *
   * @example
   * ```ts
   * const command = Command.start(['node', 'report.js'], { env: { TENURE_FENCING_TOKEN: '17' }, graceMs: 10_000 });
   * lock.signal.addEventListener('abort', () => void command.stop('SIGTERM'));
   * const { code } = await command.ended; // the whole group is gone: now release the lock
   * ```
   */
  static start(argv: readonly string[], o: CommandOptions): Command {
    const gated = ['/bin/sh', '-c', GATE, 'tenure', ...argv];
    const [bin, ...args] = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...gated] : gated;
    const child = spawn(bin!, args, {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      env: { ...process.env, ...o.env },
      detached: true,
    });
    return new Command(child, o);
  }

  /** Sends `signal` to every process of the group, unless the group is known to be gone. */
  signal(signal: NodeJS.Signals): void {
    if (this.#ended || this.pgid === undefined) return;
    try {
      process.kill(-this.pgid, signal);
    } catch {
      // ESRCH: the group emptied meanwhile
    }
  }

  /**
   * Sends `signal` (SIGTERM by default) to the whole group, then SIGKILL to the whole group if
   * any of it still runs `graceMs` after the first call. Resolves as {@link Command.ended}.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<CommandExit> {
    if (this.#ended) return this.ended;
    this.signal(signal);
    this.#killTimer ??= setTimeout(() => {
      this.#killedAt = performance.now();
      this.signal('SIGKILL');
    }, this.#graceMs);
    return this.ended;
  }

  async #untilGroupGone(): Promise<void> {
    const pgid = this.pgid;
    if (pgid === undefined || !groupAlive(pgid)) return;
    if (this.#killTimer === undefined) {
      this.#log(
        `CMD exited; stopping what it left running in its process group ${pgid} (SIGTERM, SIGKILL after ${this.#graceMs} ms)`,
      );
      void this.stop('SIGTERM');
    }
    while (groupAlive(pgid)) {
      if (this.#killedAt !== undefined && performance.now() - this.#killedAt > KILL_WAIT_MS) {
        this.#log(
          `process group ${pgid} still has processes ${KILL_WAIT_MS} ms after SIGKILL (uninterruptible sleep?); not waiting longer`,
        );
        return;
      }
      await sleep(GROUP_POLL_MS);
    }
  }
}

/**
 * Starts the watchdog of group `pgid`: it kills the group when this process's end of its stdin
 * closes without a `done` line first, which is what the kernel does when this process dies.
 */
function startWatchdog(pgid: number): ChildProcess | undefined {
  try {
    const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'tenure-watchdog', String(pgid)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.on('error', () => undefined);
    watchdog.stdin?.on('error', () => undefined);
    // Neither the watchdog nor its pipe keeps this process running.
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return watchdog;
  } catch {
    return undefined;
  }
}
