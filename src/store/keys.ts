/**
 * Key order and comparisons shared by the in-process backends, so that memory and SQLite order
 * and compare exactly as etcd does: keys by their UTF-8 bytes, values bytewise.
 */
import type { Compare, KeyValue } from './types.js';

/**
 * Orders two strings as their UTF-8 encodings would be ordered, without encoding them.
 * JavaScript's `<` compares UTF-16 code units, which puts astral characters (surrogates,
 * 0xD800–0xDFFF) before U+E000–U+FFFF; UTF-8 (code point) order puts them after.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** Bytewise comparison of two byte arrays. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** Whether a key matches a watch or range selector. */
export function keyMatches(key: string, selector: string, prefix: boolean): boolean {
  return prefix ? key.startsWith(selector) : key === selector;
}

/** Evaluates one transaction compare against the current state of its key. */
export function evaluateCompare(kv: KeyValue | undefined, c: Compare, value?: Uint8Array): boolean {
  let order: number;
  switch (c.target) {
    case 'value':
      if (kv === undefined) return false;
      order = compareBytes(kv.value, value!);
      break;
    case 'version':
      order = (kv?.version ?? 0) - c.value;
      break;
    case 'createRevision':
      order = (kv?.createRevision ?? 0) - c.value;
      break;
    case 'modRevision':
      order = (kv?.modRevision ?? 0) - c.value;
      break;
    case 'lease':
      order = (kv?.lease ?? null) === (c.value ?? null) ? 0 : 1;
      break;
  }
  switch (c.op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}

/** The event form of a deleted key. */
export function deletedKv(key: string, revision: number): KeyValue {
  return { key, value: EMPTY, createRevision: 0, modRevision: revision, version: 0, lease: null };
}

const EMPTY = new Uint8Array(0);
