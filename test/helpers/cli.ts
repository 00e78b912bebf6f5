/** Running a CLI entry point to its end, as the CLI tests do. */
import { spawnSync } from 'node:child_process';

/** How {@link runCli} runs the command. */
export interface RunCliOptions {
  /** Working directory. @default this process's */
  cwd?: string;
  /** Added to (or, as '', blanking) this process's environment. */
  env?: Record<string, string>;
  /** Killed after this long. @default 20000 */
  timeoutMs?: number;
  /** Largest output kept, per stream. @default Node's (1 MiB) */
  maxBuffer?: number;
}

/** Runs `node entry ...args` and returns its exit code and output. */
export function runCli(
  entry: string,
  args: readonly string[],
  o: RunCliOptions = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [entry, ...args], {
    encoding: 'utf8',
    cwd: o.cwd,
    env: { ...process.env, ...o.env },
    timeout: o.timeoutMs ?? 20_000,
    ...(o.maxBuffer === undefined ? {} : { maxBuffer: o.maxBuffer }),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
