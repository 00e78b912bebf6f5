import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import xxhashWasm from 'xxhash-wasm';
import { xxh32 as nativeXxh32 } from '@node-rs/xxhash';
import {
  fastRange,
  fmix32,
  fnv1a32,
  jumpBucket,
  md5Words,
  murmur3,
  murmur3i32,
  xxh32,
} from '../../src/hashing/index.js';

const require = createRequire(import.meta.url);
const murmurhash = require('murmurhash') as { v3(key: Uint8Array, seed?: number): number };
const { jump } = require('jump-gouache') as { jump(key: number, buckets: number): number };

const utf8 = (s: string) => new TextEncoder().encode(s);
// Full-unicode strings including lone surrogates, which must hash like TextEncoder's U+FFFD.
const anyString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const seed = fc.integer({ min: 0, max: 0xffffffff });

describe('hash functions agree with independent implementations', () => {
  it('murmur3 equals the murmurhash package on UTF-8 bytes', () => {
    fc.assert(
      fc.property(anyString, seed, (s, k) => murmur3(s, k) === murmurhash.v3(utf8(s), k)),
      {
        numRuns: 2000,
      },
    );
  });

  it('murmur3i32 is the same 32 bits as the murmurhash package, signed', () => {
    fc.assert(
      fc.property(anyString, seed, (s, k) => murmur3i32(s, k) === (murmurhash.v3(utf8(s), k) | 0)),
      { numRuns: 2000 },
    );
    // Every tail length, with a non-ASCII unit in the body, in the tail, or nowhere.
    for (let len = 0; len < 12; len++) {
      for (const at of [-1, 0, len - 1]) {
        const s = Array.from({ length: len }, (_, i) => (i === at ? 'é' : String.fromCharCode(97 + i))).join(
          '',
        );
        expect(murmur3i32(s)).toBe(murmurhash.v3(utf8(s), 0) | 0);
      }
    }
  });

  it('xxh32 equals xxhash-wasm and the native @node-rs/xxhash', async () => {
    const wasm = await xxhashWasm();
    fc.assert(
      fc.property(
        fc.oneof(anyString, fc.string({ minLength: 16, maxLength: 100 })),
        seed,
        (s, k) => xxh32(s, k) === wasm.h32Raw(utf8(s), k) && xxh32(s, k) === nativeXxh32(utf8(s), k),
      ),
      { numRuns: 2000 },
    );
  });

  it('md5Words equals node:crypto MD5 read little-endian, across block boundaries', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.string({ minLength: 50, maxLength: 140 })), (s) => {
        const d = createHash('md5').update(s).digest();
        const w = md5Words(s);
        return [0, 1, 2, 3].every((j) => w[j] === d.readUInt32LE(4 * j));
      }),
      { numRuns: 1000 },
    );
  });

  it('FNV-1a matches the published test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('fastRange equals floor(h · range / 2^32) exactly (BigInt reference)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 2 ** 31 }),
        (h, range) => {
          return fastRange(h, range) === Number((BigInt(h) * BigInt(range)) >> 32n);
        },
      ),
      { numRuns: 5000 },
    );
    expect(fastRange(0xffffffff, 65537)).toBe(65536);
    expect(fastRange(0, 65537)).toBe(0);
  });

  it('fmix32 is a bijection on a sample (no two inputs collide)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100000; i++) seen.add(fmix32(i));
    expect(seen.size).toBe(100000);
  });
});

describe('jumpBucket', () => {
  it('equals the jump-gouache port of Guava for 32-bit keys', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 100000 }), (key, n) => {
        return jumpBucket(key, 0, n) === jump(key, n) && jumpBucket(key | 0, 0, n) === jump(key, n);
      }),
      { numRuns: 500 },
    );
  });

  it("equals the paper's algorithm in 64-bit integers (BigInt reference) for any 64-bit key", () => {
    const reference = (key: bigint, buckets: number): number => {
      let b = -1n;
      let j = 0n;
      while (j < BigInt(buckets)) {
        b = j;
        key = (key * 2862933555777941757n + 1n) & 0xffffffffffffffffn;
        j = BigInt(Math.floor(Number(b + 1n) * (2 ** 31 / Number((key >> 33n) + 1n))));
      }
      return Number(b);
    };
    const word = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(word, word, fc.integer({ min: 1, max: 2 ** 31 - 1 }), (lo, hi, n) => {
        const expected = reference((BigInt(hi) << 32n) | BigInt(lo), n);
        return jumpBucket(lo, hi, n) === expected && jumpBucket(lo | 0, hi | 0, n) === expected;
      }),
      { numRuns: 3000 },
    );
    // A key whose low word wraps to 0 after the + 1 (the carry into the high word): lo · C ≡ −1
    // (mod 2^32), lo = −C⁻¹, with the inverse of the odd multiplier by Newton's iteration.
    let inverse = 0x87b0b0fd;
    for (let i = 0; i < 5; i++) inverse = Math.imul(inverse, 2 - Math.imul(0x87b0b0fd, inverse));
    const wraps = Math.imul(-1, inverse) >>> 0;
    expect(Math.imul(wraps, 0x87b0b0fd)).toBe(-1);
    for (const hi of [0, 7, 0xffffffff]) {
      expect(jumpBucket(wraps, hi, 1000)).toBe(reference((BigInt(hi) << 32n) | BigInt(wraps), 1000));
    }
    expect(jumpBucket(0, 0, 0)).toBe(-1);
  });

  it('moves a key only to the new bucket when a bucket is added (monotone)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 5000 }),
        (lo, hi, n) => {
          const a = jumpBucket(lo, hi, n);
          const b = jumpBucket(lo, hi, n + 1);
          return a === b || b === n;
        },
      ),
      { numRuns: 2000 },
    );
  });
});
