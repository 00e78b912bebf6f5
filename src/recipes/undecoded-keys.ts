/**
 * The bounded report of keys a layout's `describe()` could not decode: the first few listed (key
 * and reason clipped), all counted. One malformed key must never hide or break the rest, and a
 * store full of them must not make a reader's memory grow with it.
 * @internal
 */

/** A key a layout could not decode, and why. */
export interface UndecodedKey {
  readonly key: string;
  readonly reason: string;
}

/** How many undecodable keys a describe() lists (the rest are only counted). @default 32 */
export const MAX_UNDECODED = 32;

/** Longest key or reason kept in a report: both may quote the store. */
const CLIP = 200;
const clip = (text: string) => (text.length > CLIP ? `${text.slice(0, CLIP)}…` : text);

/** What a describe() could not decode. */
export interface UndecodedReport {
  /** The first {@link MAX_UNDECODED} (or the collector's limit), in the order met. */
  readonly undecoded: readonly UndecodedKey[];
  /** How many in all, including those not listed. */
  readonly undecodedCount: number;
}

/** Collects undecodable keys: the first `limit` listed, all counted. */
export class UndecodedKeys implements UndecodedReport {
  readonly undecoded: UndecodedKey[] = [];
  undecodedCount = 0;
  constructor(readonly limit: number = MAX_UNDECODED) {}

  add(key: string, reason: string): void {
    this.undecodedCount++;
    if (this.undecoded.length < this.limit) this.undecoded.push({ key: clip(key), reason: clip(reason) });
  }

  /** Adds another report's keys (a nested describe's). */
  merge(report: UndecodedReport): void {
    for (const u of report.undecoded) this.add(u.key, u.reason);
    this.undecodedCount += report.undecodedCount - report.undecoded.length;
  }

  /** A frozen copy. */
  report(): UndecodedReport {
    return { undecoded: [...this.undecoded], undecodedCount: this.undecodedCount };
  }
}
