/**
 * The clock SQLite leases run on: one that every process of the host reads alike, that no
 * wall-clock step (NTP, a manual change) moves, and that tells a reboot apart.
 *
 * Linux's CLOCK_MONOTONIC (what `process.hrtime` reads) is system-wide: every process sees the
 * same value, and it only moves forward. It restarts from zero at boot, so each store also
 * records the kernel's boot id: leases granted under another boot id are dead.
 */
import { readFileSync } from 'node:fs';

/** Milliseconds of the host's monotonic clock, the same in every process of the host. */
export function hostNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

let cachedBootId: string | undefined;

/**
 * The kernel's boot id (changes at every boot). Where the host has none (not Linux), a reboot
 * cannot be told apart: the value is 'unknown' and the docs say SQLite stores need Linux for it.
 */
export function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = 'unknown';
    }
  }
  return cachedBootId;
}
