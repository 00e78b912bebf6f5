/**
 * Whether the files at a store's paths are still the ones this process opened. SQLite keeps its
 * open file descriptors: a connection whose file was deleted, renamed over or restored with new
 * -wal/-shm files goes on reading and writing a file that no other process will ever open again.
 * Comparing the device and inode behind each path with the ones recorded at open catches it, at
 * the cost of one stat(2) per file.
 */
import { statSync } from 'node:fs';

interface FileId {
  dev: number;
  ino: number;
}

function idOf(path: string): FileId | undefined {
  const s = statSync(path, { throwIfNoEntry: false });
  return s === undefined ? undefined : { dev: s.dev, ino: s.ino };
}

/** The device and inode of a set of files, recorded once and compared on demand. */
export class FileIdentity {
  readonly #files: { path: string; id: FileId }[];

  /** Records the files at `paths` that exist now; the missing ones are not checked. */
  constructor(paths: readonly string[]) {
    this.#files = [];
    for (const path of paths) {
      const id = idOf(path);
      if (id !== undefined) this.#files.push({ path, id });
    }
  }

  /** The first recorded path that is gone or is another file now, with what happened to it. */
  changed(): string | undefined {
    for (const { path, id } of this.#files) {
      const now = idOf(path);
      if (now === undefined) return `${path} was deleted`;
      if (now.dev !== id.dev || now.ino !== id.ino) return `${path} was replaced by another file`;
    }
    return undefined;
  }
}
