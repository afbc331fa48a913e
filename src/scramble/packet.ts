import { decodeCommand, type HopCommand } from './commands.js';
import type { CryptoBackend } from './crypto/backend.js';
import { CryptoFailure, InvalidArgument, MalformedPacket, ReplayedPacket } from './errors.js';
import {
  ALPHA_BYTES,
  COMMAND_BYTES,
  MAC_BYTES,
  PACKET_VERSION,
  PAYLOAD_TAG_BYTES,
  type PacketGeometry,
  SLOT_BYTES,
} from './geometry.js';
import { buildHeader, type RouteHop } from './header.js';
import { deriveHopKeys, type HopKeys, wipeHopKeys } from './kdf.js';
import { lionessDecryptInPlace, lionessEncryptInPlace } from './lioness.js';
import type { Rng } from './rng.js';

export type { RouteHop } from './header.js';

const ZERO_NONCE = new Uint8Array(12);

/** Pads `body` with zeros to the geometry's body size; upper layers frame their own lengths. */
export function padBody(geometry: PacketGeometry, body: Uint8Array): Uint8Array {
  if (body.length > geometry.bodyBytes) {
    throw new InvalidArgument(`body is ${body.length} bytes; at most ${geometry.bodyBytes} fit in one packet`);
  }
  const padded = new Uint8Array(geometry.payloadBytes);
  padded.set(body, PAYLOAD_TAG_BYTES);
  return padded;
}

/**
 * Builds a packet for `route` carrying `body` (at most geometry.bodyBytes).
 * The payload is zero tag || body, wrapped in one Lioness layer per hop.
 */
export function createPacket(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  route: RouteHop[],
  body: Uint8Array,
  rng: Rng,
): Uint8Array {
  // Body checked first: once the header exists, its payload keys must be wiped on every path.
  const payload = padBody(geometry, body);
  const { header, payloadKeys } = buildHeader(crypto, geometry, route, rng);
  try {
    for (let i = payloadKeys.length - 1; i >= 0; i--)
      lionessEncryptInPlace(crypto, payloadKeys[i] as Uint8Array, payload);
  } finally {
    for (const k of payloadKeys) k.fill(0);
  }
  const packet = new Uint8Array(geometry.packetSize);
  packet.set(header, 0);
  packet.set(payload, geometry.headerBytes);
  return packet;
}

export type UnwrapResult = { replayTag: Uint8Array } & (
  | { kind: 'forward'; next: Uint8Array; delayMs: number; packet: Uint8Array }
  | { kind: 'fanout'; body: Uint8Array }
  | { kind: 'deliver'; mailbox: Uint8Array; body: Uint8Array }
  | { kind: 'deliverToken'; body: Uint8Array }
  | { kind: 'surbReply'; mailbox: Uint8Array; surbId: Uint8Array; payload: Uint8Array }
  | { kind: 'drop' }
);

/**
 * Called after the MAC verifies and before any further work: returns true when
 * the tag was already seen in this key epoch (and records it otherwise). The
 * array is a copy the callee may keep (it is also the result's `replayTag`).
 */
export type ReplayCheck = (replayTag: Uint8Array) => boolean;

function checkZeroTag(crypto: CryptoBackend, payload: Uint8Array): void {
  if (!crypto.equal(payload.subarray(0, PAYLOAD_TAG_BYTES), new Uint8Array(PAYLOAD_TAG_BYTES))) {
    throw new MalformedPacket('bad_payload_tag', 'payload was modified in transit');
  }
}

/** u < 2^255 - 19, little-endian. */
function isCanonicalU(u: Uint8Array): boolean {
  if ((u[31] as number) !== 0x7f) return (u[31] as number) < 0x7f;
  for (let i = 30; i > 0; i--) if (u[i] !== 0xff) return true;
  return (u[0] as number) < 0xed;
}

/**
 * Peels one layer with this hop's mix private key. Every failure caused by the
 * bytes is a MalformedPacket (ReplayedPacket for replays); nothing else escapes.
 */
export function unwrapPacket(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  privateKey: Uint8Array,
  packet: Uint8Array,
  replay?: ReplayCheck,
): UnwrapResult {
  if (packet.length !== geometry.packetSize) {
    throw new MalformedPacket('bad_length', `packet is ${packet.length} bytes, expected ${geometry.packetSize}`);
  }
  if (packet[0] !== PACKET_VERSION) throw new MalformedPacket('bad_version', `unknown packet version ${packet[0]}`);
  const B = geometry.betaBytes;
  const alpha = packet.subarray(1, 1 + ALPHA_BYTES);
  const beta = packet.subarray(1 + ALPHA_BYTES, 1 + ALPHA_BYTES + B);
  const gamma = packet.subarray(1 + ALPHA_BYTES + B, geometry.headerBytes);

  // X25519 ignores bit 255 of u and reduces u mod p, so a non-canonical alpha (top bit set, or u >= p)
  // would give the same shared secret: a flipped bit would pass the MAC. Only canonical u is accepted.
  if (!isCanonicalU(alpha)) throw new MalformedPacket('bad_point', 'alpha is not a canonical X25519 u-coordinate');
  let shared: Uint8Array;
  try {
    shared = crypto.x25519(privateKey, alpha);
  } catch (err) {
    if (err instanceof CryptoFailure) throw new MalformedPacket('bad_point', 'alpha is a low-order point');
    throw err;
  }
  let keys: HopKeys | undefined;
  try {
    keys = deriveHopKeys(crypto, shared);
    return peel(crypto, geometry, packet, alpha, beta, gamma, keys, replay);
  } finally {
    // Per-hop secrets die here on every path, the drops included (katzenpost's sphinx.go defers the same).
    shared.fill(0);
    if (keys) wipeHopKeys(keys);
  }
}

/** Steps 6–11 of docs/protocol.md §4 with this hop's keys (which the caller wipes). */
function peel(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  packet: Uint8Array,
  alpha: Uint8Array,
  beta: Uint8Array,
  gamma: Uint8Array,
  keys: HopKeys,
  replay: ReplayCheck | undefined,
): UnwrapResult {
  const B = geometry.betaBytes;
  if (!crypto.equal(crypto.blake2b(beta, MAC_BYTES, keys.macKey), gamma)) {
    throw new MalformedPacket('bad_mac', 'header MAC does not verify');
  }
  // A copy: the keys are wiped when unwrapPacket returns, and the callback may keep the array.
  const replayTag = keys.replayTag.slice();
  if (replay?.(replayTag)) throw new ReplayedPacket();

  // beta || zero slot, decrypted in place: the shifted routing info plus this hop's slot.
  const routing = new Uint8Array(B + SLOT_BYTES);
  routing.set(beta, 0);
  crypto.chacha20Xor(keys.headerKey, ZERO_NONCE, routing, routing);
  const command: HopCommand = decodeCommand(routing.subarray(0, COMMAND_BYTES));
  // The payload is decrypted in place in the buffer it leaves in: the next
  // packet for a relay, a payload-sized array of its own otherwise.
  const out = new Uint8Array(command.kind === 'relay' ? geometry.packetSize : geometry.payloadBytes);
  const payload = out.subarray(out.length - geometry.payloadBytes);
  payload.set(packet.subarray(geometry.headerBytes));
  lionessDecryptInPlace(crypto, keys.payloadKey, payload);

  switch (command.kind) {
    case 'relay': {
      let nextAlpha: Uint8Array;
      try {
        nextAlpha = crypto.x25519(keys.blinding, alpha);
      } catch (err) {
        if (err instanceof CryptoFailure) throw new MalformedPacket('bad_point', 'blinded alpha is low-order');
        throw err;
      }
      out[0] = PACKET_VERSION;
      out.set(nextAlpha, 1);
      out.set(routing.subarray(SLOT_BYTES, SLOT_BYTES + B), 1 + ALPHA_BYTES);
      out.set(routing.subarray(COMMAND_BYTES, SLOT_BYTES), 1 + ALPHA_BYTES + B);
      return { kind: 'forward', next: command.next, delayMs: command.delayMs, packet: out, replayTag };
    }
    case 'surbReply':
      // The SURB creator removes the layers and checks the tag (src/scramble/surb.ts).
      return { kind: 'surbReply', mailbox: command.mailbox, surbId: command.surbId, payload, replayTag };
    case 'fanout':
      checkZeroTag(crypto, payload);
      return { kind: 'fanout', body: payload.subarray(PAYLOAD_TAG_BYTES), replayTag };
    case 'deliver':
      checkZeroTag(crypto, payload);
      return { kind: 'deliver', mailbox: command.mailbox, body: payload.subarray(PAYLOAD_TAG_BYTES), replayTag };
    case 'deliverToken':
      checkZeroTag(crypto, payload);
      return { kind: 'deliverToken', body: payload.subarray(PAYLOAD_TAG_BYTES), replayTag };
    case 'drop':
      checkZeroTag(crypto, payload);
      return { kind: 'drop', replayTag };
  }
}
