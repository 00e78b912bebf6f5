/**
 * The user's command (the CMD of `tenure lock NAME -- CMD`): started with inherited stdio and
 * extra environment, stopped with SIGTERM and then SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

/** How a command ended, as a shell would report it. */
export interface CommandExit {
  /** The exit code, or 128 + the signal number when a signal ended it. */
  readonly code: number;
  /** The signal that ended it, if any. */
  readonly signal: NodeJS.Signals | null;
}

/** A running command. */
export class Command {
  readonly child: ChildProcess;
  /** Resolves when the command has ended. */
  readonly exited: Promise<CommandExit>;
  #ended = false;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.#ended = true;
        process.stderr.write(`tenure: cannot run ${child.spawnfile}: ${err.message}\n`);
        resolve({ code: 127, signal: null });
      });
      child.once('exit', (code, signal) => {
        this.#ended = true;
        resolve({
          code: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0),
          signal,
        });
      });
    });
  }

  /** Starts `argv[0]` with `argv[1..]`, this process's environment plus `env`. */
  static start(argv: readonly string[], env: Record<string, string>): Command {
    const [file, ...args] = argv;
    const child = spawn(file!, args, { stdio: 'inherit', env: { ...process.env, ...env } });
    return new Command(child);
  }

  /** True once the command has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Sends a signal if the command still runs. */
  kill(signal: NodeJS.Signals): void {
    if (!this.#ended) this.child.kill(signal);
  }

  /**
   * Sends `signal` (SIGTERM by default), then SIGKILL if the command is still running after
   * `graceMs`. Resolves when it has ended.
   */
  async stop(graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<CommandExit> {
    this.kill(signal);
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
