import type { HopCommand } from '../scramble/commands.js';
import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { CryptoFailure } from '../scramble/errors.js';
import type { PacketGeometry } from '../scramble/geometry.js';
import type { RouteHop } from '../scramble/header.js';
import { createPacket } from '../scramble/packet.js';
import type { Rng } from '../scramble/rng.js';
import { type IndexedDirectory, mixKeyFor, type NodeDescriptor } from './directory.js';
import { nodeIdOf } from './ids.js';
import { epochAt } from './mixKeys.js';
import { type Peer, parsePeer } from './transport.js';

export class NoRoute extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoRoute';
  }
}

/** Uniform integer in [0, n) from the CSPRNG (rejection sampling, no modulo bias). */
export function randomIndex(crypto: CryptoBackend, n: number): number {
  if (n <= 1) return 0;
  const limit = Math.floor(0x100000000 / n) * n;
  for (;;) {
    const b = crypto.randomBytes(4);
    const v = ((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number);
    const u = v >>> 0;
    if (u < limit) return u % n;
  }
}

/** An exponential sample with the given mean, from the CSPRNG (53+ bits of uniform). */
export function exponentialSample(crypto: CryptoBackend, mean: number): number {
  const b = crypto.randomBytes(7);
  let v = 0;
  for (const x of b) v = v * 256 + x;
  const u = (v + 1) / 2 ** 56; // (0, 1]
  return -mean * Math.log(u);
}

/** Exponential inter-arrival time in ms for rate `perSecond`: a Poisson process (cover, loops, mix loops). */
export function poissonGapMs(crypto: CryptoBackend, perSecond: number): number {
  return exponentialSample(crypto, 1000 / perSecond);
}

/** Exponential delay with the given mean (Loopix): memoryless, so a mix's output order says nothing. */
export function exponentialDelayMs(crypto: CryptoBackend, meanMs: number, maxMs: number): number {
  if (meanMs <= 0) return 0;
  return Math.min(maxMs, Math.round(exponentialSample(crypto, meanMs)));
}

/** `count` proxies chosen at random, distinct while the directory has enough. */
export function pickProxies(
  crypto: CryptoBackend,
  dir: IndexedDirectory,
  count: number,
  epoch: number,
): NodeDescriptor[] {
  const usable = dir.proxies.filter((p) => mixKeyFor(p, epoch));
  if (usable.length === 0) throw new NoRoute('the directory lists no proxy with a key for this epoch');
  const pool = [...usable];
  const out: NodeDescriptor[] = [];
  while (out.length < count) {
    if (pool.length === 0) pool.push(...usable);
    out.push(pool.splice(randomIndex(crypto, pool.length), 1)[0] as NodeDescriptor);
  }
  return out;
}

export function currentEpoch(dir: IndexedDirectory, nowMs: number): number {
  return epochAt({ epochMs: dir.params.epochSeconds * 1000, graceMs: 0 }, nowMs);
}

/**
 * A route through `mixes` ending at `last` with `final`: every relay gets an
 * independent exponential delay. Returns the route and the first hop's address.
 */
export function buildRoute(
  crypto: CryptoBackend,
  dir: IndexedDirectory,
  mixes: NodeDescriptor[],
  last: NodeDescriptor,
  final: HopCommand,
  epoch: number,
): { route: RouteHop[]; firstHop: NodeDescriptor; delays: number[] } {
  const nodes = [...mixes, last];
  const delays: number[] = [];
  const route = nodes.map((n, i): RouteHop => {
    const publicKey = mixKeyFor(n, epoch);
    if (!publicKey) throw new NoRoute(`node ${n.address} has no key for epoch ${epoch}`);
    if (i === nodes.length - 1) return { publicKey, command: final };
    const delayMs = exponentialDelayMs(crypto, dir.params.meanDelayMs, dir.params.maxDelayMs);
    delays.push(delayMs);
    return {
      publicKey,
      command: { kind: 'relay', next: nodeIdOf(crypto, (nodes[i + 1] as NodeDescriptor).identityKey), delayMs },
    };
  });
  return { route, firstHop: nodes[0] as NodeDescriptor, delays };
}

export interface RoutedPacket {
  packet: Uint8Array;
  /** Where to send it: the first hop's address. */
  to: Peer;
  /** The relay delays chosen, in route order. */
  delays: number[];
}

/**
 * The one way every node builds a packet of its own (sources, P2's copies,
 * mix loops): a route through `mixes` to `last` (buildRoute), the Sphinx
 * packet carrying `body`, and the first hop's address. NoRoute when a node
 * lacks a key for `epoch`, has an unusable address or an unusable mix key:
 * never any other error for anything the directory says.
 */
export function routedPacket(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  dir: IndexedDirectory,
  mixes: NodeDescriptor[],
  last: NodeDescriptor,
  final: HopCommand,
  body: Uint8Array,
  epoch: number,
  rng: Rng,
): RoutedPacket {
  const { route, firstHop, delays } = buildRoute(crypto, dir, mixes, last, final, epoch);
  const to = parsePeer(firstHop.address);
  if (!to) throw new NoRoute(`first hop has an unusable address ${firstHop.address}`);
  try {
    return { packet: createPacket(crypto, geometry, route, body, rng), to, delays };
  } catch (err) {
    // A low-order mix key that slipped past directory validation (F1): no route, never a crash.
    if (err instanceof CryptoFailure) throw new NoRoute(`a mix key on the route is unusable: ${err.message}`);
    throw err;
  }
}
