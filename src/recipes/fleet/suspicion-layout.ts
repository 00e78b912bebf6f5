/**
 * The store layout of published suspicion (see suspicion.ts): where members of a heartbeat mesh
 * publish their opinion of their peers, so that a reader that is not a member can show it.
 *
 * ```
 * suspicion/<group>/<observer id>   under the observer's lease; value = JSON
 *                                   { "threshold": 8, "phi": { "<peer id>": 0.4, ... } }
 * ```
 * @internal
 */
import type { KeyValue } from '../../store/types.js';
import { UndecodedKeys, type UndecodedReport } from '../undecoded-keys.js';

/** `suspicion/`: every published opinion. */
export const SUSPICION_PREFIX = 'suspicion/';

/** The phi at which a detector suspects a peer, when an opinion does not say (phi accrual's). */
export const DEFAULT_PHI_THRESHOLD = 8;

/** `suspicion/<group>/<observer>`. */
export function suspicionKey(group: string, observer: string): string {
  return `${SUSPICION_PREFIX}${group}/${observer}`;
}

/** A published opinion, as stored. */
export interface PublishedSuspicion {
  /** The observer's detector threshold (phi at which it suspects a peer). */
  readonly threshold: number;
  /** Phi per peer, rounded to 0.01. */
  readonly phi: Readonly<Record<string, number>>;
}

/** The stored value of an opinion. */
export function encodeSuspicion(value: PublishedSuspicion): string {
  return JSON.stringify(value);
}

const decoder = new TextDecoder();

/**
 * An opinion's value, checked: its threshold ({@link DEFAULT_PHI_THRESHOLD} if it has none) and
 * only the peers whose phi is a finite number; undefined when it is not `{ "phi": { ... } }`.
 */
export function decodeSuspicion(value: Uint8Array): PublishedSuspicion | undefined {
  let v: Partial<Record<keyof PublishedSuspicion, unknown>> | null;
  try {
    v = JSON.parse(decoder.decode(value)) as typeof v;
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || v.phi === null || typeof v.phi !== 'object') return undefined;
  const phi: Record<string, number> = {};
  for (const [peer, p] of Object.entries(v.phi as Record<string, unknown>))
    if (typeof p === 'number' && Number.isFinite(p)) phi[peer] = p;
  const threshold = typeof v.threshold === 'number' ? v.threshold : DEFAULT_PHI_THRESHOLD;
  return { threshold, phi };
}

/** One observer's published opinion. */
export interface Opinion extends PublishedSuspicion {
  readonly group: string;
  readonly observer: string;
}

/** Every opinion in a range of {@link SUSPICION_PREFIX}. */
export interface SuspicionDescription extends UndecodedReport {
  readonly opinions: readonly Opinion[];
}

/**
 * Decodes a range of `suspicion/`: each observer's opinion; a key that is not
 * `suspicion/<group>/<observer>`, or a value that is not an opinion, is reported. Pure.
 */
export function describe(kvs: readonly KeyValue[], undecoded = new UndecodedKeys()): SuspicionDescription {
  const opinions: Opinion[] = [];
  for (const kv of kvs) {
    const rest = kv.key.startsWith(SUSPICION_PREFIX) ? kv.key.slice(SUSPICION_PREFIX.length) : '';
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1) {
      undecoded.add(kv.key, `not ${SUSPICION_PREFIX}<group>/<member>`);
      continue;
    }
    const v = decodeSuspicion(kv.value);
    if (v === undefined) {
      undecoded.add(kv.key, 'not a published suspicion ({"phi": {...}})');
      continue;
    }
    opinions.push({ group: rest.slice(0, slash), observer: rest.slice(slash + 1), ...v });
  }
  return { opinions, undecoded: undecoded.undecoded, undecodedCount: undecoded.undecodedCount };
}

/** The highest phi any observer publishes for a member, how many publish one, and their threshold. */
export interface MemberPhi {
  readonly phi: number;
  readonly observers: number;
  readonly threshold: number;
}

/**
 * Each member's highest published phi, keyed `<group>/<member>`, counting only observers that
 * `isLive` says are live members (an opinion goes with its observer's lease, but be sure). Pure.
 */
export function highestPhi(
  opinions: readonly Opinion[],
  isLive: (group: string, id: string) => boolean,
): Map<string, MemberPhi> {
  const out = new Map<string, MemberPhi>();
  for (const o of opinions) {
    if (!isLive(o.group, o.observer)) continue;
    for (const [peer, phi] of Object.entries(o.phi)) {
      const key = `${o.group}/${peer}`;
      const had = out.get(key);
      out.set(key, {
        phi: Math.max(had?.phi ?? 0, phi),
        observers: (had?.observers ?? 0) + 1,
        threshold: had?.threshold ?? o.threshold,
      });
    }
  }
  return out;
}
