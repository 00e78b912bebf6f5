/**
 * The store layout of Election: its keys (a queue, see queue-layout), its value (the candidate's
 * proclaimed value, as text) and its holder rule: the leader is the candidate with the lowest
 * create revision, and its term is that create revision.
 *
 * ```
 * election/<name>/<unique>   a candidate; value = its proclaimed value
 * ```
 * @internal
 */
import type { KeyValue } from '../../store/types.js';
import { PREFIX } from '../names.js';
import { groupQueues, queuePrefix, toEntry, type QueueEntry } from './queue-layout.js';
import { UndecodedKeys, type UndecodedReport } from '../undecoded-keys.js';

/** `election/`: every candidate of every election. */
export const ELECTION_PREFIX: string = PREFIX.election;

/** `election/<name>/`: the candidates of one election. */
export function electionPrefix(name: string): string {
  return queuePrefix('election', name);
}

/** One election, decoded. */
export interface ElectionDescription {
  readonly name: string;
  /** The candidate with the lowest create revision; undefined without candidates. */
  readonly leader: QueueEntry | undefined;
  /** The leader's term: its key's create revision (the fencing token it acts with). */
  readonly term: number | undefined;
  /** Every candidate in queue order, the leader first. */
  readonly candidates: readonly QueueEntry[];
}

/** The leader rule applied to one election's candidates (any order). */
export function describeElection(name: string, kvs: readonly KeyValue[]): ElectionDescription {
  const candidates = [...kvs].sort((a, b) => a.createRevision - b.createRevision).map((kv) => toEntry(kv));
  const leader = candidates[0];
  return { name, leader, term: leader?.token, candidates };
}

/** Every election in a range of {@link ELECTION_PREFIX}, and the keys that are not candidates. */
export interface ElectionsDescription extends UndecodedReport {
  /** By name. */
  readonly elections: readonly ElectionDescription[];
}

/**
 * Decodes a range of `election/`: each election's leader, term and candidates, names sorted.
 * Pure; a key that is not `election/<name>/<unique>` is reported, never trusted.
 *
 * @example
 * ```ts
 * const { kvs } = await store.range(ELECTION_PREFIX);
 * describe(kvs).elections.map((e) => [e.name, e.leader?.owner, e.term]);
 * ```
 */
export function describe(kvs: readonly KeyValue[], undecoded = new UndecodedKeys()): ElectionsDescription {
  const { queues } = groupQueues('election', kvs, undecoded);
  return {
    elections: [...queues].map(([name, list]) => describeElection(name, list)),
    undecoded: undecoded.undecoded,
    undecodedCount: undecoded.undecodedCount,
  };
}
