import { encodeCommand, type HopCommand, isFinal } from './commands.js';
import type { CryptoBackend } from './crypto/backend.js';
import { InvalidArgument } from './errors.js';
import { ALPHA_BYTES, COMMAND_BYTES, MAC_BYTES, PACKET_VERSION, type PacketGeometry, SLOT_BYTES } from './geometry.js';
import { deriveHopKeys, type HopKeys } from './kdf.js';
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
 * Sphinx header construction (Danezis–Goldberg 2009, §3.2) over X25519 with
 * clamped blinding scalars: hop i sees alpha_i = b_{i-1}···b_0·x·G and derives
 * s_i = priv_i·alpha_i, which the sender computes as b_{i-1}···b_0·x·pub_i.
 */
export function buildHeader(crypto: CryptoBackend, geometry: PacketGeometry, route: RouteHop[], rng: Rng): BuiltHeader {
  validateRoute(geometry, route);
  const n = route.length;
  const B = geometry.betaBytes;
  const x = rng(32);
  const alpha0 = crypto.x25519Base(x);

  const keys: HopKeys[] = [];
  for (let i = 0; i < n; i++) {
    let s = crypto.x25519(x, (route[i] as RouteHop).publicKey);
    for (let j = 0; j < i; j++) s = crypto.x25519((keys[j] as HopKeys).blinding, s);
    keys.push(deriveHopKeys(crypto, s));
  }
  x.fill(0);

  const streams = keys.map((k) => crypto.chacha20Xor(k.headerKey, ZERO_NONCE, new Uint8Array(B + SLOT_BYTES)));

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
