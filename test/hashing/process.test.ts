import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as src from '../../src/hashing/index.js';

// `npm test` builds first, so the compiled module exists; a child process imports it and computes
// the same placements from scratch. Agreement means no state leaks from one process to another
// (no Math.random, no insertion-order or locale dependence) and the built package (what users install) equals the source.
const dist = fileURLToPath(new URL('../../dist/pkg/hashing.mjs', import.meta.url));

function build(h: typeof src) {
  const nodes = Array.from({ length: 37 }, (_, i) => `10.1.${i}.7:6379`);
  const weighted = nodes.map((node, i) => ({ node, weight: 1 + (i % 4) }));
  const memento = new h.MementoHash(nodes);
  for (const gone of [nodes[3]!, nodes[30]!, nodes[11]!]) memento.remove(gone);
  const bounded = new h.BoundedLoadRing(nodes, { epsilon: 0.1 });
  for (let i = 0; i < 500; i++) bounded.acquire(`session:${i}`);
  return [
    new h.KetamaRing(weighted),
    new h.HashRing(weighted),
    bounded,
    new h.Rendezvous(weighted),
    new h.JumpHash(nodes),
    memento,
    new h.Maglev(weighted, { tableSize: 5003 }),
    new h.SlotTable(weighted),
  ];
}

function placements(h: typeof src): Record<string, string[]> {
  const keys = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? `user:${i}` : `ключ-${i}-😀`));
  return Object.fromEntries(build(h).map((p) => [p.algorithm, keys.map((k) => p.lookup(k))]));
}

describe('determinism across processes', () => {
  it('a child node process running the compiled module computes the same placements', () => {
    expect(existsSync(dist), 'run `npm run build` before the tests').toBe(true);
    const script = `
      const h = await import(${JSON.stringify(dist)});
      ${build.toString()}
      ${placements.toString()}
      process.stdout.write(JSON.stringify(placements(h)));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const theirs = JSON.parse(out) as Record<string, string[]>;
    const ours = placements(src);
    expect(Object.keys(theirs).sort()).toEqual(Object.keys(ours).sort());
    for (const algorithm of Object.keys(ours)) expect(theirs[algorithm], algorithm).toEqual(ours[algorithm]);
    // Negative control: the placements are not trivially equal across algorithms or members.
    expect(ours.ring).not.toEqual(ours.rendezvous);
  });
});
