import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { KetamaRing, md5Words } from '../../src/hashing/index.js';

const require = createRequire(import.meta.url);
// The fixtures published with the hashring package, read where npm installed them (not copied).
const fixtures = require.resolve('hashring/tests/fixtures/ketama.txt').replace(/ketama\.txt$/, '');
type HashRingPkg = new (
  servers: string[] | Record<string, number>,
  algorithm?: string,
  options?: object,
) => {
  get(key: string): string;
};
const HashRingPackage = require('hashring') as HashRingPkg;

describe('KetamaRing reproduces libketama', () => {
  it("matches python-ketama's (libketama's) 100,000-key fixture for weights 1..5", () => {
    const lines = readFileSync(`${fixtures}ketama.txt`, 'utf8').split('\n');
    const ring = new KetamaRing([1, 2, 3, 4, 5].map((i) => ({ node: `0.0.0.${i}`, weight: i })));
    let mismatches = 0;
    for (let i = 0; i < 100000; i++) if (`${i} ${ring.lookup(String(i))}` !== lines[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it("matches libmemcached's weighted-ketama fixture (key hash, and server including the wrap-around)", () => {
    const rows = JSON.parse(readFileSync(`${fixtures}libmemcached.json`, 'utf8')) as [
      string,
      number,
      number,
      string,
    ][];
    const weights: Record<string, number> = {
      '10.0.1.1': 600,
      '10.0.1.2': 300,
      '10.0.1.3': 200,
      '10.0.1.4': 350,
      '10.0.1.5': 1000,
      '10.0.1.6': 800,
      '10.0.1.7': 950,
      '10.0.1.8': 100,
    };
    const ring = new KetamaRing(Object.entries(weights).map(([node, weight]) => ({ node, weight })));
    expect(rows.length).toBeGreaterThan(90);
    for (const [key, hash, , server] of rows) {
      expect(md5Words(key)[0]).toBe(hash);
      expect(ring.lookup(key)).toBe(server);
    }
    // VDEAAAAA hashes past the last point (0xfffcd1b5): it must wrap to the first point's server.
    expect(md5Words('VDEAAAAA')[0]).toBe(0xfffcd1b5);
  });

  it('a weight change is visible (negative control: the fixture check can fail)', () => {
    const lines = readFileSync(`${fixtures}ketama.txt`, 'utf8').split('\n');
    const ring = new KetamaRing([1, 2, 3, 4, 6].map((i, k) => ({ node: `0.0.0.${k + 1}`, weight: i })));
    let mismatches = 0;
    for (let i = 0; i < 5000; i++) if (`${i} ${ring.lookup(String(i))}` !== lines[i]) mismatches++;
    expect(mismatches).toBeGreaterThan(0);
  });
});

describe('KetamaRing reproduces the hashring package', () => {
  it('maps like hashring for random member sets and weights (compatibility: hashring)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z0-9.:-]{1,20}$/), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 30, maxLength: 30 }),
        (names, weights) => {
          const servers: Record<string, number> = {};
          names.forEach((n, i) => (servers[n] = weights[i]!));
          const theirs = new HashRingPackage(servers, 'md5', { 'max cache size': 10 });
          const ours = new KetamaRing(
            names.map((node) => ({ node, weight: servers[node]! })),
            { compatibility: 'hashring' },
          );
          for (let i = 0; i < 300; i++) {
            const key = `key:${i}`;
            if (ours.lookup(key) !== theirs.get(key)) return false;
          }
          return true;
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the two compatibility modes differ where float and double rounding differ (7 equal servers)', () => {
    const names = Array.from({ length: 7 }, (_, i) => `s${i}`);
    const lib = new KetamaRing(names);
    const hr = new KetamaRing(names, { compatibility: 'hashring' });
    // libketama: floorf(float(1/7)·40·7) = 40 groups; hashring: floor(1/7·40·7) = 39 groups.
    expect(lib.pointCount).toBe(7 * 160);
    expect(hr.pointCount).toBe(7 * 156);
    const theirs = new HashRingPackage(names);
    for (let i = 0; i < 2000; i++) expect(hr.lookup(`k${i}`)).toBe(theirs.get(`k${i}`));
  });
});
