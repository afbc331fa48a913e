import type { CryptoBackend } from './crypto/backend.js';
import { InvalidArgument, MalformedPacket } from './errors.js';
import { NODE_ID_BYTES, PAYLOAD_TAG_BYTES, type PacketGeometry } from './geometry.js';
import { buildHeader, type RouteHop } from './header.js';
import { LIONESS_KEY_BYTES, lionessDecrypt, lionessEncrypt } from './lioness.js';
import { padBody } from './packet.js';
import type { Rng } from './rng.js';

/**
 * Single-use reply block. The creator keeps `SurbSecret`; the replier gets
 * `Surb` and can send one packet back along a route it cannot see.
 *
 * Wire form of a Surb: firstHop(16) || replyKey(128) || header(headerBytes).
 */
export interface Surb {
  firstHop: Uint8Array;
  replyKey: Uint8Array;
  header: Uint8Array;
}

export interface SurbSecret {
  surbId: Uint8Array;
  replyKey: Uint8Array;
  payloadKeys: Uint8Array[];
}

/**
 * `route` must end with a `surbReply` command naming the creator's mailbox and a
 * fresh surbId; `firstHop` is the node id of route[0], where the replier sends.
 */
export function createSurb(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  firstHop: Uint8Array,
  route: RouteHop[],
  rng: Rng,
): { surb: Surb; secret: SurbSecret } {
  const last = route[route.length - 1];
  if (last?.command.kind !== 'surbReply') throw new InvalidArgument('a SURB route must end in surbReply');
  if (firstHop.length !== NODE_ID_BYTES) throw new InvalidArgument('firstHop must be a 16-byte node id');
  const { header, payloadKeys } = buildHeader(crypto, geometry, route, rng);
  const replyKey = rng(LIONESS_KEY_BYTES);
  return {
    surb: { firstHop: firstHop.slice(), replyKey, header },
    secret: { surbId: last.command.surbId.slice(), replyKey: replyKey.slice(), payloadKeys },
  };
}

export function surbBytes(geometry: PacketGeometry): number {
  return NODE_ID_BYTES + LIONESS_KEY_BYTES + geometry.headerBytes;
}

export function encodeSurb(surb: Surb): Uint8Array {
  const out = new Uint8Array(NODE_ID_BYTES + LIONESS_KEY_BYTES + surb.header.length);
  out.set(surb.firstHop, 0);
  out.set(surb.replyKey, NODE_ID_BYTES);
  out.set(surb.header, NODE_ID_BYTES + LIONESS_KEY_BYTES);
  return out;
}

export function decodeSurb(geometry: PacketGeometry, bytes: Uint8Array): Surb {
  if (bytes.length !== surbBytes(geometry)) {
    throw new MalformedPacket('bad_length', `SURB is ${bytes.length} bytes, expected ${surbBytes(geometry)}`);
  }
  return {
    firstHop: bytes.slice(0, NODE_ID_BYTES),
    replyKey: bytes.slice(NODE_ID_BYTES, NODE_ID_BYTES + LIONESS_KEY_BYTES),
    header: bytes.slice(NODE_ID_BYTES + LIONESS_KEY_BYTES),
  };
}

/** The replier's side: a full packet to send to `surb.firstHop`. */
export function useSurb(crypto: CryptoBackend, geometry: PacketGeometry, surb: Surb, body: Uint8Array): Uint8Array {
  const payload = lionessEncrypt(crypto, surb.replyKey, padBody(geometry, body));
  const packet = new Uint8Array(geometry.packetSize);
  packet.set(surb.header, 0);
  packet.set(payload, geometry.headerBytes);
  return packet;
}

/**
 * The creator's side: undo every hop's Lioness decryption (last hop first),
 * then the reply key, and check the zero tag.
 */
export function openSurbReply(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  secret: SurbSecret,
  payload: Uint8Array,
): Uint8Array {
  if (payload.length !== geometry.payloadBytes) {
    throw new MalformedPacket('bad_length', 'SURB reply payload has the wrong length');
  }
  let p = payload;
  for (let i = secret.payloadKeys.length - 1; i >= 0; i--)
    p = lionessEncrypt(crypto, secret.payloadKeys[i] as Uint8Array, p);
  p = lionessDecrypt(crypto, secret.replyKey, p);
  if (!crypto.equal(p.subarray(0, PAYLOAD_TAG_BYTES), new Uint8Array(PAYLOAD_TAG_BYTES))) {
    throw new MalformedPacket('bad_payload_tag', 'SURB reply was modified in transit');
  }
  return p.subarray(PAYLOAD_TAG_BYTES);
}

/**
 * Zeroes the keys of a SURB secret. For the creator once the reply has been opened or the SURB has
 * expired: a single-use block's keys serve no further purpose, and kept keys would let whoever
 * later reads the process memory open a recorded reply.
 */
export function wipeSurbSecret(secret: SurbSecret): void {
  secret.replyKey.fill(0);
  for (const k of secret.payloadKeys) k.fill(0);
}
