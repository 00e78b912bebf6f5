/**
 * Member bookkeeping shared by the algorithms: ids, weights, stable member numbers (reused after
 * removal so arrays stay dense) and a stamp array that makes "have I seen this member" checks in
 * lookupN allocation-free.
 * @internal
 */
import { checkNode, checkWeight, duplicateNode, unknownNode } from './errors.js';

/** @internal */
export class Members {
  /** Member number → id ('' for a free number). */
  readonly ids: string[] = [];
  /** Member number → weight (0 for a free number). */
  readonly weights: number[] = [];
  private readonly numbers = new Map<string, number>();
  private readonly free: number[] = [];
  private stamps = new Uint32Array(16);
  private stamp = 0;

  get size(): number {
    return this.numbers.size;
  }

  numberOf(node: string): number | undefined {
    return this.numbers.get(node);
  }

  has(node: string): boolean {
    return this.numbers.has(node);
  }

  weightOf(node: string): number | undefined {
    const i = this.numbers.get(node);
    return i === undefined ? undefined : this.weights[i];
  }

  /** Validates and adds; returns the member number. */
  add(node: string, weight: number, unweighted = false, algorithm = ''): number {
    checkNode(node);
    checkWeight(weight, unweighted, algorithm);
    if (this.numbers.has(node)) throw duplicateNode(node);
    const i = this.free.length > 0 ? this.free.pop()! : this.ids.length;
    this.ids[i] = node;
    this.weights[i] = weight;
    this.numbers.set(node, i);
    if (i >= this.stamps.length) {
      const next = new Uint32Array(Math.max(16, this.stamps.length * 2, i + 1));
      next.set(this.stamps);
      this.stamps = next;
    }
    return i;
  }

  /** Removes; returns the freed member number. */
  remove(node: string): number {
    const i = this.numbers.get(node);
    if (i === undefined) throw unknownNode(checkNode(node));
    this.numbers.delete(node);
    this.ids[i] = '';
    this.weights[i] = 0;
    this.free.push(i);
    return i;
  }

  /** Ids sorted (code-unit order, the same in every process). */
  sorted(): string[] {
    return [...this.numbers.keys()].sort(compareIds);
  }

  /** Sum of the weights. */
  totalWeight(): number {
    let w = 0;
    for (const i of this.numbers.values()) w += this.weights[i]!;
    return w;
  }

  /** Starts a new "seen" set for one lookupN call. */
  beginSeen(): void {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
  }

  /** Marks member `i` seen; returns false if it already was. */
  see(i: number): boolean {
    if (this.stamps[i] === this.stamp) return false;
    this.stamps[i] = this.stamp;
    return true;
  }
}

/** Orders ids by UTF-16 code units: locale-independent, so every process agrees. @internal */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
