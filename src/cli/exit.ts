/**
 * Exiting the CLI without losing output. `process.exit()` ends the process at once, and on POSIX
 * a pipe's writes are asynchronous: whatever the reader has not taken yet (anything past the
 * kernel's 64 KiB pipe buffer) would be dropped, so `tenure status | less` showed a cut table.
 */

/** Resolves once everything written so far to `stream` has been handed to the OS (or failed). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // A reader that went away (EPIPE) is not our failure: nothing more can be delivered.
    const ignore = () => resolve();
    stream.once('error', ignore);
    // Writes complete in order: the callback of this empty write runs after every earlier one.
    stream.write('', () => {
      stream.off('error', ignore);
      resolve();
    });
  });
}

/** Waits until stdout and stderr have been written out, then exits with `code`. */
export async function exitAfterOutput(code: number): Promise<never> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}
