/**
 * The public entry points export the API, not the internals (issue 12): key prefixes, name
 * checks, the base class of the backends and key ordering stay inside their modules, so they can
 * change without a major version. Checked on the built package's entry points (what `import ...
 * from 'tenure'` and the subpaths load).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const INTERNALS = ['PREFIX', 'checkName', 'StoreBase', 'compareKeys'];
const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { import: string }>;
};

describe('public entry points', () => {
  for (const [subpath, entry] of Object.entries(pkg.exports))
    it(`${subpath} exports no internals`, async () => {
      const mod = (await import(join(root, entry.import))) as Record<string, unknown>;
      expect(Object.keys(mod).length).toBeGreaterThan(0);
      expect(INTERNALS.filter((name) => name in mod)).toEqual([]);
    });

  it('the main entry still exports the API (close() on what it hands out)', async () => {
    const mod = (await import(join(root, pkg.exports['.']!.import))) as Record<string, unknown>;
    for (const name of [
      'Session',
      'Mutex',
      'Election',
      'Membership',
      'ShardManager',
      'TenureError',
      'openStore',
    ])
      expect(name in mod, name).toBe(true);
  });
});
