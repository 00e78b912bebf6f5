/**
 * The watches waiting on a backend's change log, indexed by key, so that a change wakes the
 * watches of its key and the prefix watches above it, not every watch: 10,000 lock waiters, each
 * watching the key ahead of it, cost O(1) per change instead of 10,000 wake-ups and reads.
 */

/** Called when a watch's key may have changed; `quietUpTo`, when given, as ChangeLog.subscribe says. */
type Wake = (quietUpTo?: number) => void;

interface Watcher {
  readonly key: string;
  readonly wake: Wake;
}

/** The watches of one store, by key and by prefix. */
export class Watchers {
  readonly #exact = new Map<string, Set<Watcher>>();
  readonly #prefixed = new Set<Watcher>();
  #count = 0;

  /** How many watches are registered. */
  get size(): number {
    return this.#count;
  }

  /** Registers `wake` for `key` (with `prefix`, every key under it); returns its idempotent removal. */
  add(key: string, prefix: boolean, wake: Wake): () => void {
    const watcher: Watcher = { key, wake };
    if (prefix) this.#prefixed.add(watcher);
    else {
      let set = this.#exact.get(key);
      if (set === undefined) this.#exact.set(key, (set = new Set()));
      set.add(watcher);
    }
    this.#count++;
    let registered = true;
    return () => {
      if (!registered) return;
      registered = false;
      this.#count--;
      if (prefix) this.#prefixed.delete(watcher);
      else {
        const set = this.#exact.get(key);
        set?.delete(watcher);
        if (set?.size === 0) this.#exact.delete(key);
      }
    };
  }

  /** Wakes, once each, the watches of the changed `keys` and the prefix watches above them. */
  wake(keys: readonly string[], quietUpTo?: number): void {
    const woken = new Set<Watcher>();
    for (const key of keys) {
      const exact = this.#exact.get(key);
      if (exact !== undefined) for (const watcher of exact) woken.add(watcher);
    }
    if (this.#prefixed.size > 0)
      for (const watcher of this.#prefixed)
        if (keys.some((k) => k.startsWith(watcher.key))) woken.add(watcher);
    for (const watcher of woken) watcher.wake(quietUpTo);
  }

  /** Wakes every watch (the store closed, or what changed is not known). */
  wakeAll(): void {
    const all: Watcher[] = [...this.#prefixed];
    for (const set of this.#exact.values()) for (const watcher of set) all.push(watcher);
    for (const watcher of all) watcher.wake();
  }
}
