/**
 * Shared fixtures for the scramble tests (not a test file: tap only runs *.test.ts).
 */
import {
  type CryptoBackend,
  getCrypto,
  type HopCommand,
  MalformedPacket,
  type PacketGeometry,
  type ReplayCheck,
  type Rng,
  type RouteHop,
  seededRng,
  type UnwrapResult,
  unwrapPacket,
} from '../../src/scramble/index.js';

export const sodium: CryptoBackend = getCrypto('sodium');
export const noble: CryptoBackend = getCrypto('noble');
export const BACKENDS: readonly CryptoBackend[] = [sodium, noble];

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function unhex(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error(`not lowercase hex: ${s.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isAllZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/** A deterministic Rng seeded by a label, for tests that must be reproducible. */
export function labelRng(crypto: CryptoBackend, label: string): Rng {
  return seededRng(crypto, new TextEncoder().encode(label));
}

/** A uniform-enough integer in 0..n-1 (n < 2^32) from `rng`. */
export function randomInt(rng: Rng, n: number): number {
  const b = rng(4);
  return (((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16)) + (b[3] as number) * 2 ** 24) % n;
}

/** A copy of `bytes` with bit `bit` (0 = LSB of byte 0) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}

export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    let x = (a[i] as number) ^ (b[i] as number);
    while (x) {
      d += x & 1;
      x >>= 1;
    }
  }
  return d;
}

export interface MixNode {
  id: Uint8Array;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export function makeNodes(crypto: CryptoBackend, rng: Rng, n: number): MixNode[] {
  const nodes: MixNode[] = [];
  for (let i = 0; i < n; i++) {
    const privateKey = rng(32);
    nodes.push({ id: rng(16), privateKey, publicKey: crypto.x25519Base(privateKey) });
  }
  return nodes;
}

/** nodes[0..n-2] relay to the next node (with `delays[i]`, default i * 10 + 1), nodes[n-1] runs `final`. */
export function routeThrough(nodes: MixNode[], final: HopCommand, delays?: number[]): RouteHop[] {
  return nodes.map((node, i) => ({
    publicKey: node.publicKey,
    command:
      i < nodes.length - 1
        ? { kind: 'relay', next: (nodes[i + 1] as MixNode).id, delayMs: delays?.[i] ?? i * 10 + 1 }
        : final,
  }));
}

/** Unwraps at every node in order; returns each hop's input packet and result. */
export function walk(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  nodes: MixNode[],
  packet: Uint8Array,
  replay?: ReplayCheck,
): { inputs: Uint8Array[]; results: UnwrapResult[] } {
  const inputs: Uint8Array[] = [];
  const results: UnwrapResult[] = [];
  let cur = packet;
  for (const node of nodes) {
    inputs.push(cur);
    const r = unwrapPacket(crypto, geometry, node.privateKey, cur, replay);
    results.push(r);
    if (r.kind !== 'forward') break;
    cur = r.packet;
  }
  return { inputs, results };
}

/**
 * What `fn` threw, as a string: the MalformedPacket reason, `'returned'` when it did not
 * throw, or `'<Name>: message'` for any other error, so an assertion shows the culprit.
 */
export function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'returned';
  } catch (err) {
    if (err instanceof MalformedPacket) return err.reason;
    if (err instanceof Error) return `${err.name}: ${err.message}`;
    return `non-error thrown: ${String(err)}`;
  }
}

/** The error `fn` threw, or undefined. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Body padded the way padBody does it, minus the tag: body || zeros, `length` bytes. */
export function paddedBody(body: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(body, 0);
  return out;
}

/** X25519 u-coordinates of small order (and encodings equal to them mod p), little-endian. */
export const LOW_ORDER_POINTS: readonly Uint8Array[] = (() => {
  const p = (1n << 255n) - 19n;
  const le = (x: bigint): Uint8Array => {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) {
      out[i] = Number(x & 0xffn);
      x >>= 8n;
    }
    return out;
  };
  // 0 (order 2), 1 and p-1 (order 4), the two order-8 u-coordinates, and p, p+1 (non-canonical 0 and 1).
  const order8a = 325606250916557431795983626356110631294008115727848805560023387167927233504n;
  const order8b = 39382357235489614581723060781553021112529911719440698176882885853963445705823n;
  return [0n, 1n, p - 1n, order8a, order8b, p, p + 1n].map(le);
})();
