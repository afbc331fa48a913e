import { encodeCommand, type HopCommand, isFinal } from './commands.js';
import type { CryptoBackend } from './crypto/backend.js';
import { clampedRepresentative, clampedScalarModOrder, mulModOrder } from './crypto/scalar25519.js';
import { InvalidArgument } from './errors.js';
import { ALPHA_BYTES, COMMAND_BYTES, MAC_BYTES, PACKET_VERSION, type PacketGeometry, SLOT_BYTES } from './geometry.js';
import { deriveHopKeys, type HopKeys, wipeHopKeys } from './kdf.js';
import type { Rng } from './rng.js';

/** One hop of a route as the sender sees it: the node's mix key and what it must do. */
export interface RouteHop {
  /** The node's X25519 public key for the current key epoch. */
  publicKey: Uint8Array;
  command: HopCommand;
}

export interface BuiltHeader {
  /** version || alpha || beta || gamma, geometry.headerBytes long. */
  header: Uint8Array;
  /** Lioness keys per hop, in route order. */
  payloadKeys: Uint8Array[];
}

const ZERO_NONCE = new Uint8Array(12);

function xorInto(dst: Uint8Array, src: Uint8Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] = (dst[i] as number) ^ (src[i] as number);
}

function validateRoute(geometry: PacketGeometry, route: RouteHop[]): void {
  if (route.length < 1 || route.length > geometry.maxHops) {
    throw new InvalidArgument(`route must have 1..${geometry.maxHops} hops, got ${route.length}`);
  }
  route.forEach((hop, i) => {
    if (hop.publicKey.length !== 32) throw new InvalidArgument(`route[${i}].publicKey must be 32 bytes`);
    const last = i === route.length - 1;
    if (isFinal(hop.command) !== last) {
      throw new InvalidArgument(
        last ? `route[${i}] is the last hop and needs a final command, not relay` : `route[${i}] must be a relay`,
      );
    }
  });
}

/**
 * Maps an accumulated scalar k mod ℓ to a 32-byte X25519 scalar acting as ±k (clampedRepresentative),
 * or undefined when there is none (then routeHopKeys applies the blinding scalars one X25519 at a
 * time). A parameter only so that tests can force that fallback, whose probability is ~2^−126.
 */
export type Representative = (k: bigint) => Uint8Array | undefined;

/**
 * Per-hop keys of a route, in route order, from the per-packet secret `x`: the shared secret with
 * hop i is s_i = u(x·b_0·…·b_{i−1}·pub_i) (scalars clamped as X25519 clamps them), which is what hop i
 * computes as X25519(priv_i, α_i). The product of scalars is accumulated mod ℓ (Sphinx §3.2), so
 * hop i costs one X25519 instead of i + 1. Every secret made here is wiped before return or throw,
 * except the returned keys (the caller wipes them with wipeHopKeys).
 */
export function routeHopKeys(
  crypto: CryptoBackend,
  x: Uint8Array,
  publicKeys: readonly Uint8Array[],
  representative: Representative = clampedRepresentative,
): HopKeys[] {
  const keys: HopKeys[] = [];
  /** The scalar X25519 is called with for the next hop: x itself, then a representative. */
  let base = x;
  /** Blinding scalars still to apply after `base` (only after a missing representative). */
  const pending: Uint8Array[] = [];
  let accumulated = clampedScalarModOrder(x);
  try {
    publicKeys.forEach((publicKey, i) => {
      if (i > 0) {
        const blinding = (keys[i - 1] as HopKeys).blinding;
        accumulated = mulModOrder(accumulated, clampedScalarModOrder(blinding));
        const rep = representative(accumulated);
        if (rep) {
          if (base !== x) base.fill(0);
          base = rep;
          pending.length = 0;
        } else pending.push(blinding);
      }
      let s = crypto.x25519(base, publicKey);
      try {
        for (const b of pending) {
          const next = crypto.x25519(b, s);
          s.fill(0);
          s = next;
        }
        keys.push(deriveHopKeys(crypto, s));
      } finally {
        s.fill(0);
      }
    });
    return keys;
  } catch (err) {
    for (const k of keys) wipeHopKeys(k);
    throw err;
  } finally {
    if (base !== x) base.fill(0);
  }
}

/**
 * Sphinx header construction (Danezis–Goldberg 2009, §3.2) over X25519: hop i sees
 * α_i = b_{i−1}···b_0·x·G and derives s_i = priv_i·α_i, which the sender computes as
 * (x·b_0···b_{i−1} mod ℓ)·pub_i with one X25519 per hop (routeHopKeys). The sender never computes
 * α_i for i > 0: the hops blind α themselves. Secrets (x, the shared secrets, every hop key and
 * keystream) are wiped on every exit path; the returned payload keys are copies the caller owns.
 */
export function buildHeader(crypto: CryptoBackend, geometry: PacketGeometry, route: RouteHop[], rng: Rng): BuiltHeader {
  validateRoute(geometry, route);
  const x = rng(32);
  let keys: HopKeys[] = [];
  const streams: Uint8Array[] = [];
  try {
    const alpha0 = crypto.x25519Base(x);
    keys = routeHopKeys(
      crypto,
      x,
      route.map((hop) => hop.publicKey),
    );
    return assembleHeader(crypto, geometry, route, rng, alpha0, keys, streams);
  } finally {
    x.fill(0);
    for (const k of keys) wipeHopKeys(k);
    for (const s of streams) s.fill(0);
  }
}

/** Steps 2–6 of docs/protocol.md §3 from the hop keys; keystreams go into `streams` for the caller to wipe. */
function assembleHeader(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  route: RouteHop[],
  rng: Rng,
  alpha0: Uint8Array,
  keys: HopKeys[],
  streams: Uint8Array[],
): BuiltHeader {
  const n = route.length;
  const B = geometry.betaBytes;
  for (const k of keys) streams.push(crypto.chacha20Xor(k.headerKey, ZERO_NONCE, new Uint8Array(B + SLOT_BYTES)));

  // Filler: what each hop's shift appends, pre-encrypted so that the last
  // hop's MAC covers bytes the earlier hops will have produced.
  let filler = new Uint8Array(0);
  for (let i = 1; i < n; i++) {
    const next = new Uint8Array(i * SLOT_BYTES);
    next.set(filler, 0);
    xorInto(next, (streams[i - 1] as Uint8Array).subarray(B - (i - 1) * SLOT_BYTES, B + SLOT_BYTES));
    filler = next;
  }

  // Last hop: its command, a zero MAC slot, random padding, then the filler.
  const headLen = B - (n - 1) * SLOT_BYTES;
  const beta = new Uint8Array(B);
  beta.set(encodeCommand((route[n - 1] as RouteHop).command), 0);
  beta.set(rng(headLen - SLOT_BYTES), SLOT_BYTES);
  xorInto(beta.subarray(0, headLen), streams[n - 1] as Uint8Array);
  beta.set(filler, headLen);
  let gamma = crypto.blake2b(beta, MAC_BYTES, (keys[n - 1] as HopKeys).macKey);

  let cur = beta;
  for (let i = n - 2; i >= 0; i--) {
    const b = new Uint8Array(B);
    b.set(encodeCommand((route[i] as RouteHop).command), 0);
    b.set(gamma, COMMAND_BYTES);
    b.set(cur.subarray(0, B - SLOT_BYTES), SLOT_BYTES);
    xorInto(b, streams[i] as Uint8Array);
    gamma = crypto.blake2b(b, MAC_BYTES, (keys[i] as HopKeys).macKey);
    cur = b;
  }

  const header = new Uint8Array(geometry.headerBytes);
  header[0] = PACKET_VERSION;
  header.set(alpha0, 1);
  header.set(cur, 1 + ALPHA_BYTES);
  header.set(gamma, 1 + ALPHA_BYTES + B);
  return { header, payloadKeys: keys.map((k) => k.payloadKey.slice()) };
}
