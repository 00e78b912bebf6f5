/**
 * The status lines `tenure lock` and `tenure elect` write on stderr (stdout is CMD's): a sentence
 * for people, or with `--json` one JSON object per line for programs, each with an `event` name,
 * the local time, and the facts of the event (fencing token, term, cause, exit code). The
 * events are listed in docs/cli.md.
 */

/** The error code of a loss or failure (TENURE_SESSION_EXPIRED, ...), for a `--json` event. */
export const codeOf = (reason: unknown): unknown => (reason as { code?: unknown } | undefined)?.code;

/** One event: its name and its facts. */
export interface StatusEvent {
  readonly event: string;
  readonly [fact: string]: unknown;
}

/** Writes `event` as JSON, or `text` (when there is one) as a `tenure: ` line. */
export type StatusLine = (event: StatusEvent, text?: string) => void;

/**
 * JSON.stringify escapes C0 controls but leaves DEL, the C1 controls and the Unicode line
 * separators raw; a holder's name read from the store could carry them to a terminal.
 */
const RAW = /[\u007f-\u009f\u2028\u2029]/g;
const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** The status line writer of a command run with `--json` (`json`) or without. */
export function statusLine(
  json: boolean,
  write: (s: string) => unknown = (s) => process.stderr.write(s),
): StatusLine {
  return (event, text) => {
    if (json) write(`${JSON.stringify({ ...event, time: new Date().toISOString() }).replace(RAW, escape)}\n`);
    else if (text !== undefined) write(`tenure: ${text}\n`);
  };
}
