/**
 * Shared fuzzing helpers for the parsers of network bytes outside the Sphinx and group layers
 * (not a test file: tap only runs *.test.ts).
 *
 * Inputs come from a seeded generator so that a failure is reproducible: set FUZZ_SEED to explore
 * other seeds. A failure report carries the hex of the offending input.
 */
import type { Test } from 'tap';
import { MalformedMessage } from '../../src/node/codec.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { seededRng } from '../../src/scramble/rng.js';

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20240601);

export interface FuzzGen {
  /** Integer in [0, n). */
  int(n: number): number;
  bytes(n: number): Uint8Array;
  pick<T>(xs: readonly T[]): T;
}

/** mulberry32 for small integers, ChaCha20 (seededRng) for bulk bytes; both seeded by `label` and FUZZ_SEED. */
export function fuzzGen(label: string): FuzzGen {
  let a = FUZZ_SEED >>> 0;
  for (const ch of label) a = (Math.imul(a ^ (ch.codePointAt(0) as number), 0x9e3779b1) + 1) >>> 0;
  const bytes = seededRng(getCrypto('sodium'), new TextEncoder().encode(`fuzz ${label} ${FUZZ_SEED}`));
  const int = (n: number): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
  return { int, bytes, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] as T };
}

export const VARIANTS = ['random', 'headed', 'truncate', 'mutate', 'multi', 'extend', 'splice'] as const;
export type Variant = (typeof VARIANTS)[number];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * One hostile input derived from the pool of valid encodings:
 *   random    random bytes (0..maxRandom)
 *   headed    the first 1..12 bytes of a valid encoding, then random bytes (gets past the header checks)
 *   truncate  a strict prefix of a valid encoding
 *   mutate    one byte replaced by a random value
 *   multi     2..6 bytes replaced
 *   extend    1..24 random (or zero) bytes appended
 *   splice    the head of one valid encoding joined to the tail of another (length fields disagree)
 */
export function variantOf(g: FuzzGen, pool: readonly Uint8Array[], kind: Variant, maxRandom = 256): Uint8Array {
  const valid = g.pick(pool);
  switch (kind) {
    case 'random':
      return g.bytes(g.int(maxRandom + 1));
    case 'headed':
      return concat(valid.subarray(0, 1 + g.int(Math.min(12, valid.length))), g.bytes(g.int(maxRandom + 1)));
    case 'truncate':
      return valid.slice(0, g.int(valid.length));
    case 'mutate': {
      const out = valid.slice();
      if (out.length) out[g.int(out.length)] = g.int(256);
      return out;
    }
    case 'multi': {
      const out = valid.slice();
      const n = 2 + g.int(5);
      for (let i = 0; i < n && out.length; i++) out[g.int(out.length)] = g.int(256);
      return out;
    }
    case 'extend': {
      const n = 1 + g.int(24);
      return concat(valid, g.int(4) === 0 ? new Uint8Array(n) : g.bytes(n));
    }
    case 'splice': {
      const other = g.pick(pool);
      return concat(valid.subarray(0, g.int(valid.length + 1)), other.subarray(g.int(other.length + 1)));
    }
  }
}

export interface FuzzStats {
  total: number;
  accepted: number;
  rejected: number;
  byVariant: Record<Variant, { accepted: number; rejected: number }>;
  reasons: Record<string, number>;
}

/**
 * Feeds `total` hostile inputs to `decode`. Each must either decode to a value that `check`
 * accepts (check returns null, or a description of what is wrong), or throw MalformedMessage.
 * Anything else is recorded and reported with the input's hex (the first few only).
 */
export function fuzzDecoder<T>(
  t: Test,
  opts: {
    label: string;
    pool: readonly Uint8Array[];
    total: number;
    maxRandom?: number;
    decode: (input: Uint8Array) => T;
    check: (decoded: T, input: Uint8Array) => string | null;
  },
): FuzzStats {
  const g = fuzzGen(opts.label);
  const stats: FuzzStats = {
    total: 0,
    accepted: 0,
    rejected: 0,
    byVariant: Object.fromEntries(VARIANTS.map((v) => [v, { accepted: 0, rejected: 0 }])) as FuzzStats['byVariant'],
    reasons: {},
  };
  const failures: string[] = [];
  for (let i = 0; i < opts.total; i++) {
    const kind = VARIANTS[i % VARIANTS.length] as Variant;
    const input = variantOf(g, opts.pool, kind, opts.maxRandom);
    stats.total++;
    let decoded: T;
    try {
      decoded = opts.decode(input);
    } catch (err) {
      if (err instanceof MalformedMessage) {
        stats.rejected++;
        stats.byVariant[kind].rejected++;
        stats.reasons[err.reason] = (stats.reasons[err.reason] ?? 0) + 1;
      } else if (failures.length < 5) {
        failures.push(`${kind} input ${Buffer.from(input).toString('hex')} threw ${String(err)}`);
      }
      continue;
    }
    const problem = opts.check(decoded, input);
    if (problem === null) {
      stats.accepted++;
      stats.byVariant[kind].accepted++;
    } else if (failures.length < 5) {
      failures.push(`${kind} input ${Buffer.from(input).toString('hex')} decoded but ${problem}`);
    }
  }
  t.same(failures, [], `${opts.label}: ${opts.total} hostile inputs, only well-formed results or MalformedMessage`);
  t.equal(stats.accepted + stats.rejected, stats.total, `${opts.label}: every input accounted for`);
  return stats;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

export function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Runs `fn` and returns the MalformedMessage reason it throws; fails the test on anything else. */
export function malformedReason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MalformedMessage) return err.reason;
    return `not MalformedMessage: ${String(err)}`;
  }
  return 'no error';
}
