/**
 * What the placements that are a pure function of their member set share (the rings, Maglev,
 * rendezvous, the slot table): the member set, add with rollback when the placement refuses the
 * change, remove, and the snapshot. @internal
 */
import { Members } from './members.js';
import type { AlgorithmName, ConsistentHash, HashSnapshot } from './types.js';

export abstract class MemberPlacement implements Omit<
  ConsistentHash,
  'lookup' | 'lookupN' | 'hashOf' | 'lookupHash'
> {
  abstract readonly algorithm: AlgorithmName;
  protected readonly members = new Members();

  /** Recomputes the placement after the member set changed; throwing refuses the change. */
  protected abstract rebuild(): void;

  /** The algorithm's options, as recorded in snapshots. */
  protected abstract options(): Record<string, number | string>;

  get size(): number {
    return this.members.size;
  }

  add(node: string, weight = 1): void {
    this.members.add(node, weight);
    try {
      this.rebuild();
    } catch (err) {
      this.members.remove(node);
      throw err;
    }
  }

  remove(node: string): void {
    this.members.remove(node);
    this.rebuild();
  }

  has(node: string): boolean {
    return this.members.has(node);
  }

  nodes(): string[] {
    return this.members.sorted();
  }

  weightOf(node: string): number | undefined {
    return this.members.weightOf(node);
  }

  snapshot(): HashSnapshot {
    return {
      format: 'tenure.hashing/1',
      algorithm: this.algorithm,
      options: this.options(),
      nodes: this.members.sorted().map((node) => ({ node, weight: this.members.weightOf(node)! })),
    };
  }
}
