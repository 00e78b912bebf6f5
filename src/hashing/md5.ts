/**
 * MD5 over the UTF-8 bytes of a string, written by hand so that the ketama ring's lookup path
 * allocates nothing: `crypto.createHash('md5')` creates a Hash object, a Buffer and a digest per
 * call, which costs more than the hash itself for short keys. MD5 is used here only because
 * libketama used it (compatibility), never for security.
 * @see https://www.rfc-editor.org/rfc/rfc1321
 */
import { encodeUtf8, scratchBytes } from './hash.js';

const state = new Int32Array(4);
let message = new Uint8Array(128);

// One 64-byte block, unrolled: the 64 steps of RFC 1321 section 3.4 with their constants
// floor(abs(sin(i + 1)) * 2^32) inlined. A loop over constant tables ran 3x slower in V8.
function compress(m: Uint8Array, p: number): void {
  const x0 = m[p + 0]! | (m[p + 1]! << 8) | (m[p + 2]! << 16) | (m[p + 3]! << 24);
  const x1 = m[p + 4]! | (m[p + 5]! << 8) | (m[p + 6]! << 16) | (m[p + 7]! << 24);
  const x2 = m[p + 8]! | (m[p + 9]! << 8) | (m[p + 10]! << 16) | (m[p + 11]! << 24);
  const x3 = m[p + 12]! | (m[p + 13]! << 8) | (m[p + 14]! << 16) | (m[p + 15]! << 24);
  const x4 = m[p + 16]! | (m[p + 17]! << 8) | (m[p + 18]! << 16) | (m[p + 19]! << 24);
  const x5 = m[p + 20]! | (m[p + 21]! << 8) | (m[p + 22]! << 16) | (m[p + 23]! << 24);
  const x6 = m[p + 24]! | (m[p + 25]! << 8) | (m[p + 26]! << 16) | (m[p + 27]! << 24);
  const x7 = m[p + 28]! | (m[p + 29]! << 8) | (m[p + 30]! << 16) | (m[p + 31]! << 24);
  const x8 = m[p + 32]! | (m[p + 33]! << 8) | (m[p + 34]! << 16) | (m[p + 35]! << 24);
  const x9 = m[p + 36]! | (m[p + 37]! << 8) | (m[p + 38]! << 16) | (m[p + 39]! << 24);
  const x10 = m[p + 40]! | (m[p + 41]! << 8) | (m[p + 42]! << 16) | (m[p + 43]! << 24);
  const x11 = m[p + 44]! | (m[p + 45]! << 8) | (m[p + 46]! << 16) | (m[p + 47]! << 24);
  const x12 = m[p + 48]! | (m[p + 49]! << 8) | (m[p + 50]! << 16) | (m[p + 51]! << 24);
  const x13 = m[p + 52]! | (m[p + 53]! << 8) | (m[p + 54]! << 16) | (m[p + 55]! << 24);
  const x14 = m[p + 56]! | (m[p + 57]! << 8) | (m[p + 58]! << 16) | (m[p + 59]! << 24);
  const x15 = m[p + 60]! | (m[p + 61]! << 8) | (m[p + 62]! << 16) | (m[p + 63]! << 24);
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let t: number;
  t = (a + ((b & c) | (~b & d)) + 0xd76aa478 + x0) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + 0xe8c7b756 + x1) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + 0x242070db + x2) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + 0xc1bdceee + x3) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((b & c) | (~b & d)) + 0xf57c0faf + x4) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + 0x4787c62a + x5) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + 0xa8304613 + x6) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + 0xfd469501 + x7) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((b & c) | (~b & d)) + 0x698098d8 + x8) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + 0x8b44f7af + x9) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + 0xffff5bb1 + x10) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + 0x895cd7be + x11) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((b & c) | (~b & d)) + 0x6b901122 + x12) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + 0xfd987193 + x13) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + 0xa679438e + x14) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + 0x49b40821 + x15) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((d & b) | (~d & c)) + 0xf61e2562 + x1) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + 0xc040b340 + x6) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + 0x265e5a51 + x11) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + 0xe9b6c7aa + x0) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + ((d & b) | (~d & c)) + 0xd62f105d + x5) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + 0x02441453 + x10) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + 0xd8a1e681 + x15) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + 0xe7d3fbc8 + x4) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + ((d & b) | (~d & c)) + 0x21e1cde6 + x9) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + 0xc33707d6 + x14) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + 0xf4d50d87 + x3) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + 0x455a14ed + x8) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + ((d & b) | (~d & c)) + 0xa9e3e905 + x13) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + 0xfcefa3f8 + x2) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + 0x676f02d9 + x7) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + 0x8d2a4c8a + x12) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + (b ^ c ^ d) + 0xfffa3942 + x5) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + 0x8771f681 + x8) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + 0x6d9d6122 + x11) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + 0xfde5380c + x14) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (b ^ c ^ d) + 0xa4beea44 + x1) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + 0x4bdecfa9 + x4) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + 0xf6bb4b60 + x7) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + 0xbebfbc70 + x10) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (b ^ c ^ d) + 0x289b7ec6 + x13) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + 0xeaa127fa + x0) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + 0xd4ef3085 + x3) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + 0x04881d05 + x6) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (b ^ c ^ d) + 0xd9d4d039 + x9) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + 0xe6db99e5 + x12) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + 0x1fa27cf8 + x15) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + 0xc4ac5665 + x2) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (c ^ (b | ~d)) + 0xf4292244 + x0) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + 0x432aff97 + x7) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + 0xab9423a7 + x14) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + 0xfc93a039 + x5) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  t = (a + (c ^ (b | ~d)) + 0x655b59c3 + x12) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + 0x8f0ccc92 + x3) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + 0xffeff47d + x10) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + 0x85845dd1 + x1) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  t = (a + (c ^ (b | ~d)) + 0x6fa87e4f + x8) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + 0xfe2ce6e0 + x15) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + 0xa3014314 + x6) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + 0x4e0811a1 + x13) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  t = (a + (c ^ (b | ~d)) + 0xf7537e82 + x4) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + 0xbd3af235 + x11) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + 0x2ad7d2bb + x2) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + 0xeb86d391 + x9) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;

  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
}

/**
 * MD5 of the UTF-8 bytes of `key`, returned as the four little-endian 32-bit words of the digest
 * (word j is bytes 4j..4j+3 read little-endian, which is exactly how libketama reads its points).
 * The returned array is shared and overwritten by the next call: copy what you keep.
 * @example md5Words('')[0] // 0xd98c1dd4 (digest d41d8cd9...)
 */
export function md5Words(key: string): Uint32Array {
  const len = encodeUtf8(key);
  const bytes = scratchBytes();
  // Padding: 0x80, zeros to 56 mod 64, then the bit length (little-endian, 64-bit).
  const total = ((len + 8) >>> 6) * 64 + 64;
  if (total > message.length) message = new Uint8Array(total * 2);
  const m = message;
  // A plain loop: `set(bytes.subarray(...))` would allocate a view on every lookup.
  for (let i = 0; i < len; i++) m[i] = bytes[i]!;
  m[len] = 0x80;
  m.fill(0, len + 1, total);
  const bits = len * 8;
  m[total - 8] = bits & 0xff;
  m[total - 7] = (bits >>> 8) & 0xff;
  m[total - 6] = (bits >>> 16) & 0xff;
  m[total - 5] = (bits >>> 24) & 0xff;
  const high = Math.floor(len / 0x20000000);
  m[total - 4] = high & 0xff;
  m[total - 3] = (high >>> 8) & 0xff;
  state[0] = 0x67452301;
  state[1] = 0xefcdab89 | 0;
  state[2] = 0x98badcfe | 0;
  state[3] = 0x10325476;
  for (let off = 0; off < total; off += 64) compress(m, off);
  out[0] = state[0]!;
  out[1] = state[1]!;
  out[2] = state[2]!;
  out[3] = state[3]!;
  return out;
}
const out = new Uint32Array(4);
