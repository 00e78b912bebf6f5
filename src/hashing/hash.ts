/**
 * 32-bit hash functions for short string keys, written by hand so that the library has no runtime
 * dependency and the lookup path allocates nothing.
 *
 * Every function hashes the UTF-8 bytes of the string, so the values agree with the reference C
 * implementations and with other languages. Strings made only of ASCII (the common case for keys
 * such as `user:42`) are read straight from `charCodeAt`; other strings are first encoded into a
 * scratch buffer that is reused between calls (it grows once for the longest key seen).
 *
 * The default, {@link murmur3}, was chosen by measurement against xxh32 (this file), FNV-1a (this
 * file), the `murmurhash` package, `xxhash-wasm` and the native `@node-rs/xxhash` (see the "hash
 * functions" table in bench/README.md). For keys of 8–24 characters the hand-written JS hashes beat
 * the WebAssembly and native bindings by 2–5×, because crossing into wasm or C++ costs more than
 * hashing a short string. murmur3 and FNV-1a are within the noise of each other on our shared
 * machine (each won one full run); murmur3 is the default because its finaliser avalanches every
 * input bit, while FNV-1a's last character passes through a single multiply.
 */

let scratch = new Uint8Array(256);
const imul = Math.imul;

/**
 * Encodes `key` as UTF-8 into the shared scratch buffer and returns the byte length. @internal Lone
 * surrogates become U+FFFD, as `TextEncoder` does, so the bytes match what other runtimes hash.
 */
export function encodeUtf8(key: string): number {
  // 3 bytes per UTF-16 code unit is the worst case (a surrogate pair is 2 units for 4 bytes).
  if (key.length * 3 > scratch.length) scratch = new Uint8Array(Math.max(key.length * 3, scratch.length * 2));
  const buf = scratch;
  let p = 0;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c < 0x80) {
      buf[p++] = c;
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < key.length ? key.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 63);
          buf[p++] = 0x80 | ((c >> 6) & 63);
          buf[p++] = 0x80 | (c & 63);
          continue;
        }
        c = 0xfffd;
      }
      buf[p++] = 0xe0 | (c >> 12);
      buf[p++] = 0x80 | ((c >> 6) & 63);
      buf[p++] = 0x80 | (c & 63);
    }
  }
  return p;
}

/** The scratch buffer filled by the last {@link encodeUtf8} call (valid until the next call). @internal */
export function scratchBytes(): Uint8Array {
  return scratch;
}

/**
 * MurmurHash3 x86_32's finalizer: a bijection on 32-bit integers with full avalanche. Used to
 * derive many independent-looking values from one hash (ring points, rendezvous scores).
 * @see https://github.com/aappleby/smhasher/blob/master/src/MurmurHash3.cpp
 * @example fmix32(1) // 1364076727
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3 x86_32 of `len` bytes, as a signed 32-bit integer. */
/**
 * {@link fmix32} as a signed 32-bit integer: the same bits, but a value V8 never boxes when the
 * call is not inlined (lookups call it on their hot path). @internal
 */
export function fmix32i(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function murmur3Bytes(bytes: Uint8Array, len: number, seed: number): number {
  let h = seed | 0;
  const end = len & ~3;
  let i = 0;
  for (; i < end; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (len & 3) {
    case 3:
      k ^= bytes[i + 2]! << 16;
    // falls through
    case 2:
      k ^= bytes[i + 1]! << 8;
    // falls through
    case 1:
      k ^= bytes[i]!;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The keys with a code unit above 0x7f: hashed from their UTF-8 bytes, out of the inlined path. */
function murmur3Utf8(key: string, seed: number): number {
  return murmur3Bytes(scratch, encodeUtf8(key), seed);
}

/**
 * MurmurHash3 x86_32 of the UTF-8 bytes of `key`, as a signed 32-bit integer: the same bits as
 * {@link murmur3} (`murmur3i32(k) === (murmur3(k) | 0)`). This is the hash every lookup of
 * tenure/hashing starts from, and what `lookupHash` takes.
 *
 * Why signed: V8 keeps a signed 32-bit integer as a small integer (no allocation) wherever it
 * goes, while an unsigned value above 2^31 − 1 that leaves optimised code is boxed as an 8-byte
 * heap number. Why this shape: keys are read 4 code units at a time with `charCodeAt`, OR-ing the
 * units together so that one test at the end (not one per block) detects a non-ASCII key, which
 * is then redone from its UTF-8 bytes in a separate function; the ASCII path stays small enough for
 * V8 to inline into the caller (448 bytes of bytecode, under V8's 460). The measured speed-up is in bench/README.md ("hashing").
 * @param seed - 32-bit seed. @default 0
 * @example murmur3i32('hello') // 613153351
 */
export function murmur3i32(key: string, seed = 0): number {
  // Written for a small bytecode (V8 inlines functions below 460 bytes of it): `imul` instead of
  // `Math.imul`, and the tail read by a loop whose block is mixed even when empty (a zero block
  // leaves h unchanged, as the reference's missing tail does).
  const len = key.length;
  let h = seed | 0;
  let units = 0;
  let i = 0;
  for (const end = len & ~3; i < end; i += 4) {
    const c0 = key.charCodeAt(i);
    const c1 = key.charCodeAt(i + 1);
    const c2 = key.charCodeAt(i + 2);
    const c3 = key.charCodeAt(i + 3);
    units |= c0 | c1 | c2 | c3;
    let k = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
    k = imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (; i < len; i++) {
    const c = key.charCodeAt(i);
    units |= c;
    k |= c << ((i & 3) << 3);
  }
  k = imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= imul(k, 0x1b873593);
  // Any non-ASCII unit changes the byte stream: the whole key is redone from its UTF-8 bytes.
  if (units > 0x7f) return murmur3Utf8(key, seed);
  h ^= len;
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * MurmurHash3 x86_32 of the UTF-8 bytes of `key` (Austin Appleby, public domain algorithm), as
 * the reference implementation prints it: an unsigned 32-bit integer. Allocation-free when inlined;
 * hot paths use {@link murmur3i32}, which returns the same bits as a signed integer that V8 never
 * boxes.
 * @param seed - 32-bit seed. @default 0 (the reference implementation's usual seed)
 * @see https://github.com/aappleby/smhasher/wiki/MurmurHash3
 * @example murmur3('hello') // 613153351
 */
export function murmur3(key: string, seed = 0): number {
  return murmur3i32(key, seed) >>> 0;
}

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function xxh32Round(acc: number, lane: number): number {
  acc = (acc + Math.imul(lane, P2)) | 0;
  return Math.imul(rotl(acc, 13), P1);
}

/**
 * xxHash32 of the UTF-8 bytes of `key` (Yann Collet's XXH32, re-implemented). Kept as a measured
 * alternative to {@link murmur3}; it wins on long keys, where its four lanes pay off.
 * @param seed - 32-bit seed. @default 0
 * @see https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md
 * @example xxh32('hello') // 4211111929
 */
export function xxh32(key: string, seed = 0): number {
  let len = 0;
  let bytes: Uint8Array | undefined;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) > 0x7f) {
      len = encodeUtf8(key);
      bytes = scratch;
      break;
    }
  }
  if (bytes === undefined) len = key.length;
  // Reads byte j of the input without materialising ASCII strings.
  const at = bytes === undefined ? (j: number) => key.charCodeAt(j) : (j: number) => bytes[j]!;
  const word = (j: number) => at(j) | (at(j + 1) << 8) | (at(j + 2) << 16) | (at(j + 3) << 24);
  let h: number;
  let i = 0;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    const limit = len - 16;
    while (i <= limit) {
      v1 = xxh32Round(v1, word(i));
      v2 = xxh32Round(v2, word(i + 4));
      v3 = xxh32Round(v3, word(i + 8));
      v4 = xxh32Round(v4, word(i + 12));
      i += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + len) | 0;
  for (; i + 4 <= len; i += 4) {
    h = (h + Math.imul(word(i), P3)) | 0;
    h = Math.imul(rotl(h, 17), P4);
  }
  for (; i < len; i++) {
    h = (h + Math.imul(at(i), P5)) | 0;
    h = Math.imul(rotl(h, 11), P1);
  }
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * FNV-1a 32-bit of the UTF-8 bytes of `key`. Measured as a baseline: the simplest hash, but its
 * weak avalanche on sequential keys (`user:1`, `user:2`) is why it is not the default.
 * @see http://www.isthe.com/chongo/tech/comp/fnv/index.html
 * @example fnv1a32('a') // 3826002220
 */
export function fnv1a32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) {
      const len = encodeUtf8(key);
      h = 0x811c9dc5;
      for (let j = 0; j < len; j++) h = Math.imul(h ^ scratch[j]!, 0x01000193);
      return h >>> 0;
    }
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Maps a 32-bit hash onto 0..range−1 as ⌊h · range / 2^32⌋ (Lemire's multiply-shift reduction,
 * https://lemire.me/blog/2016/06/27/a-fast-alternative-to-the-modulo-reduction/). Uses the high bits
 * of the hash and avoids `%` on values above 2^31, which V8 computes as a floating-point fmod call.
 * Split into 16-bit halves so every product is exact in a double.
 * @param range - an integer in 1..2^31.
 * @example fastRange(0xffffffff, 10) // 9
 */
export function fastRange(h: number, range: number): number {
  const high = (h >>> 16) * range + Math.floor(((h & 0xffff) * range) / 65536);
  return Math.floor(high / 65536);
}

/** A 32-bit string hash: `(key, seed) => uint32`. */
export type HashFunction = (key: string, seed?: number) => number;
