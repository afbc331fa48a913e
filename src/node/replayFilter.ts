import { InvalidArgument } from '../scramble/errors.js';

/**
 * A Bloom filter for replay tags (issue 10, F9): fixed memory per key epoch,
 * whatever the traffic, where an exact set grows by ~69 bytes of heap per
 * packet. The price is a false-positive rate: a fresh packet is refused as a
 * replay with probability p, designed to hold at `capacity` tags:
 *
 *   bits   m = ceil(−n·ln p / (ln 2)²)           (n = capacity)
 *   hashes k = round(m/n · ln 2)                 (k = 20 for p = 1e-6: 28.8 bits = 3.6 bytes per tag)
 *   rate after i tags ≈ (1 − e^(−k·i/m))^k       (falsePositiveRate below)
 *
 * Beyond the capacity the rate rises gracefully (≈ 3e-3 at twice it for
 * p = 1e-6) and memory does not grow: a flood of valid packets costs honest
 * senders some loss, never the node its memory.
 *
 * Bit positions come from the tag by double hashing (Kirsch–Mitzenmacher) of
 * two 32-bit hashes of all its bytes. A tag is a keyed BLAKE2b output of the
 * hop's shared secret: its bits are uniform, and a sender who grinds packets
 * for chosen tags still sets at most k bits per packet, as any packet does.
 */
export interface BloomGeometry {
  /** Number of bits. */
  bits: number;
  /** Bits set per key. */
  hashes: number;
}

const LN2 = Math.LN2;
/** Positions are 32-bit hashes reduced mod the size: keep the size well inside that range. */
const MAX_BITS = 2 ** 32 - 1;

export function bloomGeometry(capacity: number, falsePositiveRate: number): BloomGeometry {
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new InvalidArgument(`Bloom capacity must be a positive integer, got ${capacity}`);
  }
  if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) {
    throw new InvalidArgument(`false-positive rate must be in (0, 1), got ${falsePositiveRate}`);
  }
  const bits = Math.ceil((-capacity * Math.log(falsePositiveRate)) / (LN2 * LN2));
  if (bits > MAX_BITS) throw new InvalidArgument(`a Bloom filter of ${bits} bits is too large`);
  const hashes = Math.max(1, Math.round((bits / capacity) * LN2));
  return { bits, hashes };
}

/** Expected false-positive rate of a filter of geometry `g` holding `inserted` distinct keys. */
export function falsePositiveRate(g: BloomGeometry, inserted: number): number {
  return (1 - Math.exp((-g.hashes * inserted) / g.bits)) ** g.hashes;
}

export class BloomFilter {
  readonly geometry: BloomGeometry;
  private readonly words: Uint32Array;

  constructor(geometry: BloomGeometry) {
    if (!Number.isSafeInteger(geometry.bits) || geometry.bits < 1 || geometry.bits > MAX_BITS) {
      throw new InvalidArgument(`Bloom size must be 1..${MAX_BITS} bits, got ${geometry.bits}`);
    }
    if (!Number.isSafeInteger(geometry.hashes) || geometry.hashes < 1 || geometry.hashes > 64) {
      throw new InvalidArgument(`Bloom hash count must be 1..64, got ${geometry.hashes}`);
    }
    this.geometry = geometry;
    this.words = new Uint32Array(Math.ceil(geometry.bits / 32));
  }

  /** Bytes of memory the bit array takes. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** Whether `key` is (probably) in the filter. */
  has(key: Uint8Array): boolean {
    return this.probe(key, false);
  }

  /** Adds `key`; returns whether it was (probably) there already. */
  add(key: Uint8Array): boolean {
    return this.probe(key, true);
  }

  private probe(key: Uint8Array, set: boolean): boolean {
    if (key.length === 0) throw new InvalidArgument('Bloom key must not be empty');
    const m = this.geometry.bits;
    const h1 = hash32(key, 0x811c9dc5) % m;
    // An odd step (mod m) that is never 0, so the k positions differ.
    const h2 = (hash32(key, 0x9747b28c) % (m - 1 || 1)) + 1;
    let pos = h1;
    let present = true;
    for (let i = 0; i < this.geometry.hashes; i++) {
      const word = pos >>> 5;
      const bit = 1 << (pos & 31);
      if (((this.words[word] as number) & bit) === 0) {
        present = false;
        if (!set) return false;
        this.words[word] = (this.words[word] as number) | bit;
      }
      pos += h2;
      if (pos >= m) pos -= m;
    }
    return present;
  }
}

/** FNV-1a over every byte, finished with murmur3's fmix32 for avalanche; unsigned 32-bit. */
function hash32(key: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
