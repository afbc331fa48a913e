import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { ByteReader, ByteWriter, concatBytes, label } from './bytes.js';
import { DuplicateMessage, MessageTooFarAhead } from './errors.js';

/**
 * Per-sender hash ratchet (Signal's "sender keys"): forward secrecy inside a
 * group epoch. Each sender owns a chain; every member holds every sender's
 * chain at the position it has reached. Per message:
 *
 *   messageKey     = BLAKE2b-256(key = chainKey, msg = 0x01)
 *   nextChainKey   = BLAKE2b-256(key = chainKey, msg = 0x02)
 *
 * (Signal uses HMAC-SHA256 with the same constants; keyed BLAKE2b is a PRF,
 * RFC 7693 section 2.5, and is what the rest of mixd's KDFs use.) The chain
 * key only moves forward and a used message key is dropped, so whoever
 * captures a member's state after message k holds chain keys at positions
 * > k and cannot derive the keys of messages <= k. Out-of-order arrival
 * (mix delays reorder by design) is handled by a capped window of skipped
 * message keys, each deleted once used; a replay finds its key gone.
 *
 * Initial chain keys of an epoch come from a random seed in the rekey:
 *   chainKey_0(S) = BLAKE2b-256(key = seed, msg = "mixd/v1/group/chain\0" || groupId || epoch u32 || S)
 * Every member derives all chains, then erases the seed: a seed kept for the
 * whole epoch would re-derive every chain from position 0 and defeat the
 * ratchet. Pure: no clocks, no randomness, values are immutable.
 */
export const CHAIN_KEY_BYTES = 32;
export const MESSAGE_KEY_BYTES = 32;
/** How far past a chain's position a message index may be (messages lost or delayed in between). */
export const MAX_SKIP = 512;
/** Skipped message keys kept per sender; beyond it the oldest are dropped (those messages become unreadable). */
export const MAX_SKIPPED_KEYS = 512;
/** Indexes are u32 on the wire; a sender that reaches the end must wait for the next epoch. */
export const MAX_CHAIN_INDEX = 0xffffffff;

const MESSAGE_CONSTANT = Uint8Array.of(0x01);
const CHAIN_CONSTANT = Uint8Array.of(0x02);
const SEED_LABEL = label('chain');

/** A sender's own chain: the key of the next message it sends. */
export interface SendChain {
  readonly chainKey: Uint8Array;
  readonly index: number;
}

/** What a receiver holds for one sender: next expected index and keys of skipped (not yet seen) messages. */
export interface ReceiveChain {
  readonly chainKey: Uint8Array;
  readonly index: number;
  /** index -> message key, at most MAX_SKIPPED_KEYS, every index < `index`. */
  readonly skipped: ReadonlyMap<number, Uint8Array>;
}

export function initialChainKey(
  crypto: CryptoBackend,
  seed: Uint8Array,
  groupId: Uint8Array,
  epoch: number,
  memberKey: Uint8Array,
): Uint8Array {
  if (seed.length !== 32) throw new RangeError('chain seed must be 32 bytes');
  const msg = concatBytes(SEED_LABEL, groupId, new ByteWriter().u32(epoch).finish(), memberKey);
  return crypto.blake2b(msg, CHAIN_KEY_BYTES, seed);
}

function step(crypto: CryptoBackend, chainKey: Uint8Array): { messageKey: Uint8Array; chainKey: Uint8Array } {
  return {
    messageKey: crypto.blake2b(MESSAGE_CONSTANT, MESSAGE_KEY_BYTES, chainKey),
    chainKey: crypto.blake2b(CHAIN_CONSTANT, CHAIN_KEY_BYTES, chainKey),
  };
}

/** The key for the next own message and the advanced chain. The caller uses the key once and wipes it. */
export function nextSendKey(
  crypto: CryptoBackend,
  chain: SendChain,
): { messageKey: Uint8Array; index: number; chain: SendChain } {
  if (chain.index >= MAX_CHAIN_INDEX) throw new RangeError('sender chain exhausted: the group needs a rekey');
  const s = step(crypto, chain.chainKey);
  return { messageKey: s.messageKey, index: chain.index, chain: { chainKey: s.chainKey, index: chain.index + 1 } };
}

export function receiveChainFrom(chainKey: Uint8Array, index: number): ReceiveChain {
  return { chainKey, index, skipped: new Map() };
}

/**
 * The message key for `index` of this sender and the chain to keep if (and
 * only if) the message then authenticates: the input is not modified, so a
 * forged or corrupted message leaves the receiver's state as it was.
 * Throws DuplicateMessage for an index already used (or older than the
 * skipped keys kept) and MessageTooFarAhead beyond the skip window.
 */
export function receiveKey(
  crypto: CryptoBackend,
  chain: ReceiveChain,
  index: number,
): { messageKey: Uint8Array; chain: ReceiveChain } {
  if (!Number.isInteger(index) || index < 0 || index > MAX_CHAIN_INDEX) {
    throw new DuplicateMessage(`message index ${index} is out of range`);
  }
  if (index < chain.index) {
    const key = chain.skipped.get(index);
    if (!key) throw new DuplicateMessage(`message ${index} of this sender was already read, or its key expired`);
    const skipped = new Map(chain.skipped);
    skipped.delete(index);
    return { messageKey: key, chain: { ...chain, skipped } };
  }
  if (index - chain.index > MAX_SKIP) {
    throw new MessageTooFarAhead(
      `message ${index} is ${index - chain.index} ahead of this sender's chain (max ${MAX_SKIP})`,
    );
  }
  const skipped = new Map(chain.skipped);
  let chainKey = chain.chainKey;
  for (let i = chain.index; i < index; i++) {
    const s = step(crypto, chainKey);
    skipped.set(i, s.messageKey);
    chainKey = s.chainKey;
  }
  // Keep the newest skipped keys: the oldest are the least likely to still arrive.
  if (skipped.size > MAX_SKIPPED_KEYS) {
    const drop = [...skipped.keys()].sort((a, b) => a - b).slice(0, skipped.size - MAX_SKIPPED_KEYS);
    for (const i of drop) skipped.delete(i);
  }
  const s = step(crypto, chainKey);
  return { messageKey: s.messageKey, chain: { chainKey: s.chainKey, index: index + 1, skipped } };
}

// ---- serialization (groups.json, invites) ----------------------------------

/** chainKey(32) | index u32 | skippedCount u16 | (index u32 | messageKey(32)) each. */
export function encodeReceiveChain(chain: ReceiveChain): Uint8Array {
  const w = new ByteWriter().bytes(chain.chainKey).u32(chain.index).u16(chain.skipped.size);
  for (const [i, k] of [...chain.skipped].sort((a, b) => a[0] - b[0])) w.u32(i).bytes(k);
  return w.finish();
}

export function readReceiveChain(r: ByteReader, fail: (m: string) => Error): ReceiveChain {
  const chainKey = r.bytes(CHAIN_KEY_BYTES, 'chain key');
  const index = r.u32('chain index');
  const count = r.u16('skipped count');
  if (count > MAX_SKIPPED_KEYS) throw fail(`${count} skipped keys; at most ${MAX_SKIPPED_KEYS}`);
  const skipped = new Map<number, Uint8Array>();
  for (let n = 0; n < count; n++) {
    const i = r.u32('skipped index');
    if (i >= index || skipped.has(i)) throw fail('skipped key index is not below the chain index, or repeated');
    skipped.set(i, r.bytes(MESSAGE_KEY_BYTES, 'skipped key'));
  }
  return { chainKey, index, skipped };
}

export function decodeReceiveChain(bytes: Uint8Array, fail: (m: string) => Error): ReceiveChain {
  const r = new ByteReader(bytes, fail);
  const chain = readReceiveChain(r, fail);
  r.end('chain');
  return chain;
}
