import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { CryptoFailure } from '../scramble/errors.js';
import type { PacketGeometry } from '../scramble/geometry.js';
import type { Rng } from '../scramble/rng.js';
import { openSeal, SEAL_OVERHEAD, seal } from '../scramble/sealedBox.js';
import { ByteReader, ByteWriter, bytesEqual } from './bytes.js';
import { DatagramTooLarge, MalformedFanout } from './errors.js';
import type { GroupState } from './groupState.js';
import { FANOUT_HEADER_BYTES, MAILBOX_ID_BYTES, MAX_TOKENS_PER_BUNDLE, maxC0Bytes, TOKEN_BYTES } from './sizes.js';

/**
 * P2 multicast (DESIGN section 3).
 *
 * Fan-out bundle, the body of a packet whose final command at P2 is `fanout`:
 *   version(1) = 1 | pub_G(32) | tokenCount(u8, >= 1) | tokens(64 each)
 *   | c0Length(u16) | C0 | zero padding to bodyBytes
 * token = seal(pub_CS, mailboxId(16)), each with its own ephemeral key so
 * CS cannot link the tokens of one message.
 *
 * Delivered copy, the body of a packet whose final command at CS is
 * `deliverToken` (one per token, built by P2):
 *   token(64) | payloadLength(u16) | seal(pub_G, C0) | zero padding
 * C0 is re-sealed per copy with a fresh ephemeral key, so no two copies share
 * a byte pattern that CS could use to group deliveries of one message.
 *
 * Payload CS stores for the mailbox and delivers to the target:
 *   payloadLength(u16) | seal(pub_G, C0)
 */
export const FANOUT_VERSION = 1;
const PROBE_SCALAR = new Uint8Array(32).fill(0x5a);

/** How many tokens fit one bundle next to a C0 of `c0Length` bytes (0 if C0 is too large for a copy). */
export function tokensPerPacket(geometry: PacketGeometry, c0Length: number): number {
  if (c0Length > maxC0Bytes(geometry)) return 0;
  const n = Math.floor((geometry.bodyBytes - FANOUT_HEADER_BYTES - c0Length) / TOKEN_BYTES);
  return Math.max(0, Math.min(MAX_TOKENS_PER_BUNDLE, n));
}

/**
 * Fan-out bodies for one group message: ceil(N / tokensPerPacket) bodies,
 * each at most bodyBytes (unpadded; the packet layer pads). Sender
 * bandwidth therefore grows with N / tokensPerPacket, not with N.
 * Recipients are mailbox ids (`mailboxIdOf`) at the CS whose token key is
 * `csTokenPublicKey`; the sender leaves itself out.
 */
export function buildFanoutBodies(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  groupPublicKey: Uint8Array,
  c0: Uint8Array,
  recipientMailboxIds: readonly Uint8Array[],
  csTokenPublicKey: Uint8Array,
  rng: Rng,
): Uint8Array[] {
  if (groupPublicKey.length !== 32) throw new RangeError('group public key must be 32 bytes');
  const per = tokensPerPacket(geometry, c0.length);
  if (per === 0) throw new DatagramTooLarge(`C0 of ${c0.length} bytes leaves no room for a token`);
  const bodies: Uint8Array[] = [];
  for (let start = 0; start < recipientMailboxIds.length; start += per) {
    const chunk = recipientMailboxIds.slice(start, start + per);
    const w = new ByteWriter().u8(FANOUT_VERSION).bytes(groupPublicKey).u8(chunk.length);
    for (const id of chunk) {
      if (id.length !== MAILBOX_ID_BYTES) throw new RangeError('mailbox ids are 16 bytes');
      w.bytes(seal(crypto, csTokenPublicKey, id, rng));
    }
    bodies.push(w.bytes16(c0).finish());
  }
  return bodies;
}

export interface FanoutBundle {
  readonly groupPublicKey: Uint8Array;
  readonly tokens: readonly Uint8Array[];
  readonly c0: Uint8Array;
}

/** Decodes a fan-out body (padded or not). Throws only MalformedFanout. */
export function decodeFanout(geometry: PacketGeometry, body: Uint8Array): FanoutBundle {
  if (body.length > geometry.bodyBytes)
    throw new MalformedFanout(`bundle is ${body.length} bytes; max ${geometry.bodyBytes}`);
  const r = new ByteReader(body, (m) => new MalformedFanout(m));
  const version = r.u8('version');
  if (version !== FANOUT_VERSION) throw new MalformedFanout(`unknown fan-out version ${version}`);
  const groupPublicKey = r.bytes(32, 'group public key');
  const count = r.u8('token count');
  if (count === 0) throw new MalformedFanout('bundle without tokens');
  const tokens: Uint8Array[] = [];
  for (let i = 0; i < count; i++) tokens.push(r.bytes(TOKEN_BYTES, 'token'));
  const c0 = r.bytes16('C0');
  if (c0.length > maxC0Bytes(geometry)) throw new MalformedFanout(`C0 of ${c0.length} bytes does not fit a copy`);
  if (c0.length < SEAL_OVERHEAD) throw new MalformedFanout('C0 shorter than a sealed box');
  r.endZeroPadded('bundle');
  return { groupPublicKey, tokens, c0 };
}

/**
 * P2: one delivered-copy body per token. P2 can seal to pub_G but holds no
 * member's signing key, so it can copy and re-seal C0 but never forge it.
 * Throws MalformedFanout if pub_G is unusable (a low-order point).
 */
export function fanoutCopies(crypto: CryptoBackend, bundle: FanoutBundle, rng: Rng): Uint8Array[] {
  // Probe pub_G once: a low-order key would make every re-seal readable by anyone (fixed shared secret),
  // and backends report it differently from inside a box operation.
  try {
    crypto.x25519(PROBE_SCALAR, bundle.groupPublicKey);
  } catch (err) {
    if (err instanceof CryptoFailure) throw new MalformedFanout('group public key is a low-order point');
    throw err;
  }
  return bundle.tokens.map((token) => {
    const resealed = seal(crypto, bundle.groupPublicKey, bundle.c0, rng);
    return new ByteWriter().bytes(token).bytes16(resealed).finish();
  });
}

export interface DeliveredCopy {
  readonly mailboxId: Uint8Array;
  /** u16 length | seal(pub_G, C0): what CS stores and delivers to the mailbox. */
  readonly payload: Uint8Array;
}

/** CS: opens the token of a copy body (padded or not). Throws only MalformedFanout. */
export function openDeliveredCopy(
  crypto: CryptoBackend,
  csTokenPublicKey: Uint8Array,
  csTokenSecretKey: Uint8Array,
  copyBody: Uint8Array,
): DeliveredCopy {
  return openDeliveredCopyWithKeys(crypto, [{ publicKey: csTokenPublicKey, secretKey: csTokenSecretKey }], copyBody);
}

/**
 * CS with a key ring (current and not-yet-erased token keys): the first key
 * that opens the token wins. Throws only MalformedFanout.
 */
export function openDeliveredCopyWithKeys(
  crypto: CryptoBackend,
  keys: ReadonlyArray<{ readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }>,
  copyBody: Uint8Array,
): DeliveredCopy {
  const r = new ByteReader(copyBody, (m) => new MalformedFanout(m));
  const token = r.bytes(TOKEN_BYTES, 'token');
  let mailboxId: Uint8Array | null = null;
  for (const k of keys) {
    mailboxId = openSeal(crypto, k.publicKey, k.secretKey, token);
    if (mailboxId !== null) break;
  }
  if (mailboxId === null) throw new MalformedFanout('token does not open with any CS token key');
  if (mailboxId.length !== MAILBOX_ID_BYTES) throw new MalformedFanout('token does not hold a mailbox id');
  const start = r.offset;
  const inner = r.bytes16('payload');
  if (inner.length < SEAL_OVERHEAD) throw new MalformedFanout('payload shorter than a sealed box');
  const payload = copyBody.slice(start, r.offset);
  r.endZeroPadded('copy');
  return { mailboxId, payload };
}

export interface OpenedPayload {
  /** Index of the group whose key opened it. */
  readonly index: number;
  /** C0, to give to openGroupMessage. */
  readonly c0: Uint8Array;
}

/**
 * Target: opens the outer seal of a delivered payload by trial decryption
 * over its groups (current key, and the previous one during the grace
 * period). Null when no group key opens it. Malformed framing throws
 * MalformedFanout.
 */
export function openDeliveredPayload(
  crypto: CryptoBackend,
  groups: readonly GroupState[],
  payload: Uint8Array,
  nowMs: number,
): OpenedPayload | null {
  const r = new ByteReader(payload, (m) => new MalformedFanout(m));
  const sealed = r.bytes16('payload');
  r.endZeroPadded('payload');
  for (let index = 0; index < groups.length; index++) {
    const g = groups[index] as GroupState;
    const keys = [{ publicKey: g.publicKey, secretKey: g.secretKey }];
    if (g.previous && nowMs <= g.previous.untilMs) keys.push(g.previous);
    for (const k of keys) {
      const c0 = openSeal(crypto, k.publicKey, k.secretKey, sealed);
      if (c0 !== null) return { index, c0 };
    }
  }
  return null;
}

/**
 * Mailbox ids of every member except `self`, grouped by home CS (hex of the
 * central id): tokens for different CSs are sealed to different keys, so the
 * caller builds one set of bundles per CS.
 */
export function recipientsByCentral(
  group: GroupState,
  self: Uint8Array,
  mailboxIdOf: (identityKey: Uint8Array) => Uint8Array,
): Map<string, Uint8Array[]> {
  const out = new Map<string, Uint8Array[]>();
  for (const m of group.members) {
    if (bytesEqual(m.identityKey, self)) continue;
    const k = Buffer.from(m.centralId).toString('hex');
    const list = out.get(k) ?? [];
    list.push(mailboxIdOf(m.identityKey));
    out.set(k, list);
  }
  return out;
}
