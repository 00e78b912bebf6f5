/**
 * Bounded label values. Names that come from the store (elections, locks, groups, members) become
 * Prometheus label values, and every distinct value is a new time series: a fleet that names a
 * lock per customer would otherwise grow the scrape without bound. A {@link LabelCap} admits at
 * most `limit` distinct values per label; any later value is reported as {@link OVERFLOW_LABEL}.
 * Values are also cleaned: control characters become `?`, and values longer than
 * {@link MAX_LABEL_LENGTH} characters are cut (with `…`), so that a hostile or broken key cannot
 * make one label value megabytes long.
 */
import { invalidArgument } from '../errors.js';

/** The label value that stands for every value beyond the cap. */
export const OVERFLOW_LABEL = '_other';

/** Longest label value kept (longer values are cut). */
export const MAX_LABEL_LENGTH = 128;

/**
 * Distinct values admitted per label by default.
 * @default 100 — a fleet's elections, locks and groups are named in code and number in the tens;
 * members are bounded by the fleet's size.
 */
export const DEFAULT_LABEL_LIMIT = 100;

/** A value as it may appear in a label: no control characters, at most {@link MAX_LABEL_LENGTH}. */
export function cleanLabel(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length <= MAX_LABEL_LENGTH ? clean : `${clean.slice(0, MAX_LABEL_LENGTH - 1)}…`;
}

/**
 * The values admitted for one label. Values are admitted first come, first served, up to `limit`;
 * {@link release} gives a slot back (a departed member's series was removed), so that a fleet
 * whose members come and go keeps reporting new ones.
 */
export class LabelCap {
  readonly limit: number;
  readonly #admitted = new Set<string>();
  /** Distinct values reported as {@link OVERFLOW_LABEL} so far. */
  #overflowed = new Set<string>();

  /** @throws TENURE_INVALID_ARGUMENT unless `limit` is a positive integer. */
  constructor(limit: number = DEFAULT_LABEL_LIMIT) {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw invalidArgument('maxLabelValues', `must be a positive integer, got ${String(limit)}`);
    this.limit = limit;
  }

  /** The label value for `value`: itself (cleaned) while under the cap, else {@link OVERFLOW_LABEL}. */
  label(value: string): string {
    const clean = cleanLabel(value);
    if (this.#admitted.has(clean)) return clean;
    if (this.#admitted.size < this.limit && clean !== OVERFLOW_LABEL) {
      this.#admitted.add(clean);
      this.#overflowed.delete(clean);
      return clean;
    }
    // Bounded too: only counted, at most limit × 10 remembered.
    if (this.#overflowed.size < this.limit * 10) this.#overflowed.add(clean);
    return OVERFLOW_LABEL;
  }

  /** Gives back the slot of `value` (its series are gone). */
  release(value: string): void {
    this.#admitted.delete(cleanLabel(value));
  }

  /** Values currently admitted. */
  get size(): number {
    return this.#admitted.size;
  }

  /** Distinct values seen beyond the cap (at most limit × 10 counted). */
  get overflowed(): number {
    return this.#overflowed.size;
  }
}
