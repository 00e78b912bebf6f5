/**
 * `--layout` of `tenure lock` and `tenure elect`: tenure's own keys, or etcd's concurrency layout
 * (src/recipes/coordination/etcd-layout.ts) so that `etcdctl lock`/`etcdctl elect` and Go services using
 * `concurrency.Mutex`/`concurrency.Election` on the same etcd exclude each other with tenure.
 */
import { isTenureError } from '../errors.js';
import { checkEtcdName, type Layout } from '../recipes/coordination/etcd-layout.js';
import { checkCliName } from './supervisor.js';
import { UsageError } from './usage-error.js';

export type { Layout };

/**
 * Checks NAME for the layout: tenure's names (one key segment, no `/`), or etcd's (any text
 * without control characters, `/` included, as etcdctl takes it).
 * @throws UsageError naming NAME.
 */
export function checkLayoutName(name: string, layout: Layout): void {
  if (layout !== 'etcd') return checkCliName(name);
  try {
    checkEtcdName(name, 'NAME');
  } catch (err) {
    if (isTenureError(err)) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * The namespace the store opens at when the URL names none. Under the etcd layout: the root,
 * where `etcdctl lock NAME` and a Go service without a namespace put their keys (etcd URLs
 * otherwise default to `tenure/`, and the locks would exclude nothing but each other). A
 * `?namespace=` in the URL still wins, for a Go side that uses `namespace.NewKV`.
 */
export function layoutNamespace(layout: Layout): string | undefined {
  return layout === 'etcd' ? '' : undefined;
}
